"""Weight-free separation into vocals, drums, bass and other, by spectrogram masking.

Each method estimates a magnitude spectrogram per source from cues that need no training: drums are
what is smooth across frequency and short in time (harmonic/percussive median filtering), bass is the
harmonic energy below a crossover, vocals are harmonic energy that is centred in the stereo image
("centre") or that does not repeat the way the accompaniment does ("repet", REPET-SIM). The estimates
become Wiener-style soft masks normalised to sum to one, applied to the complex stereo STFT, so the four
stems always add back up to the input (to float rounding) and no energy is invented or lost.

Constants were chosen by measurement with `benchmarks/separation.py`, not by ear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy import sparse
from scipy.ndimage import median_filter
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

STEMS = ("vocals", "drums", "bass", "other")
EPS = 1e-10


@dataclass(frozen=True)
class Params:
    n_fft: int = 4096
    hop: int = 1024
    # HPSS median-filter lengths: frames across time (harmonic), bins across frequency (percussive).
    harm_frames: int = 17
    perc_bins: int = 17
    bass_cut_hz: float = 250.0  # harmonic energy below this is bass (180: 2.8 dB mean, 250: 3.1, 350: 3.2)
    bass_width_oct: float = 0.35  # crossover slope, in octaves
    vocal_lo_hz: float = 150.0
    vocal_hi_hz: float = 10000.0
    centre_power: float = 4.0  # sharpens the stereo-similarity cue
    mask_power: float = 2.0  # 2 = Wiener (power ratio) masks
    # REPET-SIM
    repet_neighbours: int = 12
    repet_min_gap_s: float = 1.0
    repet_feature_bands: int = 96
    # "harmonic": HPSS on pooled bands, then a harmonic comb on the predominant pitch for the vocal.
    linear_below_hz: float = 1500.0  # STFT bins stay single below this; above, bands of 1/`band_per_oct`
    bands_per_oct: int = 36
    band_perc_bins: int = 17  # percussive median length, in pooled bands
    band_harm_frames: int = 13  # harmonic median length in frames; 9 wins on the embedded set, 13 on both
    drum_gain: float = 1.0  # scales the percussive estimate (0.5 wins on the product's quiet drums, loses
    #                         2 dB on the FluidSynth set's loud ones; 1.0 is the compromise on both sets)
    harmonic_bass_cut_hz: float = 200.0  # embedded set: 150 Hz gave 3.3 dB bass, 250 Hz 0.2; FluidSynth: 250
    harmonic_bass_width_oct: float = 0.7
    harmonic_mask_power: float = 1.0  # magnitude-ratio masks beat Wiener (power 2) by 0.4 dB mean here
    f0_lo_hz: float = 90.0
    f0_hi_hz: float = 900.0
    f0_steps_per_oct: int = 48
    salience_harmonics: int = 10
    comb_width_hz: float = 14.0  # half-width of each harmonic's tooth (bins are 10.8 Hz apart)
    comb_top_hz: float = 8000.0
    voicing_centre: float = 0.35  # share of the band's harmonic energy the comb must catch to count as sung
    voicing_slope: float = 0.08
    centre_floor: float = 0.0  # how much of the comb survives where the stereo cue says "not centred"
    harmonic_centre_power: float = 1.0
    vocal_from_mix: bool = True  # the comb takes from the whole magnitude, not the time-smoothed harmonics
    vocal_perc_weight: float = 1.0  # share of the percussive part under the comb that goes to the vocal


DEFAULT_PARAMS = Params()

ProgressFn = Callable[[int, str], None]


@lru_cache(maxsize=4)
def _transform(n_fft: int, hop: int) -> ShortTimeFFT:
    # ShortTimeFFT frames the signal without copying and runs several times faster than scipy.signal.stft,
    # which matters: the transforms were a third of the separation time.
    return ShortTimeFFT(hann(n_fft, sym=False).astype(np.float32), hop=hop, fs=1.0)


def _stft_scipy(audio: np.ndarray, p: Params) -> np.ndarray:
    """(channels, freq, frames) complex; frames overhang both ends so the inverse restores every sample."""
    spec = _transform(p.n_fft, p.hop).stft(np.ascontiguousarray(audio.T, dtype=np.float32))
    return spec.astype(np.complex64, copy=False)


def _istft_scipy(spec: np.ndarray, n: int, p: Params) -> np.ndarray:
    out = _transform(p.n_fft, p.hop).istft(spec, k1=n)
    return np.ascontiguousarray(out.T, dtype=np.float32)


FRAME_BATCH = 256  # frames per FFT call in the transforms below: bounds their temporaries (~8 MB)


def _stft(audio: np.ndarray, p: Params) -> np.ndarray:
    """`_stft_scipy`, bit for bit, with the frames' FFTs vectorised (ShortTimeFFT calls the FFT once
    per frame from Python: 0.25 s -> 0.11 s for 38 s of stereo). (channels, freq, frames) complex64."""
    if (p.n_fft // 2) % p.hop:  # the overlap-add below needs half a window to be whole hops
        return _stft_scipy(audio, p)
    t = _transform(p.n_fft, p.hop)
    n, half = audio.shape[0], p.n_fft // 2
    q0, q1 = t.p_min, t.p_max(n)
    lead = t.m_num_mid - q0 * p.hop  # zeros before sample 0 under the first frame
    x = np.zeros((audio.shape[1], (q1 - q0 - 1) * p.hop + p.n_fft), np.float32)
    x[:, lead : lead + n] = audio.T
    frames = sliding_window_view(x, p.n_fft, axis=1)[:, :: p.hop]  # (channels, frames, n_fft), a view
    # ShortTimeFFT rolls each windowed frame by half its length before the FFT: so do the halves here.
    win = np.concatenate([t.win[half:], t.win[:half]]).astype(np.float32)
    spec = np.empty((x.shape[0], half + 1, q1 - q0), np.complex64)
    for a in range(0, q1 - q0, FRAME_BATCH):
        block = frames[:, a : a + FRAME_BATCH]
        rolled = np.concatenate([block[..., half:], block[..., :half]], axis=-1) * win
        spec[:, :, a : a + FRAME_BATCH] = scipy.fft.rfft(rolled, axis=-1).transpose(0, 2, 1)
    return spec


def _istft(spec: np.ndarray, n: int, p: Params) -> np.ndarray:
    """`_istft_scipy` (to float32 rounding) by vectorised inverse FFTs and overlap-add. (n, channels)."""
    if (p.n_fft // 2) % p.hop:
        return _istft_scipy(spec, n, p)
    t = _transform(p.n_fft, p.hop)
    channels, _, count = spec.shape
    half, ratio = p.n_fft // 2, p.n_fft // p.hop
    # The dual window, rolled like the frames: sample s of an inverse FFT sits at (s + half) % n_fft.
    win = np.concatenate([t.dual_win[half:], t.dual_win[:half]]).astype(np.float32)
    out = np.zeros((channels, count + ratio - 1, p.hop), np.float32)
    for a in range(0, count, FRAME_BATCH):
        block = np.ascontiguousarray(spec[:, :, a : a + FRAME_BATCH].transpose(0, 2, 1))
        frames = scipy.fft.irfft(block, n=p.n_fft, axis=-1) * win
        frames = frames.reshape(channels, -1, ratio, p.hop)
        for r in range(ratio):
            lo = a + (r + half // p.hop) % ratio
            out[:, lo : lo + frames.shape[1]] += frames[:, :, r]
    start = t.m_num_mid - t.p_min * p.hop
    return np.ascontiguousarray(out.reshape(channels, -1)[:, start : start + n].T)


def _freqs(sr: int, p: Params) -> np.ndarray:
    return np.arange(p.n_fft // 2 + 1) * sr / p.n_fft


def _lowpass_weight(freqs: np.ndarray, cut_hz: float, width_oct: float) -> np.ndarray:
    """A smooth 0..1 weight, 1 well below `cut_hz`: a hard split would leave bass harmonics ringing."""
    octaves = np.log2(np.maximum(freqs, 1.0) / cut_hz)
    return 1.0 / (1.0 + np.exp(octaves / max(width_oct / 4.0, 1e-3)))


def _band_weight(freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (1.0 - _lowpass_weight(freqs, lo, 0.5)) * _lowpass_weight(freqs, hi, 0.5)


def hpss_magnitudes(mag: np.ndarray, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Median-filtered harmonic and percussive magnitude estimates (Fitzgerald 2010)."""
    harm = median_filter(mag, size=(1, p.harm_frames), mode="reflect")
    perc = median_filter(mag, size=(p.perc_bins, 1), mode="reflect")
    return harm, perc


