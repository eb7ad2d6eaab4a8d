"""The local rendering commands, run as a user runs them: the installed `songforge` CLI."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import soundfile as sf

pytestmark = pytest.mark.slow


def _songforge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "songforge", *args], capture_output=True, text=True, timeout=300
    )


def test_song_then_stems_from_the_cli(tmp_path: Path) -> None:
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text("[Verse]\nWalking down the river road\nCarry all the things I know\n")
    song = tmp_path / "song.mp3"
    r = _songforge("song", "warm acoustic folk", "--lyrics", str(lyrics), "--seed", "4", "-o", str(song))
    assert r.returncode == 0, r.stderr
    assert "Wrote" in r.stdout and "Folk" in r.stdout
    info = sf.info(str(song))
    assert info.samplerate == 44100 and info.channels == 2 and info.duration > 5

    stems = tmp_path / "stems.zip"
    r = _songforge("stems", str(song), "-o", str(stems))
    assert r.returncode == 0, r.stderr
    names = set(zipfile.ZipFile(stems).namelist())
    assert {"vocals.wav", "drums.wav", "bass.wav", "other.wav", "original.mp3"} <= names


def test_instrumental_obeys_controls_and_reports_errors(tmp_path: Path) -> None:
    out = tmp_path / "piece.wav"
    r = _songforge(
        "instrumental",
        "calm piano",
        "--key",
        "E:minor",
        "--bpm",
        "96",
        "--chords",
        "Em C G D",
        "--model",
        "i3",
        "--seed",
        "1",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "E:minor" in r.stdout and "96 BPM" in r.stdout
    assert sf.info(str(out)).subtype == "PCM_16"

    r = _songforge("instrumental", "x", "--chords", "C Hmaj9", "-o", str(tmp_path / "bad.wav"))
    assert r.returncode == 1 and "Hmaj9" in r.stderr
    r = _songforge("instrumental", "x", "-o", str(tmp_path / "bad.ogg"))
    assert r.returncode == 1 and ".mp3" in r.stderr
    r = _songforge("song", "x", "--voice", "nobody", "-o", str(tmp_path / "s.mp3"))
    assert r.returncode == 1 and "nobody" in r.stderr
