"""Drums, bass and other from an accompaniment (a mix without its voice), by masks that need no weights.

Why a pitch-tracked comb: below 250 Hz the kick carries more energy than the bass (70-80% of what lies
under the bass's own harmonics, in the benchmark's mixtures), and the bass's harmonics run well above any
crossover (its notes go up to ~470 Hz there), so "harmonic energy below a crossover" scored no better than
the mix/4 baseline (0.8 dB on the tuning set). A bass line is one note at a time, though: its pitch is
found per note (harmonic-sum salience on the low band, pooled between onsets, with a check against the
octave errors a kick invites) and the bass keeps the harmonic part of the mix on a comb of that pitch's
harmonics. The percussive/harmonic split in the low band uses a short frequency median (7 bins): the
17-bin one that suits the upper bands reads the gaps between a low note's harmonics as "smooth across
frequency" and hands the bass to the drums.

The masks are ratios of one split of the magnitude (drums = percussive, bass = harmonic x comb, other =
the rest of the harmonic part), so the three stems add up to the input exactly. Every step looks at most
a few seconds around a frame, so a block separated with that much context on each side gives the stems
the whole file would.

Constants were chosen on the tuning mixtures of `benchmarks/separation.py` only (held-out untouched).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse
from scipy.ndimage import maximum_filter1d, median_filter, percentile_filter

from songforge.engines.separation.classical import (
    DEFAULT_PARAMS,
    EPS,
    Params,
    _freqs,
    _istft,
    _lowpass_weight,
    _stft,
    pooled_harmonic_fraction,
)


@dataclass(frozen=True)
class BassParams:
    low_hz: float = 2000.0  # full-resolution low band: its own HPSS, the pitch salience and the comb
    harm_frames: int = 13  # low-band harmonic median, frames (9: -0.0 dB bass, 21: -0.2, drums +0.1)
    perc_bins: int = 7  # low-band percussive median, bins (17: bass -0.3, drums 81% -> 94% won at 7)
    f0_lo_hz: float = 40.0
    f0_hi_hz: float = 500.0
    steps_per_oct: int = 48
    harmonics: int = 5  # salience: harmonics summed per candidate, weighted decay**(h-1)
    decay: float = 0.8
    compress: float = 0.5  # magnitude**compress before the sum
    emphasis_hz: float = 1000.0  # low-pass weight on the salience input: the bass lives low
    sharpen: float = 2.0  # salience input = harmonic x (harmonic share)**sharpen: keeps the kick out
    octave_ratio: float = 0.9  # prefer f0 x 2, 3, 4 when its pooled salience is within this of the best
    onset_top_hz: float = 430.0  # onsets (segment edges) from the flux below this
    onset_threshold: float = 0.3  # of the local 95th percentile of the flux
    onset_gap_frames: int = 3
    local_s: float = 4.0  # half-width of the windows the onset levels are taken over
    max_segment_frames: int = 43  # ~1 s: a note longer than that is pooled in pieces
    comb_width_hz: float = 12.0  # Gaussian tooth around each harmonic (bins are 10.8 Hz apart)
    bass_top_hz: float = 800.0  # the comb fades out above this ...
    bass_top_width_oct: float = 1.0  # ... over about this many octaves


DEFAULT_BASS = BassParams()


def _low_bins(sr: int, p: Params, bp: BassParams) -> int:
    return int(np.searchsorted(_freqs(sr, p), bp.low_hz))


def lowband_hpss(mag: np.ndarray, bp: BassParams) -> np.ndarray:
    """Harmonic share (0..1, power-ratio) of each low-band bin, from full-resolution median filters."""
    harm = median_filter(mag, size=(1, bp.harm_frames), mode="reflect")
    perc = median_filter(mag, size=(bp.perc_bins, 1), mode="reflect")
    harm *= harm
    perc *= perc
    return harm / (harm + perc + EPS)


@lru_cache(maxsize=8)
def _salience(n_bins: int, sr: int, n_fft: int, bp: BassParams) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(candidates, bins) weights summing each candidate pitch's first harmonics (linear interpolation)."""
    n_oct = np.log2(bp.f0_hi_hz / bp.f0_lo_hz)
    f0s = bp.f0_lo_hz * 2.0 ** (np.arange(int(n_oct * bp.steps_per_oct) + 1) / bp.steps_per_oct)
    rows, cols, vals = [], [], []
    bin_hz = sr / n_fft
    for c, f0 in enumerate(f0s):
        for h in range(1, bp.harmonics + 1):
            pos = h * f0 / bin_hz
            lo = int(np.floor(pos))
            if lo + 1 >= n_bins:
                break
            frac = pos - lo
            weight = bp.decay ** (h - 1)
            rows += [c, c]
            cols += [lo, lo + 1]
            vals += [weight * (1 - frac), weight * frac]
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(f0s), n_bins), dtype=np.float32)
    return matrix, f0s.astype(np.float32)