def centre_similarity(spec: np.ndarray) -> np.ndarray:
    """Inter-channel similarity in [0, 1] per bin (Avendano & Jot): 1 where left and right agree.

    For mono-compatible material everything is centred and the cue carries no information, which is
    why the REPET method exists as well.
    """
    if spec.shape[0] < 2:
        return np.ones(spec.shape[1:], dtype=np.float32)
    left, right = spec[0], spec[1]
    power = np.abs(left) ** 2 + np.abs(right) ** 2
    # Real part of the normalised cross-spectrum: in-phase equal-level content scores 1, panned or
    # out-of-phase content less.
    similarity = 2.0 * np.real(left * np.conj(right)) / (power + EPS)
    return np.clip(similarity, 0.0, 1.0).astype(np.float32)


def _band_features(mag: np.ndarray, sr: int, p: Params) -> np.ndarray:
    """Log-spaced band energies, unit-normalised per frame, for frame-to-frame similarity."""
    freqs = _freqs(sr, p)
    edges = np.geomspace(60.0, min(sr / 2, 12000.0), p.repet_feature_bands + 1)
    idx = np.clip(np.searchsorted(freqs, edges), 0, len(freqs) - 1)
    cum = np.concatenate([np.zeros((1, mag.shape[1]), mag.dtype), np.cumsum(mag, axis=0)], axis=0)
    bands = []
    for lo, hi in zip(idx[:-1], idx[1:], strict=True):
        hi = max(hi, lo + 1)
        bands.append((cum[hi] - cum[lo]) / (hi - lo))
    feats = np.log1p(np.asarray(bands, dtype=np.float32) * 100.0)
    feats -= feats.mean(axis=1, keepdims=True)
    feats /= np.linalg.norm(feats, axis=0, keepdims=True) + EPS
    return feats  # (bands, frames)


