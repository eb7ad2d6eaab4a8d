"""Loudness and true peak for masters.

Integrated loudness comes from pyloudnorm (the reference BS.1770-4 implementation). Mastering needs
the loudness of the same mix under several gain curves; `KWeighted` filters the mix once (with
pyloudnorm's K-weighting coefficients) and then measures it under any slowly varying gain, gating
exactly as pyloudnorm does, for a fraction of the cost of a fresh measurement each time. True peak is
measured the way BS.1770 describes it, by 4x oversampling, with a short polyphase interpolator
run as three vectorised convolutions: it is cheap enough to steer a limiter with, not only to
check a finished master.
"""

from __future__ import annotations

from functools import lru_cache
from typing import SupportsFloat, cast

import numpy as np
import pyloudnorm as pyln
from scipy.signal import sosfilt


def integrated_loudness(audio: np.ndarray, sr: int) -> float:
    """Integrated loudness in LUFS; -inf for silence or audio shorter than one 400 ms block."""
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < int(0.4 * sr) + 1:
        return float("-inf")
    with np.errstate(divide="ignore"):
        return float(pyln.Meter(sr).integrated_loudness(x))


@lru_cache(maxsize=4)
def _k_sos(sr: int) -> np.ndarray:
    """pyloudnorm's two K-weighting biquads (high shelf, then high pass) as one SOS cascade."""
    meter = pyln.Meter(sr)
    rows = []
    for f in meter._filters.values():
        b, a = np.asarray(f.b, dtype=np.float64), np.asarray(f.a, dtype=np.float64)
        rows.append(np.concatenate([b / a[0], a / a[0]]))
    return np.array(rows)


class KWeighted:
    """A mix K-weighted once, measurable under any gain curve that varies slowly next to the
    filters' response (a limiter's tens of milliseconds): the weighted energy of ``x * g`` is then
    ``g**2`` times that of ``x`` sample by sample. Blocks and gates follow BS.1770-4 as pyloudnorm
    implements them (400 ms blocks every 100 ms, -70 LUFS absolute and -10 LU relative gates), and
    with a constant gain the result equals pyloudnorm's."""

    BLOCK_S = 0.4
    STEP = 0.25

    def __init__(self, audio: np.ndarray, sr: int) -> None:
        x = np.asarray(audio)
        if x.ndim == 1:
            x = x[:, None]
        self.sr = sr
        self.n = len(x)
        chans = np.ascontiguousarray(x[:, :3].T, dtype=np.float32)  # L, R, C all weigh 1.0
        y = sosfilt(_k_sos(sr).astype(np.float32), chans, axis=-1)
        self.energy = np.einsum("cn,cn->n", y, y)
        block = self.BLOCK_S * sr
        n_blocks = int(np.round((self.n / sr - self.BLOCK_S) / (self.BLOCK_S * self.STEP))) + 1
        j = np.arange(max(0, n_blocks))
        self._lo = (block * j * self.STEP).astype(np.int64)
        self._hi = np.minimum((block * (j * self.STEP + 1)).astype(np.int64), self.n)
        self._block = block
        step = block * self.STEP
        # at 44.1 and 48 kHz a block is four whole 100 ms segments: sum segments, then add four
        self._seg = int(step) if float(step).is_integer() and len(j) else 0

    def _block_energy(self, weighted: np.ndarray) -> np.ndarray:
        if self._seg:
            m = len(self._lo) + 3
            buf = np.zeros(m * self._seg, dtype=np.float64)
            k = min(len(weighted), len(buf))
            buf[:k] = weighted[:k]
            seg = buf.reshape(m, self._seg).sum(axis=1)
            z = seg[:-3] + seg[1:-2] + seg[2:-1] + seg[3:]
            return z / self._block
        cum = np.concatenate(([0.0], np.cumsum(weighted, dtype=np.float64)))
        return (cum[self._hi] - cum[self._lo]) / self._block

    def loudness(self, gain: np.ndarray | float = 1.0) -> float:
        """Integrated loudness in LUFS of the mix times `gain` (a scalar or a per-sample curve)."""
        if self.n < int(self.BLOCK_S * self.sr) + 1 or not len(self._lo):
            return float("-inf")
        if np.isscalar(gain):
            # np.isscalar narrows to numpy's scalar union (str included), not to what float() takes.
            weighted = self.energy * np.float32(float(cast("SupportsFloat", gain)) ** 2)
        else:
            g = np.asarray(gain, dtype=np.float32)
            weighted = self.energy * g * g
        z = self._block_energy(weighted)
        with np.errstate(divide="ignore"):
            blocks = -0.691 + 10 * np.log10(z)
            above = blocks >= -70.0
            if not np.any(above):
                return float("-inf")
            rel = -0.691 + 10 * np.log10(z[above].mean()) - 10.0
            gated = (blocks > rel) & above
            if not np.any(gated):
                return float("-inf")
            return float(-0.691 + 10 * np.log10(z[gated].mean()))


