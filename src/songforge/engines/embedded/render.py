"""Score parts -> MIDI files -> audio, one FluidSynth process per stem.

Stems are rendered separately so that each stem is exactly what it sounds like in the mix.
The FluidSynth command line renders faster than realtime by far and keeps its memory to itself;
`synth.dynamic-sample-loading` loads only the samples a stem uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from songforge.engines.base import SAMPLE_RATE, EngineError
from songforge.engines.embedded.composer import Part

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
INSTALL_HINT = "run `make setup` (or `sudo apt-get install fluidsynth fluid-soundfont-gm`)"
TICKS = 480


def soundfont_path() -> Path:
    return Path(os.environ.get("SONGFORGE_SOUNDFONT") or DEFAULT_SOUNDFONT)


def fluidsynth_binary() -> str | None:
    return os.environ.get("SONGFORGE_FLUIDSYNTH") or shutil.which("fluidsynth")


def check_ready() -> None:
    """Raise `EngineError` naming what is missing and how to install it (the server calls this)."""
    sf2 = soundfont_path()
    if not sf2.is_file():
        raise EngineError(f"SoundFont not found: {sf2} (set SONGFORGE_SOUNDFONT or {INSTALL_HINT})")
    if not fluidsynth_binary():
        raise EngineError(f"The fluidsynth program is not installed; {INSTALL_HINT}")


def write_midi(parts: list[Part], bpm: float, path: Path, end_beat: float) -> None:
    """One type-1 file per stem: a channel per part (drums on channel 10), pan and volume set up front."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    mid.tracks.append(meta)
    channel = 0
    for part in parts:
        if part.is_drum:
            ch = 9
        else:
            ch = channel if channel != 9 else 10
            channel = ch + 1
        events: list[tuple[int, int, mido.Message]] = []
        setup = [
            mido.Message("control_change", channel=ch, control=7, value=100),
            mido.Message("control_change", channel=ch, control=10, value=part.pan),
            mido.Message("control_change", channel=ch, control=91, value=0),
            mido.Message("control_change", channel=ch, control=93, value=0),
            mido.Message("program_change", channel=ch, program=part.program % 128),
        ]
        for note in part.notes:
            on = max(0, int(round(note.start * TICKS)))
            off = max(on + 1, int(round((note.start + note.dur) * TICKS)))
            pitch = int(min(127, max(0, note.pitch)))
            vel = int(min(127, max(1, note.vel)))
            events.append((off, 0, mido.Message("note_off", channel=ch, note=pitch, velocity=0)))
            events.append((on, 1, mido.Message("note_on", channel=ch, note=pitch, velocity=vel)))
        end_tick = int(end_beat * TICKS)
        events.append((end_tick, 2, mido.Message("control_change", channel=ch, control=64, value=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack(setup)
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    if not parts:
        track = mido.MidiTrack([mido.Message("control_change", channel=0, control=7, value=100)])
        track.append(
            mido.Message("control_change", channel=0, control=64, value=0, time=int(end_beat * TICKS))
        )
        mid.tracks.append(track)
    mid.save(path)


def render_midi(midi_path: Path, wav_path: Path) -> np.ndarray:
    """Render one MIDI file to float32 stereo at 44.1 kHz with the configured SoundFont."""
    check_ready()
    cmd = [
        fluidsynth_binary() or "fluidsynth",
        "-n",
        "-i",
        "-q",
        "-g",
        "0.6",
        "-r",
        str(SAMPLE_RATE),
        "-O",
        "float",
        "-T",
        "wav",
        "-o",
        "synth.reverb.active=0",
        "-o",
        "synth.chorus.active=0",
        "-o",
        "synth.dynamic-sample-loading=1",
        "-o",
        "synth.cpu-cores=1",
        "-F",
        str(wav_path),
        str(soundfont_path()),
        str(midi_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not wav_path.exists():
        raise EngineError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    audio, sr = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if sr != SAMPLE_RATE:
        raise EngineError(f"fluidsynth rendered at {sr} Hz, expected {SAMPLE_RATE}")
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    return audio[:, :2]


def render_stems(
    stems: dict[str, list[Part]], bpm: float, end_beat: float, n_samples: int, workers: int = 2
) -> dict[str, np.ndarray]:
    """All stems rendered (two FluidSynth processes at a time), trimmed or padded to `n_samples`."""
    with tempfile.TemporaryDirectory(prefix="songforge-render-") as tmp:
        tmpdir = Path(tmp)
        jobs = {}
        for name, parts in stems.items():
            mid = tmpdir / f"{name}.mid"
            write_midi(parts, bpm, mid, end_beat)
            jobs[name] = (mid, tmpdir / f"{name}.wav")
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {name: pool.submit(render_midi, m, w) for name, (m, w) in jobs.items()}
            rendered = {name: f.result() for name, f in futures.items()}
    out = {}
    for name, audio in rendered.items():
        buf = np.zeros((n_samples, 2), dtype=np.float32)
        n = min(n_samples, len(audio))
        buf[:n] = audio[:n]
        out[name] = buf
    return out