def repet_sim_background(mag: np.ndarray, sr: int, p: Params, *, chunk: int = 512) -> np.ndarray:
    """REPET-SIM (Rafii & Pardo 2012): the repeating background is the median of the most similar
    frames elsewhere in the song; what exceeds it (vocals, solos) does not repeat.

    Similarity is computed on compact band features in blocks, so memory stays O(frames x k).
    """
    feats = _band_features(mag, sr, p)
    n = mag.shape[1]
    k = min(p.repet_neighbours, max(n - 1, 1))
    gap = int(round(p.repet_min_gap_s * sr / p.hop))
    background = np.empty_like(mag)
    frames = np.arange(n)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        sim = feats[:, start:stop].T @ feats  # (block, n)
        rows = np.arange(start, stop)[:, None]
        sim[np.abs(frames[None, :] - rows) < max(gap, 1)] = -np.inf
        if n - 2 * gap <= k:
            background[:, start:stop] = mag[:, start:stop]
            continue
        nbrs = np.argpartition(-sim, k - 1, axis=1)[:, :k]  # (block, k)
        gathered = mag[:, nbrs]  # (freq, block, k)
        background[:, start:stop] = np.median(gathered, axis=2)
    return np.minimum(background, mag)


@lru_cache(maxsize=8)
def _band_pooling(
    n_bins: int, sr: int, n_fft: int, linear_below_hz: float, per_oct: int
) -> sparse.csr_matrix:
    """(bands, bins) averaging matrix: single bins at low frequency, log-spaced bands above.

    The HPSS median filters are the expensive step; on ~280 bands instead of 2049 bins they cost a seventh
    as much, and the harmonic/percussive ratio they give varies slowly enough across the upper bins that
    spreading it back over them loses little (measured: see benchmarks/separation.py).
    """
    freqs = np.arange(n_bins) * sr / n_fft
    band = np.empty(n_bins, dtype=np.int64)
    linear = freqs < linear_below_hz
    n_linear = int(linear.sum())
    band[linear] = np.arange(n_linear)
    octaves = np.log2(freqs[~linear] / linear_below_hz)
    band[~linear] = n_linear + np.floor(octaves * per_oct).astype(np.int64)
    _, band = np.unique(band, return_inverse=True)
    counts = np.bincount(band).astype(np.float32)
    pool = sparse.csr_matrix(
        (1.0 / counts[band], (band, np.arange(n_bins))), shape=(int(band.max()) + 1, n_bins), dtype=np.float32
    )
    return pool


