"""Mixing helpers shared by engines: a linked true-peak limiter curve and loudness targeting.

The limiter computes one gain curve from the sum of all stems and multiplies every stem by it,
so processed stems still add up to the master sample for sample.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from songforge.audio.loudness import KWeighted, peak_envelope


def limiter_curve(mix: np.ndarray, sr: int, ceiling_db: float = -1.2, window_s: float = 0.06) -> np.ndarray:
    """Gain (n,) that keeps the true-peak envelope of `mix` under the ceiling. A minimum filter
    holds the reduction for half a window around each peak and a moving average half as wide
    then ramps it in and out, which guarantees the curve never exceeds what any peak needs."""
    ceiling = 10 ** (ceiling_db / 20)
    return limiter_curve_from_envelope(peak_envelope(mix, floor=ceiling * 0.7), sr, ceiling_db, window_s)


def limiter_curve_from_envelope(
    env: np.ndarray, sr: int, ceiling_db: float = -1.2, window_s: float = 0.06
) -> np.ndarray:
    """`limiter_curve` from a precomputed true-peak envelope (it scales with the gain, so a master
    computes it once and tries several gains)."""
    ceiling = 10 ** (ceiling_db / 20)
    need = np.minimum(1.0, ceiling / np.maximum(env, 1e-12)).astype(np.float32)
    if float(need.min()) >= 1.0:
        return np.ones(len(env), dtype=np.float32)
    w = max(3, int(window_s * sr))
    # The hold runs on 32-sample block minima with a window two blocks wider, which holds every
    # reduction at least as long as the per-sample filter would, at a thirtieth of the cost.
    b = 32
    m = -(-len(need) // b)
    padded = np.ones(m * b, dtype=np.float32)
    padded[: len(need)] = need
    blocks = padded.reshape(m, b).min(axis=1)
    held = np.repeat(minimum_filter1d(blocks, size=-(-w // b) + 2, mode="nearest"), b)[: len(need)]
    return uniform_filter1d(held, size=max(1, w // 2), mode="nearest").astype(np.float32)


def master_gain(
    mix: np.ndarray, sr: int, target_lufs: float = -14.0, ceiling_db: float = -1.2, passes: int = 3
) -> tuple[np.ndarray, float]:
    """The gain curve (n,) that brings `mix` to `target_lufs` with true peak under `ceiling_db`,
    and the loudness measured after applying it. The mix is K-weighted once; each pass re-measures
    it under the new curve, which costs a multiply and a cumulative sum."""
    meter = KWeighted(mix, sr)
    loud = meter.loudness()
    if not np.isfinite(loud):
        return np.ones(len(mix), dtype=np.float32), loud
    gain = 10 ** ((target_lufs - loud) / 20)
    env = peak_envelope(mix, floor=10 ** (ceiling_db / 20) * 0.7 / gain / 1.25)
    curve = np.ones(len(mix), dtype=np.float32)
    for _ in range(passes):
        curve = limiter_curve_from_envelope(env * np.float32(gain), sr, ceiling_db) * np.float32(gain)
        loud = meter.loudness(curve)
        err = target_lufs - loud
        if abs(err) < 0.05:
            break
        gain *= 10 ** (err / 20)
    return curve, loud
