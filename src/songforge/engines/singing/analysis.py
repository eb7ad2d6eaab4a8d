"""Voice matching by analysis: measure a sample's pitch range, formants, tilt and vibrato.

This is not a neural clone. The profile steers the same festival + WORLD singer: its range and median
pick the notes, its formants set the spectral-envelope warp, its tilt and breathiness the brightness,
its vibrato the vibrato.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy.signal import resample_poly

from songforge.audio.jit import librosa
from songforge.engines.base import EngineError, VoiceProfile

ANALYSIS_SR = 16000
MAX_ANALYSED_S = 60.0  # the first minute says all we need and keeps the cost bounded
# Typical F1/F2 averages of a female and a male speaking voice (festival's slt and kal, which the warp
# was first set against), used to turn measured formants into a warp of whichever base sings the voice.
_TYPICAL_FORMANTS = {"female": 560.0 + 1750.0, "male": 500.0 + 1500.0}


def _mono16k(audio: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)
    if sr <= 0:
        raise EngineError("Invalid sample rate")
    x = x[: int(MAX_ANALYSED_S * sr)]
    if sr != ANALYSIS_SR:
        g = math.gcd(ANALYSIS_SR, int(sr))
        x = resample_poly(x, ANALYSIS_SR // g, int(sr) // g)
    return x


def _formants(y: np.ndarray, voiced_frames: np.ndarray, hop: int) -> tuple[float, float]:
    """Median F1 and F2 from LPC roots over voiced frames (order 12 at 16 kHz)."""
    f1s, f2s = [], []
    frame = 512
    idxs = np.nonzero(voiced_frames)[0]
    for i in idxs[:: max(1, len(idxs) // 150)]:
        seg = y[i * hop : i * hop + frame]
        if len(seg) < frame or np.max(np.abs(seg)) < 1e-4:
            continue
        seg = np.append(seg[0], seg[1:] - 0.97 * seg[:-1]) * np.hamming(frame)
        try:
            a = librosa.lpc(seg, order=12)
        except (FloatingPointError, ValueError):
            continue
        roots = [r for r in np.roots(a) if np.imag(r) > 0]
        freqs = sorted(
            np.angle(r) * ANALYSIS_SR / (2 * np.pi)
            for r in roots
            if -ANALYSIS_SR / (2 * np.pi) * np.log(abs(r)) < 400
        )
        freqs = [f for f in freqs if f > 200]
        if len(freqs) >= 2:
            f1s.append(freqs[0])
            f2s.append(freqs[1])
    if not f1s:
        return 0.0, 0.0
    return float(np.median(f1s)), float(np.median(f2s))


def analyse_voice(audio: np.ndarray, sr: int) -> dict:
    y = _mono16k(audio, sr)
    if len(y) < ANALYSIS_SR or not np.all(np.isfinite(y)) or np.max(np.abs(y)) < 1e-3:
        raise EngineError("No voice detected in the sample (it is silent or too short)")
    y = y / np.max(np.abs(y))
    hop = 160
    f0, voiced, prob = librosa.pyin(y, fmin=60, fmax=1000, sr=ANALYSIS_SR, frame_length=1024, hop_length=hop)
    voiced = voiced & np.isfinite(f0) & (prob > 0.3)
    share = float(np.mean(voiced)) if len(voiced) else 0.0
    if share < 0.08 or np.count_nonzero(voiced) < 50:
        raise EngineError("No voice detected in the sample: it holds no sustained pitched sound")
    midi = librosa.hz_to_midi(f0[voiced])
    lo, hi = np.percentile(midi, [5, 95])
    median = float(np.median(midi))
    # Vibrato: modulation of the pitch (in cents around a 200 ms moving mean) in runs of voiced frames.
    rates, depths = [], []
    run: list[int] = []
    vidx = np.nonzero(voiced)[0]
    for i in [*vidx.tolist(), -10]:
        if run and i != run[-1] + 1:
            if len(run) >= 60:
                c = 100 * librosa.hz_to_midi(f0[run])
                trend = np.convolve(c, np.ones(20) / 20, mode="same")
                d = (c - trend)[10:-10]
                spec = np.abs(np.fft.rfft(d * np.hanning(len(d))))
                freqs = np.fft.rfftfreq(len(d), hop / ANALYSIS_SR)
                band = (freqs >= 3.5) & (freqs <= 8.5)
                if np.any(band) and spec[band].max() > 2 * np.median(spec[1:]):
                    rates.append(float(freqs[band][np.argmax(spec[band])]))
                    depths.append(float(np.sqrt(2) * np.std(d)))
            run = []
        run.append(i)
    f1, f2 = _formants(y, voiced, hop)
    spec = np.abs(librosa.stft(y, n_fft=1024, hop_length=hop))[:, : len(voiced)]
    vspec = spec[:, voiced[: spec.shape[1]]].mean(axis=1) + 1e-9
    freqs = librosa.fft_frequencies(sr=ANALYSIS_SR, n_fft=1024)
    band = (freqs > 300) & (freqs < 7000)
    slope = float(np.polyfit(np.log2(freqs[band]), 20 * np.log10(vspec[band]), 1)[0])
    flat = float(np.mean(librosa.feature.spectral_flatness(S=spec[:, voiced[: spec.shape[1]]])))
    # ~185 Hz: above most men's speaking pitch, below most women's; a rough call the user can override.
    gender = "male" if median < 54.5 else "female"
    envelope_db = 20 * np.log10(vspec / vspec.max())
    bands = np.linspace(0, len(envelope_db) - 1, 33).astype(int)
    return {
        "lowMidi": round(float(lo), 2),
        "highMidi": round(float(hi), 2),
        "medianMidi": round(median, 2),
        "medianHz": round(float(librosa.midi_to_hz(median)), 1),
        "voicedShare": round(share, 3),
        "gender": gender,
        "formantsHz": [round(f1, 1), round(f2, 1)],
        "spectralSlopeDbPerOctave": round(slope, 2),
        "spectralFlatness": round(flat, 4),
        "envelopeDb": [round(float(envelope_db[b]), 1) for b in bands],
        "vibratoRateHz": round(float(np.median(rates)), 2) if rates else 0.0,
        "vibratoCents": round(float(np.median(depths)), 1) if depths else 0.0,
        "analysedSeconds": round(len(y) / ANALYSIS_SR, 2),
    }


def profile_to_voice(item_id: str, profile: dict) -> VoiceProfile:
    """A cloned voice on the base of its gender that the singer uses (`SONGFORGE_SINGER`: hibari / joe,
    or festival's slt / kal), warped toward the sample's formants, tilt and breath."""
    from songforge.engines.singing.bases import default_base

    gender: Literal["female", "male"] = "male" if profile.get("gender") == "male" else "female"
    base = default_base(gender)
    median = float(profile.get("medianMidi", 55 if gender == "male" else 67))
    lo = float(profile.get("lowMidi", median - 7))
    hi = float(profile.get("highMidi", median + 7))
    # A sung range is wider than a spoken sample shows: at least an octave and a half around the median.
    low = int(round(min(lo, median - 8)))
    high = int(round(max(hi, median + 9)))
    f1, f2 = (profile.get("formantsHz") or [0.0, 0.0])[:2]
    formant = 1.0
    if f1 > 0 and f2 > 0:
        formant = float(np.clip((f1 + f2) / _TYPICAL_FORMANTS[gender], 0.85, 1.15))
    slope = float(profile.get("spectralSlopeDbPerOctave", -6.0))
    return VoiceProfile(
        item_id=item_id,
        gender=gender,
        low_midi=low,
        high_midi=high,
        median_midi=median,
        extra={
            "base": base,
            "formant": round(formant, 3),
            "tilt_db": float(np.clip((slope + 6.0) / 2, -3, 3)),
            "breathiness": float(np.clip(profile.get("spectralFlatness", 0.05) * 3, 0.0, 0.4)),
            "vibrato_rate": float(profile.get("vibratoRateHz") or 5.5),
            "vibrato_cents": float(np.clip(profile.get("vibratoCents") or 18.0, 5.0, 45.0)),
            "cloned": True,
        },
    )
