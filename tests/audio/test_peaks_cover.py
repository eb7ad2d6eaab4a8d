"""Waveform peaks and cover pictures (issue 19): the shapes players read, and pictures that are
the same for the same work and differ between works."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from songforge.audio.cover import SIZE, draw_cover
from songforge.audio.peaks import POINTS, amplitudes, waveform_peaks

SR = 44100


def _tone(seconds: float = 3.0, stereo: bool = True) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    x = (0.8 * np.sin(2 * np.pi * 220 * t) * np.linspace(0, 1, t.size)).astype(np.float32)
    return np.stack([x, x], axis=1) if stereo else x


def test_peaks_are_fixed_resolution_min_max_pairs() -> None:
    w = waveform_peaks(_tone(), SR)
    assert (w["version"], w["channels"], w["bits"], w["length"]) == (2, 1, 8, POINTS)
    assert len(w["data"]) == 2 * POINTS and all(-128 <= v <= 127 for v in w["data"])
    lows, highs = w["data"][0::2], w["data"][1::2]
    assert all(lo <= hi for lo, hi in zip(lows, highs, strict=True))
    assert w["duration"] == 3.0 and len(w["peaks"]) == 1 and len(w["peaks"][0]) == 2 * POINTS
    # A fade-in: the outline grows, ending near the tone's 0.8 peak.
    amp = amplitudes(w)
    assert amp[:50].mean() < 0.1 < 0.7 < amp[-20:].mean() <= 0.81
    json.dumps(w)  # plain JSON, no numpy scalars
    assert len(waveform_peaks(_tone(600, stereo=False), SR)["data"]) == 2 * POINTS  # any length, same size


def test_peaks_of_silence_and_of_nothing() -> None:
    assert set(waveform_peaks(np.zeros(SR, dtype=np.float32), SR)["data"]) == {0}
    empty = waveform_peaks(np.zeros(0, dtype=np.float32), SR)
    assert empty["length"] == POINTS and empty["duration"] == 0.0
    short = waveform_peaks(np.array([0.5, -0.5], dtype=np.float32), SR)
    assert len(short["data"]) == 2 * POINTS


def test_cover_is_a_deterministic_png_of_the_work() -> None:
    amp = amplitudes(waveform_peaks(_tone(), SR))
    material = {"style": "Lo-fi", "mood": "calm"}
    png = draw_cover(7, material, "Rain on Glass", amp)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    assert image.size == (SIZE, SIZE) and image.format == "PNG"
    assert draw_cover(7, material, "Rain on Glass", amp) == png  # same work, same bytes
    others = {
        draw_cover(8, material, "Rain on Glass", amp),
        draw_cover(7, {"style": "Rock", "mood": "energetic"}, "Rain on Glass", amp),
        draw_cover(7, material, "Another Title", amp),
        draw_cover(7, material, "Rain on Glass", amp[::-1].copy()),
    }
    assert png not in others and len(others) == 4
    assert draw_cover(0, {}, "", np.zeros(0, dtype=np.float32))[:8] == b"\x89PNG\r\n\x1a\n"