@lru_cache(maxsize=4)
def _phases(factor: int = 4, taps_per_phase: int = 12) -> tuple[np.ndarray, ...]:
    n = factor * taps_per_phase
    t = (np.arange(n) - (n - 1) / 2) / factor
    h = np.sinc(t) * np.kaiser(n, 8.0)
    return tuple((h[k::factor] / h[k::factor].sum()).astype(np.float32) for k in range(factor))


def peak_envelope(audio: np.ndarray, floor: float = 0.0, factor: int = 4) -> np.ndarray:
    """Per-sample maximum of |signal| over all channels and the interpolated positions that follow
    each sample: the envelope a true-peak limiter keeps under its ceiling. Interpolation is only
    computed where a neighbouring sample reaches `floor`; music does not overshoot its samples by
    the 3+ dB it would take for a quieter stretch to matter, and skipping it saves most of the cost."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    env = np.abs(x[:, 0])
    for ch in range(1, x.shape[1]):
        np.maximum(env, np.abs(x[:, ch]), out=env)  # ten times faster than a max over axis 1
    if n < 2:
        return env
    near = env >= floor
    near[:-1] |= near[1:]
    idx = np.nonzero(near)[0]
    if idx.size:
        env[idx] = np.maximum(env[idx], _between(x, idx, factor))
    return env


def true_peak(audio: np.ndarray, floor_ratio: float, factor: int = 4) -> float:
    """The largest |sample| or interpolated value of `audio`, looking between samples only where a
    sample or its successor reaches `floor_ratio` of the sample peak (a few dB under it: a quieter
    stretch would need that much overshoot between samples to matter). Long blocks' extremes give
    the sample peak and the few stretches worth a closer look in one pass; no envelope is built."""
    x = np.ascontiguousarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    if n == 0:
        return 0.0
    rows = _PEAK_BLOCK_ROWS
    whole = n // rows
    flat = x[: whole * rows].reshape(whole, rows * x.shape[1])
    hi = np.maximum(flat.max(axis=1), -flat.min(axis=1)) if whole else np.zeros(0, np.float32)
    if whole * rows < n:
        hi = np.append(hi, np.abs(x[whole * rows :]).max())
    peak = float(hi.max())
    if peak <= 0.0 or n < 2:
        return peak
    floor = peak * floor_ratio
    loud = np.flatnonzero(hi >= floor)
    tail = loud[loud == whole]  # the short last block, when there is one and it is loud
    loud = loud[loud < whole]
    block, col = np.nonzero(np.abs(flat[loud]) >= floor)
    cand = loud[block] * rows + col // x.shape[1]
    if tail.size:
        cand = np.concatenate(
            (cand, whole * rows + np.flatnonzero(np.abs(x[whole * rows :]).max(axis=1) >= floor))
        )
    idx = np.union1d(cand, cand[cand > 0] - 1)
    return max(peak, float(_between(x, idx, factor).max()))


_PEAK_BLOCK_ROWS = 2048  # sample frames per block whose extremes are read first (4096 values in stereo)


def _between(x: np.ndarray, idx: np.ndarray, factor: int) -> np.ndarray:
    """max over channels of |x| at the `factor - 1` interpolated positions after each sample in
    `idx`: windows gathered around those samples only (samples beyond either end read as zero)."""
    n = len(x)
    phases = _phases(factor)
    taps = len(phases[0])
    offsets = np.arange(taps) + 1 - taps // 2  # phase k interpolates between sample i and i+1
    out = np.empty(idx.size, dtype=np.float32)
    chunk = 1 << 16
    for c0 in range(0, idx.size, chunk):
        sel = idx[c0 : c0 + chunk]
        rows = sel[:, None] + offsets[None, :]
        win = x[np.clip(rows, 0, n - 1)]  # (m, taps, ch)
        outside = (rows < 0) | (rows >= n)
        if outside.any():
            win[outside] = 0.0
        best = np.zeros(sel.size, dtype=np.float32)
        for h in phases[1:]:
            y = np.abs(np.einsum("mtc,t->mc", win, h[::-1]))
            best = np.maximum(best, y.max(axis=1))
        out[c0 : c0 + chunk] = best
    return out


def true_peak_db(audio: np.ndarray) -> float:
    """True peak in dBTP (4x oversampled)."""
    if len(audio) == 0:
        return float("-inf")
    peak = true_peak(audio, 0.5)
    return float(20 * np.log10(peak)) if peak > 0 else float("-inf")