def note_segments(mag: np.ndarray, sr: int, p: Params, bp: BassParams) -> np.ndarray:
    """Segment edges (frame indices, first 0, last = frames): low-band onsets, long gaps cut to pieces.

    Levels are relative to the loudest frame and the flux's percentile within `local_s` of each frame, not
    over the whole input, so the edges a chunk finds are the ones the whole file has.
    """
    frames = mag.shape[1]
    top = max(2, int(np.searchsorted(_freqs(sr, p), bp.onset_top_hz)))
    low = mag[:top]
    width = 2 * int(bp.local_s * sr / p.hop) + 1
    ref = maximum_filter1d(low.max(axis=0), width, mode="nearest")
    level = np.log1p(100.0 * low / (ref[None, :] + EPS))
    flux = np.concatenate([[0.0], np.maximum(np.diff(level, axis=1), 0.0).sum(axis=0)])
    flux = flux - median_filter(flux, size=15, mode="nearest")
    threshold = bp.onset_threshold * percentile_filter(flux, 95, size=width, mode="nearest")
    peak = (flux[1:-1] > threshold[1:-1]) & (flux[1:-1] >= flux[:-2]) & (flux[1:-1] >= flux[2:])
    edges = [0]
    for t in np.flatnonzero(peak) + 1:
        if t - edges[-1] >= bp.onset_gap_frames:
            edges.append(int(t))
    edges.append(frames)
    out = [0]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        pieces = max(1, int(np.ceil((b - a) / bp.max_segment_frames)))
        out += [int(round(a + (b - a) * (k + 1) / pieces)) for k in range(pieces)]
    return np.unique(np.asarray(out, dtype=np.int64))


def track_bass(
    harm: np.ndarray, perc: np.ndarray, mag: np.ndarray, sr: int, p: Params, bp: BassParams
) -> np.ndarray:
    """The bass pitch per frame, Hz: the candidate whose harmonics hold the most of the low band's
    harmonic energy, summed over each note segment (a note keeps its pitch; frame-wise argmax was 85%
    right on the tuning set, pooled 88%)."""
    matrix, f0s = _salience(harm.shape[0], sr, p.n_fft, bp)
    freqs = _freqs(sr, p)[: harm.shape[0], None]
    share = harm * harm / (harm * harm + perc * perc + EPS)
    x = harm * share**bp.sharpen
    x = np.power(x, bp.compress) * _lowpass_weight(freqs, bp.emphasis_hz, 1.0).astype(np.float32)
    sal = np.asarray(matrix @ x)
    sal /= sal.max(axis=0, keepdims=True) + EPS  # every frame votes once
    edges = note_segments(mag, sr, p, bp)
    best = np.empty(harm.shape[1], np.int64)
    octave_steps = [int(round(np.log2(m) * bp.steps_per_oct)) for m in (2, 3, 4)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        first = min(a + 1, b - 1) if b - a > 2 else a  # the attack frame is mostly the kick's
        pooled = sal[:, first:b].sum(axis=1)
        k = int(np.argmax(pooled))
        # A kick under the note lends a sub-harmonic candidate its lowest "harmonic": if a multiple of
        # the winner explains nearly as much, the multiple is the note.
        for step in octave_steps:
            j = k + step
            if j + 1 < len(f0s) and pooled[j - 1 : j + 2].max() >= bp.octave_ratio * pooled[k]:
                k = j - 1 + int(np.argmax(pooled[j - 1 : j + 2]))
        best[a:b] = k
    return f0s[best]


def bass_comb(f0: np.ndarray, freqs: np.ndarray, bp: BassParams) -> np.ndarray:
    """(bins, frames) 0..1: Gaussian teeth on the harmonics of `f0`, faded out above `bass_top_hz`."""
    col = freqs[:, None].astype(np.float32)
    ratio = col / f0[None, :]
    k = np.rint(ratio)
    distance = np.abs(ratio - k) * f0[None, :]
    comb = np.exp(-0.5 * (distance / bp.comb_width_hz) ** 2) * (k >= 1)
    comb *= _lowpass_weight(col, bp.bass_top_hz, bp.bass_top_width_oct)
    return comb.astype(np.float32)


def split_accompaniment(
    accompaniment: np.ndarray,
    sr: int,
    p: Params = DEFAULT_PARAMS,
    bp: BassParams = DEFAULT_BASS,
) -> dict[str, np.ndarray]:
    """Drums, bass and other of float32 (n, 2) audio without the voice; the three add up to the input."""
    n = accompaniment.shape[0]
    if n < p.n_fft:
        padded = np.pad(accompaniment, ((0, p.n_fft - n), (0, 0)))
        return {k: v[:n] for k, v in split_accompaniment(padded, sr, p, bp).items()}
    spec = _stft(accompaniment, p)
    mag = np.mean(np.abs(spec), axis=0)
    frac = pooled_harmonic_fraction(mag, sr, p)  # upper bands: pooled HPSS, as the classical method
    low = _low_bins(sr, p, bp)
    frac[:low] = lowband_hpss(mag[:low], bp)
    harm = mag[:low] * frac[:low]
    f0 = track_bass(harm, mag[:low] - harm, mag, sr, p, bp)
    share = bass_comb(f0, _freqs(sr, p)[:low], bp) * frac[:low]
    # Magnitude-ratio masks of one split of `mag`: drums 1 - frac, bass frac x comb, other the rest.
    drums = _istft(spec * (1.0 - frac)[None], n, p)
    del frac
    spec[:, low:] = 0.0
    spec[:, :low] *= share[None]
    bass = _istft(spec, n, p)
    del spec
    other = accompaniment.astype(np.float32) - drums - bass
    return {"drums": drums, "bass": bass, "other": other}
