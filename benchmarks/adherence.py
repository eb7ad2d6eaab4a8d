"""Does the rendered audio do what the request said? Measured with independent estimators.

* tempo: librosa's default beat tracker (no prior from the request), pass within 4 %;
* key: CQT chroma averaged over the track, Krumhansl-Kessler profile correlation over 24 keys;
* chords: per bar (bar grid from the written tempo; the engine starts at t=0) mean CQT chroma
  against 24 major/minor triad templates; a bar passes when the best triad's notes all belong to
  the requested chord (so Am7 read as C counts: the estimator cannot tell them apart);
* loudness: pyloudnorm integrated, pass within 1 LU of -14; clipping: sample peak < 1.0 and
  true peak <= -1 dBTP (4x oversampled with scipy).

Run: .venv/bin/python benchmarks/adherence.py [--seconds 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import pyloudnorm as pyln
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from songforge.engines.base import GenerationRequest  # noqa: E402
from songforge.engines.embedded import EmbeddedEngine  # noqa: E402
from songforge.music.chords import parse_chord  # noqa: E402

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
KK_MAJ = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MIN = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

CASES = [
    # prompt, tonality, bpm, chords
    ("upbeat pop song about summer", "C:major", 120, None),
    ("sad piano ballad", "D:minor", 70, None),
    ("driving rock anthem", "E:minor", 132, "Em C G D"),
    ("heavy metal riff", "F#:minor", 160, None),
    ("fast pop punk", "A:major", 180, "A D E D"),
    ("indie pop with electric guitar", "G:major", 112, "G Em C D"),
    ("acoustic folk campfire", "D:major", 96, "D G A D"),
    ("country road trip", "Bb:major", 118, None),
    ("twelve bar blues", "E:major", 90, None),
    ("smooth jazz with saxophone", "Bb:major", 130, "Bbmaj7 Gm7 Cm7 F7"),
    ("big band swing", "F:major", 168, None),
    ("bossa nova cafe", "A:minor", 124, "Am7 Dm7 E7 Am7"),
    ("reggae summer vibes", "G:major", 80, "G C | D C"),
    ("funky groove", "E:minor", 108, None),
    ("soul ballad", "Ab:major", 84, "Ab Fm Db Eb"),
    ("lo-fi hip hop for study", "F:minor", 78, None),
    ("dark trap beat", "C#:minor", 140, None),
    ("deep house", "Eb:minor", 124, None),
    ("techno warehouse", "A:minor", 130, None),
    ("uplifting trance", "B:minor", 138, "Bm G D A"),
    ("drum and bass", "F:minor", 174, None),
    ("synthwave night drive", "C:minor", 100, "Cm Ab Eb Bb"),
    ("ambient meditation", "E:major", 64, None),
    ("epic cinematic trailer", "D:minor", 90, "Dm Bb F C"),
    ("classical piano nocturne", "Eb:major", 72, None),
    ("8-bit video game theme", "C:major", 150, "C Am F G"),
    ("children's song", "F:major", 110, None),
    ("christmas holiday", "G:major", 120, None),
    ("slow chillout", "B:minor", 56, None),
    ("dubstep", "G:minor", 140, None),
    ("latin salsa", "D:minor", 100, None),
    ("rnb slow jam", "C#:minor", 88, None),
    # a second set: more keys, both modes, tempos at the edges of the range, written progressions
    ("gentle folk ballad", "A:major", 76, None),
    ("hard rock", "G:minor", 144, "Gm Eb Bb F"),
    ("reggae roots", "D:minor", 74, None),
    ("swing jazz", "Eb:major", 186, None),
    ("emotional cinematic strings", "F#:minor", 60, None),
    ("happy ukulele children's song", "D:major", 128, "D Bm G A"),
    ("techno", "Ab:major", 128, None),
    ("blues shuffle", "A:minor", 100, None),
]


def est_key(chroma: np.ndarray) -> str:
    best, best_r = "", -2.0
    for t in range(12):
        for mode, prof in (("major", KK_MAJ), ("minor", KK_MIN)):
            r = float(np.corrcoef(chroma, np.roll(prof, t))[0, 1])
            if r > best_r:
                best, best_r = f"{NAMES[t]}:{mode}", r
    return best


def norm_key(k: str) -> str:
    tonic, mode = k.split(":")
    alias = {"C#": "C#", "Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb"}
    return f"{alias.get(tonic, tonic)}:{mode}"


TRIADS = []
for r in range(12):
    for q, ivs in (("maj", (0, 4, 7)), ("min", (0, 3, 7))):
        v = np.zeros(12)
        v[[(r + i) % 12 for i in ivs]] = 1
        TRIADS.append((r, q, frozenset((r + i) % 12 for i in ivs), v / np.linalg.norm(v)))


def chord_hits(
    chroma: np.ndarray, frame_times: np.ndarray, bpm: float, bar_chords: list[str]
) -> tuple[int, int]:
    bar_s = 240.0 / bpm
    hits = total = 0
    for b, symbols in enumerate(bar_chords[:-1]):  # the last bar rings into the fade
        chords = [parse_chord(s) for s in symbols.split()]
        for i, ch in enumerate(chords):
            t0 = b * bar_s + i * bar_s / len(chords)
            t1 = t0 + bar_s / len(chords)
            sel = (frame_times >= t0 + 0.05) & (frame_times < t1 - 0.05)
            if not np.any(sel):
                continue
            v = chroma[:, sel].mean(axis=1)
            v = v / (np.linalg.norm(v) or 1)
            best = max(TRIADS, key=lambda t: float(t[3] @ v))
            total += 1
            hits += int(best[2] <= ch.pitch_classes)
    return hits, total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--cases", type=int, default=len(CASES))
    ap.add_argument("--only", default="", help="run the cases whose prompt contains this text")
    ap.add_argument("--seed", type=int, default=0, help="added to each case's seed (its index)")
    args = ap.parse_args()
    cases = [(i, c) for i, c in enumerate(CASES[: args.cases]) if args.only in c[0]]
    engine = EmbeddedEngine()
    meter = pyln.Meter(44100)
    print(
        f"Adherence of the embedded engine: {len(cases)} requests, max_seconds={args.seconds:g} "
        f"(shortened so the run takes minutes), seed = {args.seed} + case index"
    )
    print(
        "tempo: librosa.beat.beat_track defaults; key: chroma_cqt + Krumhansl-Kessler; chords: bar-mean "
        "chroma_cqt vs 24 triads (pass if the triad is inside the chord); loudness: pyloudnorm"
    )
    hdr = (
        f"{'#':>2} {'prompt':30} {'req key':9} {'est key':9} {'bpm':>4} {'est':>6} {'chords':14} "
        f"{'bars ok':>8} {'LUFS':>6} {'dBTP':>6} {'sec':>5}"
    )
    print(hdr)
    print("-" * len(hdr))
    n_tempo = n_tempo_oct = n_key = n_loud = n_clip_ok = 0
    ch_hits = ch_total = req_hits = req_total = 0
    times = []
    for i, (prompt, key, bpm, chords) in cases:
        req = GenerationRequest(
            kind="instrumental",
            prompt=prompt,
            model="i3",
            seed=args.seed + i,
            tonality=key,
            bpm=bpm,
            chords=chords,
            max_seconds=args.seconds,
        )
        t = time.perf_counter()
        res = engine.generate(req, lambda p, s: None)
        times.append(time.perf_counter() - t)
        mix = res.mix
        y = librosa.resample(mix.mean(axis=1), orig_sr=44100, target_sr=22050)
        tempo, _ = librosa.beat.beat_track(y=y, sr=22050)
        tempo = float(np.atleast_1d(tempo)[0])
        tempo_ok = abs(tempo - bpm) / bpm <= 0.04
        oct_ok = any(abs(tempo * f - bpm) / bpm <= 0.04 for f in (0.5, 1, 2, 2 / 3, 1.5))
        chroma = librosa.feature.chroma_cqt(y=y, sr=22050, hop_length=2048)
        ftimes = librosa.frames_to_time(np.arange(chroma.shape[1]), sr=22050, hop_length=2048)
        ek = est_key(chroma.mean(axis=1))
        key_ok = norm_key(ek) == norm_key(key)
        h, tot = chord_hits(chroma, ftimes, bpm, res.extra["bar_chords"])
        ch_hits += h
        ch_total += tot
        if chords:
            req_hits += h
            req_total += tot
        lufs = meter.integrated_loudness(mix.astype(np.float64))
        tp = 20 * np.log10(np.abs(resample_poly(mix, 4, 1, axis=0)).max())
        clip_ok = float(np.abs(mix).max()) < 1.0 and tp <= -1.0 + 1e-3
        n_tempo += tempo_ok
        n_tempo_oct += oct_ok
        n_key += key_ok
        n_loud += abs(lufs + 14) <= 1
        n_clip_ok += clip_ok
        print(
            f"{i:>2} {prompt[:30]:30} {key:9} {ek:9}{'' if key_ok else '*'}"
            f"{bpm:>4} {tempo:>6.1f}{'' if tempo_ok else '*'} {(chords or '(engine)')[:14]:14} "
            f"{h:>3}/{tot:<4} {lufs:>6.1f} {tp:>6.2f} {times[-1]:>5.1f}"
        )
    n = len(cases)
    print("-" * len(hdr))
    print(f"tempo within 4%:            {n_tempo}/{n} = {100 * n_tempo / n:.0f}%  (target >= 95%)")
    print(f"  allowing half/double/3:2: {n_tempo_oct}/{n} = {100 * n_tempo_oct / n:.0f}%")
    print(f"key exact:                  {n_key}/{n} = {100 * n_key / n:.0f}%  (target >= 90%)")
    if req_total:
        print(
            f"bars matching requested chord: {req_hits}/{req_total} = {100 * req_hits / req_total:.0f}%"
            "  (target >= 80%)"
        )
    print(
        f"bars matching the chord played (all cases): {ch_hits}/{ch_total} = {100 * ch_hits / ch_total:.0f}%"
    )
    print(
        f"loudness within 1 LU of -14: {n_loud}/{n}; "
        f"no clipping (peak < 0 dBFS, TP <= -1 dBTP): {n_clip_ok}/{n}"
    )
    print(f"render time: mean {np.mean(times):.2f} s per {args.seconds:g} s request")
    print(f"load average: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")


if __name__ == "__main__":
    main()
