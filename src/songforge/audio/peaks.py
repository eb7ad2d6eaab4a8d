"""A work's waveform as players draw it: min/max peaks at a fixed resolution.

`musicMaterial.waveformUrl` points at this JSON. A fixed number of points (not samples per
pixel) keeps every file the same small size (~10 kB) whatever the track's length, which is what
a library thumbnail or a player's first paint needs. The body is the audiowaveform (BBC) v2
format that peaks.js and most waveform tools read, `data` holding min,max pairs as 8-bit ints,
plus `peaks` and `duration`, which wavesurfer.js takes as they are
(`WaveSurfer.create({peaks: w.peaks, duration: w.duration})` or `ws.load(url, w.peaks,
w.duration)`), so it never has to download and decode the audio to draw it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

POINTS = 800
VERSION = 2
_BITS = 8
_SCALE = 2 ** (_BITS - 1) - 1  # 127


def waveform_peaks(audio: np.ndarray, sample_rate: int, points: int = POINTS) -> dict[str, Any]:
    """The waveform JSON of `audio` (frames, or frames x channels, floats in -1..1), channels mixed
    to one: `points` min/max pairs, each over an equal share of the frames."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    x = np.nan_to_num(x.reshape(-1), nan=0.0, posinf=1.0, neginf=-1.0)
    n = int(x.shape[0])
    lows = np.zeros(points, dtype=np.float32)
    highs = np.zeros(points, dtype=np.float32)
    if n:
        edges = np.linspace(0, n, points + 1).astype(np.int64)
        for i in range(points):
            a, b = edges[i], max(edges[i + 1], edges[i] + 1)
            chunk = x[a : min(b, n)]
            if chunk.size:
                lows[i], highs[i] = chunk.min(), chunk.max()
    lows, highs = np.clip(lows, -1.0, 1.0), np.clip(highs, -1.0, 1.0)
    pairs = np.empty(points * 2, dtype=np.float32)
    pairs[0::2], pairs[1::2] = lows, highs
    return {
        "version": VERSION,
        "channels": 1,
        "sample_rate": int(sample_rate),
        "samples_per_pixel": max(1, round(n / points)) if n else 1,
        "bits": _BITS,
        "length": points,
        "data": [int(v) for v in np.round(pairs * _SCALE)],
        "peaks": [[round(float(v), 4) for v in pairs]],
        "duration": round(n / sample_rate, 3) if sample_rate else 0.0,
    }


def amplitudes(waveform: dict[str, Any]) -> np.ndarray:
    """Per point, max(|min|, |max|) in 0..1: the outline a thumbnail or a cover draws."""
    data = np.asarray(waveform.get("data") or [], dtype=np.float32) / _SCALE
    if data.size < 2:
        return np.zeros(0, dtype=np.float32)
    return np.clip(np.maximum(np.abs(data[0::2]), np.abs(data[1::2])), 0.0, 1.0)