def pooled_harmonic_fraction(mag: np.ndarray, sr: int, p: Params) -> np.ndarray:
    """Each bin's harmonic share (0..1, power ratio of the medians), from median filters on pooled bands."""
    pool = _band_pooling(mag.shape[0], sr, p.n_fft, p.linear_below_hz, p.bands_per_oct)
    bands = np.asarray(pool @ mag, dtype=np.float32)
    harm = median_filter(bands, size=p.band_harm_frames, axes=(1,), mode="reflect")
    perc = median_filter(bands, size=p.band_perc_bins, axes=(0,), mode="reflect") * p.drum_gain
    harm2, perc2 = harm * harm, perc * perc
    frac = harm2 / (harm2 + perc2 + EPS)
    # Each bin takes its band's harmonic fraction (the pooling matrix's transpose, renormalised, spreads it).
    spread = (pool.T > 0).astype(np.float32)
    return np.asarray(spread @ frac, dtype=np.float32)


def pooled_hpss(mag: np.ndarray, sr: int, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic and percussive magnitudes at full resolution, from median filters run on pooled bands."""
    frac_bins = pooled_harmonic_fraction(mag, sr, p)
    return mag * frac_bins, mag * (1.0 - frac_bins)


@lru_cache(maxsize=8)
def _salience_matrix(n_bins: int, sr: int, n_fft: int, p: Params) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(candidates, bins) weights summing each candidate pitch's harmonics (linear interpolation, 0.8^h)."""
    n_oct = np.log2(p.f0_hi_hz / p.f0_lo_hz)
    f0s = p.f0_lo_hz * 2.0 ** (np.arange(int(n_oct * p.f0_steps_per_oct) + 1) / p.f0_steps_per_oct)
    rows, cols, vals = [], [], []
    bin_hz = sr / n_fft
    for c, f0 in enumerate(f0s):
        for h in range(1, p.salience_harmonics + 1):
            pos = h * f0 / bin_hz
            lo = int(np.floor(pos))
            if lo + 1 >= n_bins:
                break
            frac = pos - lo
            weight = 0.8 ** (h - 1)
            rows += [c, c]
            cols += [lo, lo + 1]
            vals += [weight * (1 - frac), weight * frac]
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(f0s), n_bins), dtype=np.float32)
    return matrix, f0s.astype(np.float32)


