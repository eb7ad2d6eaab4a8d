"""Separation quality and speed on mixtures whose true stems are known.

How it is measured, on two sets of 20 s mixtures whose stems are exact and whose mixture is their sum:

* "embedded" (the product's own music): 12 songs from `EmbeddedEngine` (kind="song"), one per genre, at
  tempos from 72 to 174 bpm, with sung vocals from the singing module and the engine's own mixing (reverb,
  panning, mastering). Stems vocals/drums/bass as rendered, keys+lead -> other. The engine renders up to
  32 s (longer for slow songs whose first verse does not fit) and we keep the 20 s window that starts
  one second before the singing does, so every case has vocals. Cached as 24-bit FLAC under
  benchmarks/out/separation-embedded/.
* "fluidsynth": 12 arrangements written as one MIDI file per stem with pretty_midi and rendered by the
  `fluidsynth` command line with FluidR3_GM; vocals are a wordless GM choir/voice line, centred.
  Cached under benchmarks/out/separation/.

Each method separates the mixture; per stem we report the plain SDR, 10*log10(|s|^2 / |s - s_hat|^2), and
SI-SDR (scale-invariant), over the whole stereo stem, plus the trivial baseline (mixture / 4) and the ideal
ratio mask (Wiener masks from the true stems on the default STFT: the ceiling of any masking method there).
Speed is seconds of audio separated per wall-clock second, in this process, with every method run on the
same case back to back so that other load on the machine hits all of them alike; the 1-minute load
average is printed before and after each table.

Run: .venv/bin/python benchmarks/separation.py [--sets embedded,fluidsynth] [--cases 12] [--seconds 20]
     [--methods centre,harmonic,...] [--quiet]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

from songforge.engines.separation import separate
from songforge.engines.separation.classical import STEMS, ideal_ratio_masks

SR = 44100
SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
OUT = Path(__file__).resolve().parent / "out" / "separation"
OUT_EMBEDDED = Path(__file__).resolve().parent / "out" / "separation-embedded"


@dataclass(frozen=True)
class Genre:
    name: str
    bpm: int
    drums: str
    bass_program: int
    keys_program: int
    lead_program: int
    vocal_program: int
    minor: bool


GENRES = [
    Genre("rock", 120, "rock", 34, 0, 29, 52, False),
    Genre("pop", 100, "four", 33, 4, 25, 53, False),
    Genre("ballad", 72, "half", 33, 0, 48, 52, True),
    Genre("funk", 108, "funk", 36, 16, 56, 53, False),
    Genre("edm", 128, "four", 38, 88, 80, 54, True),
    Genre("hiphop", 90, "hiphop", 38, 4, 65, 53, True),
    Genre("country", 140, "rock", 33, 25, 22, 52, False),
    Genre("jazz", 150, "swing", 32, 4, 65, 53, False),
    Genre("metal", 160, "rock", 34, 30, 29, 52, True),
    Genre("synthpop", 118, "four", 38, 81, 80, 54, False),
    Genre("soul", 84, "half", 33, 16, 61, 53, True),
    Genre("reggae", 76, "hiphop", 33, 0, 26, 52, False),
]

PROGRESSIONS_MAJOR = [[0, 5, 3, 4], [0, 4, 5, 3], [0, 3, 4, 4], [5, 3, 0, 4]]
PROGRESSIONS_MINOR = [[0, 5, 2, 6], [0, 3, 4, 4], [0, 6, 5, 4], [0, 5, 3, 4]]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 11]


def _inst(program: int, pan: int, *, drum: bool = False) -> pretty_midi.Instrument:
    inst = pretty_midi.Instrument(program=program, is_drum=drum)
    inst.control_changes.append(pretty_midi.ControlChange(10, pan, 0.0))
    inst.control_changes.append(pretty_midi.ControlChange(7, 110, 0.0))
    return inst


def _drums(style: str, beat: float, bars: int, rng: np.random.Generator) -> pretty_midi.Instrument:
    inst = _inst(0, 64, drum=True)

    def hit(pitch: int, t: float, vel: int = 100) -> None:
        v = int(np.clip(vel + rng.integers(-10, 10), 30, 127))
        inst.notes.append(pretty_midi.Note(v, pitch, t, t + 0.1))

    for bar in range(bars):
        t0 = bar * 4 * beat
        for step in range(8):
            t = t0 + step * beat / 2
            if style == "swing" and step % 2:
                t += beat / 6
            hat = 46 if style in ("four", "funk") and step % 2 else 42
            hit(51 if style == "swing" else hat, t, 80 if step % 2 else 95)
        kicks = {"rock": [0, 2.5], "four": [0, 1, 2, 3], "half": [0], "funk": [0, 0.75, 2.5],
                 "hiphop": [0, 1.75, 2.5], "swing": [0, 2]}[style]
        snares = {"half": [2], "swing": [1, 3]}.get(style, [1, 3])
        for k in kicks:
            hit(36, t0 + k * beat, 115)
        for s in snares:
            hit(38 if style != "hiphop" else 40, t0 + s * beat, 110)
        if bar % 4 == 3:
            for i in range(4):
                hit([48, 47, 45, 43][i], t0 + (3 + i / 4) * beat, 100)
        if bar % 4 == 0:
            hit(49, t0, 100)
    return inst


def arrangement(genre: Genre, seed: int, seconds: float) -> dict[str, pretty_midi.PrettyMIDI]:
    rng = np.random.default_rng(seed)
    beat = 60.0 / genre.bpm
    bars = max(2, int(np.ceil(seconds / (4 * beat))))
    root = 48 + int(rng.integers(0, 12))
    scale = MINOR if genre.minor else MAJOR
    progression = (PROGRESSIONS_MINOR if genre.minor else PROGRESSIONS_MAJOR)[int(rng.integers(0, 4))]

    def degree(d: int, octave: int = 0) -> int:
        return root + scale[d % 7] + 12 * (d // 7 + octave)

    bass, keys = _inst(genre.bass_program, 64), _inst(genre.keys_program, 36)
    lead, vocal = _inst(genre.lead_program, 92), _inst(genre.vocal_program, 64)
    for bar in range(bars):
        t0 = bar * 4 * beat
        chord = progression[bar % 4]
        # bass: root/fifth pattern, genre-dependent rhythm
        pattern = [0, 1.5, 2, 3] if genre.drums in ("funk", "hiphop") else [0, 1, 2, 3]
        for i, b in enumerate(pattern):
            pitch = degree(chord) - 12 + (7 if i == 2 and rng.random() < 0.5 else 0)
            bass.notes.append(pretty_midi.Note(100, pitch, t0 + b * beat, t0 + (b + 0.9) * beat))
        # keys: sustained triads, re-struck on beats 1 and 3
        for b in (0, 2):
            for off in (0, 2, 4):
                start, end = t0 + b * beat, t0 + (b + 1.95) * beat
                keys.notes.append(pretty_midi.Note(70, degree(chord + off), start, end))
    # vocal phrases (two bars singing, then a bar and a half rest) and lead answers in the rests
    t = 0.0
    phrase_len = 8 * beat
    while t < bars * 4 * beat - beat:
        d = int(rng.integers(2, 7))
        s = t
        while s < t + phrase_len - 0.5 * beat:
            dur = beat * float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
            d = int(np.clip(d + rng.integers(-2, 3), 0, 11))
            vocal.notes.append(pretty_midi.Note(105, degree(d, 1), s, s + dur * 0.95))
            s += dur
        rest_start = t + phrase_len
        s = rest_start
        while s < rest_start + 5 * beat:
            dur = beat * float(rng.choice([0.5, 0.5, 1.0]))
            lead.notes.append(pretty_midi.Note(85, degree(int(rng.integers(0, 10)), 1), s, s + dur * 0.9))
            s += dur
        t += 14 * beat
    parts = {"drums": _drums(genre.drums, beat, bars, rng), "bass": bass, "keys": keys, "lead": lead,
             "vocals": vocal}
    midis = {}
    for name, inst in parts.items():
        pm = pretty_midi.PrettyMIDI(initial_tempo=genre.bpm)
        pm.instruments.append(inst)
        midis[name] = pm
    return midis


def render(midi: pretty_midi.PrettyMIDI, path: Path, seconds: float) -> np.ndarray:
    if not path.exists():
        mid = path.with_suffix(".mid")
        midi.write(str(mid))
        subprocess.run(
            ["fluidsynth", "-ni", "-g", "0.6", "-r", str(SR), "-o", "synth.dynamic-sample-loading=1",
             "-F", str(path), str(SF2), str(mid)],
            check=True, capture_output=True,
        )
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == SR
    n = int(seconds * SR)
    audio = audio[:n]
    return np.pad(audio, ((0, n - len(audio)), (0, 0)))


def build_case(index: int, seconds: float) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    genre = GENRES[index % len(GENRES)]
    seed = 1000 + index
    folder = OUT / f"{index:02d}-{genre.name}-{seconds:g}s"
    folder.mkdir(parents=True, exist_ok=True)
    midis = arrangement(genre, seed, seconds)
    raw = {name: render(m, folder / f"{name}.wav", seconds) for name, m in midis.items()}
    # Level the parts the way a mix engineer roughly would (RMS relative to the drums).
    gains_db = {"drums": 0.0, "bass": -2.0, "keys": -6.0, "lead": -6.0, "vocals": 0.0}
    rms_drums = np.sqrt(np.mean(raw["drums"] ** 2)) + 1e-9
    for name, audio in raw.items():
        rms = np.sqrt(np.mean(audio**2)) + 1e-9
        raw[name] = audio * (rms_drums / rms) * 10 ** (gains_db[name] / 20)
    stems = {"vocals": raw["vocals"], "drums": raw["drums"], "bass": raw["bass"],
             "other": raw["keys"] + raw["lead"]}
    mix = sum(stems.values())
    peak = np.max(np.abs(mix)) / 0.9
    stems = {k: (v / peak).astype(np.float32) for k, v in stems.items()}
    mix = sum(stems.values()).astype(np.float32)
    return f"{index:02d} {genre.name} {genre.bpm}bpm", mix, stems


# (prompt, bpm): one genre each, tempos spread from slow to fast.
EMBEDDED_SONGS = [
    ("upbeat pop song", 112),
    ("rock song with electric guitars", 132),
    ("slow soul ballad", 72),
    ("funk song", 104),
    ("country song", 144),
    ("jazz song", 126),
    ("reggae song", 80),
    ("hip hop song", 92),
    ("house song", 124),
    ("synthwave song", 100),
    ("folk song", 96),
    ("drum and bass song", 174),
    ("metal song", 156),
    ("blues song", 88),
]


def build_embedded_case(index: int, seconds: float) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    prompt, bpm = EMBEDDED_SONGS[index % len(EMBEDDED_SONGS)]
    seed = 2000 + index
    name = prompt.split(" song")[0].replace(" ", "-")
    folder = OUT_EMBEDDED / f"{index:02d}-{name}-{bpm}bpm-{seconds:g}s"
    paths = {stem: folder / f"{stem}.flac" for stem in STEMS}
    if not all(p.exists() for p in paths.values()):
        from songforge.engines.base import GenerationRequest
        from songforge.engines.embedded import EmbeddedEngine

        # A slow song's first lyric section may not fit a short cap; allow longer renders until one does.
        for extra_s in (12, 24, 40):
            request = GenerationRequest(
                kind="song", prompt=prompt, seed=seed, bpm=bpm, max_seconds=seconds + extra_s
            )
            result = EmbeddedEngine().generate(request)
            raw = result.stems
            if "vocals" in raw and np.max(np.abs(raw["vocals"])) > 1e-3:
                break
        else:
            raise RuntimeError(f"{prompt!r} (seed {seed}) came back without vocals")
        voiced = np.flatnonzero(np.max(np.abs(raw["vocals"]), axis=1) > 1e-3)
        n = int(seconds * SR)
        total = len(result.mix)
        start = max(0, min(int(voiced[0]) - SR, total - n))
        parts = {
            "vocals": raw["vocals"], "drums": raw["drums"], "bass": raw["bass"],
            "other": raw["keys"] + raw["lead"],
        }
        folder.mkdir(parents=True, exist_ok=True)
        for stem, audio in parts.items():
            clip = audio[start : start + n]
            clip = np.pad(clip, ((0, n - len(clip)), (0, 0)))
            sf.write(paths[stem], clip, SR, subtype="PCM_24")
    stems = {stem: sf.read(paths[stem], dtype="float32", always_2d=True)[0] for stem in STEMS}
    mix = sum(stems.values()).astype(np.float32)
    return f"{index:02d} {name} {bpm}bpm", mix, stems


def sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / (np.sum((ref - est) ** 2) + 1e-12) + 1e-12))


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    r, e = ref.ravel().astype(np.float64), est.ravel().astype(np.float64)
    alpha = np.dot(e, r) / (np.dot(r, r) + 1e-12)
    target = alpha * r
    return float(10 * np.log10(np.sum(target**2) / (np.sum((target - e) ** 2) + 1e-12) + 1e-12))


def run_method(method: str, mix: np.ndarray, stems: dict[str, np.ndarray]) -> tuple[dict, float]:
    start = time.perf_counter()
    if method == "baseline(mix/4)":
        est = {name: mix / 4 for name in STEMS}
    elif method == "ideal-ratio-mask":
        est = ideal_ratio_masks(mix, stems)
    elif method == "demucs":
        est = separate(mix, SR, method="demucs")
    else:
        est = separate(mix, SR, method=method)
    wall = time.perf_counter() - start
    scores = {name: (sdr(stems[name], est[name]), si_sdr(stems[name], est[name])) for name in STEMS}
    return scores, wall


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def run_set(
    title: str, build, cases: int, seconds: float, methods: list[str], quiet: bool
) -> None:
    totals: dict[str, dict[str, list[tuple[float, float]]]] = {m: {s: [] for s in STEMS} for m in methods}
    walls = {m: 0.0 for m in methods}
    audio_s = 0.0
    mixtures = [build(index, seconds) for index in range(cases)]  # render/cache before timing anything
    load_before = _load()
    if not quiet:
        print(f"[{title}] SDR / SI-SDR in dB per stem (higher is better)")
        print(f"{'case':<22} {'method':<18} " + " ".join(f"{s:>13}" for s in STEMS) + f" {'mean':>13}")
    for label, mix, stems in mixtures:
        audio_s += len(mix) / SR
        for method in methods:
            scores, wall = run_method(method, mix, stems)
            walls[method] += wall
            for s in STEMS:
                totals[method][s].append(scores[s])
            if not quiet:
                cells = " ".join(f"{scores[s][0]:6.1f}/{scores[s][1]:6.1f}" for s in STEMS)
                mean_sdr = np.mean([scores[s][0] for s in STEMS])
                mean_si = np.mean([scores[s][1] for s in STEMS])
                print(f"{label:<22} {method:<18} {cells} {mean_sdr:6.1f}/{mean_si:6.1f}")
    print()
    print(f"[{title}] {cases} mixtures, {audio_s:.0f} s of audio; mean SDR / SI-SDR in dB; "
          f"{load_before} before, {_load()} after")
    print(f"{'method':<18} " + " ".join(f"{s:>13}" for s in STEMS) + f" {'mean':>13} {'speed':>10}")
    for method in methods:
        per = {s: np.mean(np.array(totals[method][s]), axis=0) for s in STEMS}
        cells = " ".join(f"{per[s][0]:6.2f}/{per[s][1]:6.2f}" for s in STEMS)
        mean = np.mean([per[s] for s in STEMS], axis=0)
        speed = audio_s / walls[method] if walls[method] > 0 else float("inf")
        print(f"{method:<18} {cells} {mean[0]:6.2f}/{mean[1]:6.2f} {speed:8.1f}x")
    print()


SETS = {"embedded": build_embedded_case, "fluidsynth": build_case}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default="embedded,fluidsynth")
    ap.add_argument("--cases", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--methods", default="centre,repet-centre,harmonic")
    ap.add_argument("--quiet", action="store_true", help="totals only")
    args = ap.parse_args(argv)
    methods = ["baseline(mix/4)", *args.methods.split(","), "ideal-ratio-mask"]
    if os.environ.get("SONGFORGE_DEMUCS_WEIGHTS") and "demucs" not in methods:
        methods.insert(-1, "demucs")
    for name in args.sets.split(","):
        run_set(name, SETS[name], args.cases, args.seconds, methods, args.quiet)
    print(f"speed = seconds of audio per wall second of separate(...), {os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