def vocal_comb(harm: np.ndarray, sr: int, p: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sung line is one voice: find the predominant pitch per frame and keep a comb on its harmonics.

    Returns (comb (freq, frames) in 0..1, f0 per frame in Hz, voicing per frame in 0..1). Voicing is the
    share of the vocal band's harmonic energy the comb catches: high for a voice over a quieter backing,
    low when chords or noise dominate (then the comb is probably on an instrument).
    """
    matrix, f0s = _salience_matrix(harm.shape[0], sr, p.n_fft, p)
    compressed = np.sqrt(harm)
    salience = np.asarray(matrix @ compressed)
    f0 = f0s[np.argmax(salience, axis=0)]  # (frames,)
    freqs = _freqs(sr, p).astype(np.float32)[:, None]
    ratio = freqs / f0[None, :]
    k = np.rint(ratio)
    distance = np.abs(ratio - k) * f0[None, :]
    comb = np.exp(-0.5 * (distance / p.comb_width_hz) ** 2) * (k >= 1) * (freqs < p.comb_top_hz)
    comb = comb.astype(np.float32)
    band = ((freqs >= p.f0_lo_hz) & (freqs < p.comb_top_hz)).astype(np.float32)
    energy = harm * harm * band
    caught = np.sum(energy * comb, axis=0) / (np.sum(energy, axis=0) + EPS)
    caught = median_filter(caught, size=5, mode="nearest")
    voicing = 1.0 / (1.0 + np.exp(-(caught - p.voicing_centre) / p.voicing_slope))
    return comb, f0, voicing.astype(np.float32)


def estimate_magnitudes(
    spec: np.ndarray, sr: int, method: str, p: Params = DEFAULT_PARAMS
) -> dict[str, np.ndarray]:
    """Per-source magnitude estimates (freq, frames) that the masks are built from."""
    mag = np.mean(np.abs(spec), axis=0)
    if method == "harmonic":
        return _harmonic_estimates(spec, mag, sr, p)
    harm, perc = hpss_magnitudes(mag, p)
    freqs = _freqs(sr, p)[:, None]
    low = _lowpass_weight(freqs, p.bass_cut_hz, p.bass_width_oct)
    vocal_band = _band_weight(freqs, p.vocal_lo_hz, p.vocal_hi_hz)
    bass = harm * low
    upper = harm * (1.0 - low)
    if method == "centre":
        share = centre_similarity(spec) ** p.centre_power * vocal_band
    elif method == "repet":
        background = repet_sim_background(harm, sr, p)
        share = np.clip(1.0 - background / (harm + EPS), 0.0, 1.0) * vocal_band
    elif method == "repet-centre":
        background = repet_sim_background(harm, sr, p)
        rep = np.clip(1.0 - background / (harm + EPS), 0.0, 1.0)
        share = np.sqrt(rep * centre_similarity(spec) ** p.centre_power) * vocal_band
    else:
        raise ValueError(f"unknown classical method {method!r}")
    return {"vocals": upper * share, "drums": perc, "bass": bass, "other": upper * (1.0 - share)}


def _harmonic_estimates(spec: np.ndarray, mag: np.ndarray, sr: int, p: Params) -> dict[str, np.ndarray]:
    harm, perc = pooled_hpss(mag, sr, p)
    freqs = _freqs(sr, p)[:, None]
    low = _lowpass_weight(freqs, p.harmonic_bass_cut_hz, p.harmonic_bass_width_oct).astype(np.float32)
    comb, _, voicing = vocal_comb(harm * (1.0 - low), sr, p)
    centre = centre_similarity(spec) ** p.harmonic_centre_power
    vocal_band = _band_weight(freqs, p.vocal_lo_hz, p.vocal_hi_hz).astype(np.float32)
    share = comb * voicing[None, :] * (p.centre_floor + (1.0 - p.centre_floor) * centre) * vocal_band
    upper = harm * (1.0 - low)
    vocals = (upper + p.vocal_perc_weight * perc) * share if p.vocal_from_mix else upper * share
    return {
        "vocals": vocals,
        "drums": perc * (1.0 - share) if p.vocal_from_mix else perc,
        "bass": harm * low,
        "other": upper * (1.0 - share),
    }


def soft_masks(estimates: dict[str, np.ndarray], power: float) -> dict[str, np.ndarray]:
    """Masks proportional to estimate**power that sum to one in every bin (silence goes to "other")."""
    powered = {name: np.power(est, power, dtype=np.float32) for name, est in estimates.items()}
    total = sum(powered.values())
    empty = total <= EPS
    masks = {}
    for name, val in powered.items():
        m = val / np.where(empty, 1.0, total)
        if name == "other":
            m = np.where(empty, 1.0, m)
        masks[name] = m.astype(np.float32)
    return masks


def apply_masks(
    audio: np.ndarray, spec: np.ndarray, masks: dict[str, np.ndarray], p: Params
) -> dict[str, np.ndarray]:
    """Mask the complex STFT and invert; the last stem is the remainder so the sum is exact."""
    n = audio.shape[0]
    out: dict[str, np.ndarray] = {}
    names = [s for s in STEMS if s in masks]
    for name in names[:-1]:
        out[name] = _istft(spec * masks[name][None, :, :], n, p)
    rest = audio.astype(np.float32).copy()
    for name in names[:-1]:
        rest -= out[name]
    out[names[-1]] = rest
    return {name: out[name] for name in names}


def separate_classical(
    audio: np.ndarray,
    sr: int,
    method: str = "centre",
    *,
    params: Params = DEFAULT_PARAMS,
    progress: ProgressFn | None = None,
) -> dict[str, np.ndarray]:
    """Separate float32 (n, 2) audio; every stem is float32 (n, 2) and they sum to the input."""
    report = progress or (lambda _pct, _stage: None)
    n = audio.shape[0]
    if n < params.n_fft:
        # Shorter than one analysis window: pad with silence, separate, and cut back.
        padded = np.pad(audio, ((0, params.n_fft - n), (0, 0)))
        stems = separate_classical(padded, sr, method, params=params, progress=progress)
        return {name: np.ascontiguousarray(s[:n]) for name, s in stems.items()}
    report(5, "analysing")
    spec = _stft(audio, params)
    report(25, "modelling")
    estimates = estimate_magnitudes(spec, sr, method, params)
    masks = soft_masks(estimates, params.harmonic_mask_power if method == "harmonic" else params.mask_power)
    report(70, "resynthesising")
    stems = apply_masks(audio, spec, masks, params)
    report(100, "done")
    return stems


def ideal_ratio_masks(
    audio: np.ndarray, references: dict[str, np.ndarray], p: Params = DEFAULT_PARAMS, power: float = 2.0
) -> dict[str, np.ndarray]:
    """The oracle: masks computed from the true stems. Only benchmarks can call this; it bounds what any
    masking method on this STFT could reach."""
    spec = _stft(audio, p)
    estimates = {name: np.mean(np.abs(_stft(ref, p)), axis=0) for name, ref in references.items()}
    return apply_masks(audio, spec, soft_masks(estimates, power), p)
