"""Re-pitching speech by pitch-synchronous overlap-add (TD-PSOLA), guided by the phones' voicing.

WORLD's analysis and resynthesis of joe's speech at its own pitch already cost about 1 DNSMOS OVRL:
dio called his low, creaky held vowels unvoiced or an octave high, and the vocoder's envelope and
aperiodicity smear what it does catch. Overlap-add keeps the recorded waveform, one grain per glottal
pulse, so the voice keeps its own texture; its weak point is the pitch marks. Here the caller says
where the voice is voiced (the model's own phone timings: vowels and sonorants), so voicing is never
guessed, and the period is tracked inside those spans by a YIN difference function with a Viterbi
path that penalises octave jumps; the marks are then put on the waveform's main peak of each period.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import firwin2, oaconvolve

HOP = 120  # samples between period estimates (5 ms at 24 kHz)
FMIN, FMAX = 55.0, 320.0
WIN = 512  # YIN integration window in samples
CANDIDATES = 4
OCTAVE_COST = 0.6  # Viterbi cost per octave of jump between neighbouring frames
SEARCH = 0.22  # a mark is searched within this fraction of a period around where the period says
EDGE_S = 0.008  # crossfade between the re-pitched and the untouched signal at voicing edges


def _frames(x: np.ndarray, n_frames: int, length: int) -> np.ndarray:
    pad = np.pad(x, (0, n_frames * HOP + length))
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(length)[None, :]
    return pad[idx]


def periods(x: np.ndarray, sr: int, voiced: np.ndarray) -> np.ndarray:
    """The period in samples at every HOP frame (frame i starts at sample i*HOP; the estimate is for
    its window's middle), tracked over the frames `voiced` marks; 0 elsewhere."""
    n_frames = len(voiced)
    tmin, tmax = int(sr / FMAX), int(math.ceil(sr / FMIN))
    out = np.zeros(n_frames)
    if not np.any(voiced):
        return out
    idx = np.flatnonzero(voiced)
    fr = _frames(x, n_frames, WIN + tmax + 1)[idx]
    n_fft = 1 << int(math.ceil(math.log2(2 * (WIN + tmax + 1))))
    a = fr[:, :WIN]
    # d(t) = sum (x_j - x_{j+t})^2 over the window: energies by cumulative sums, the cross term by FFT.
    cross = np.fft.irfft(np.conj(np.fft.rfft(a, n_fft)) * np.fft.rfft(fr, n_fft), n_fft)[:, : tmax + 1]
    sq = np.cumsum(np.pad(fr**2, ((0, 0), (1, 0))), axis=1)
    lags = np.arange(tmax + 1)
    e_shift = sq[:, lags + WIN] - sq[:, lags]
    d = sq[:, WIN][:, None] + e_shift - 2 * cross
    d[:, 0] = 0.0
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * lags[1:][None, :] / np.maximum(cum, 1e-12)
    # Candidates: the deepest local minima within the range, each with its cost.
    c = cmnd[:, tmin : tmax + 1]
    is_min = np.zeros_like(c, dtype=bool)
    is_min[:, 1:-1] = (c[:, 1:-1] <= c[:, :-2]) & (c[:, 1:-1] <= c[:, 2:])
    cost = np.where(is_min, c, np.inf)
    order = np.argsort(cost, axis=1)[:, :CANDIDATES]
    cand_cost = np.take_along_axis(cost, order, axis=1)
    cand_lag = (order + tmin).astype(np.float64)
    # Parabolic refinement of each minimum.
    rows = np.arange(len(idx))[:, None]
    lo = np.clip(order - 1, 0, c.shape[1] - 1)
    hi = np.clip(order + 1, 0, c.shape[1] - 1)
    y0, y1, y2 = c[rows, lo], c[rows, order], c[rows, hi]
    den = y0 - 2 * y1 + y2
    shift = np.where(np.abs(den) > 1e-9, 0.5 * (y0 - y2) / np.where(den == 0, 1, den), 0.0)
    cand_lag += np.clip(shift, -1, 1)
    finite = np.isfinite(cand_cost)
    cand_cost = np.where(finite, cand_cost, 5.0)
    cand_lag = np.where(finite, cand_lag, np.nan)
    # Viterbi over runs of consecutive voiced frames.
    runs = np.split(np.arange(len(idx)), np.flatnonzero(np.diff(idx) > 1) + 1)
    best = np.full(len(idx), np.nan)
    log_lag = np.log2(np.where(np.isnan(cand_lag), 1.0, cand_lag))
    for run in runs:
        acc = cand_cost[run[0]].copy()
        back = np.zeros((len(run), CANDIDATES), dtype=int)
        for k in range(1, len(run)):
            i, j = run[k - 1], run[k]
            jump = np.abs(log_lag[j][:, None] - log_lag[i][None, :]) * OCTAVE_COST
            jump = np.where(np.isnan(cand_lag[j])[:, None] | np.isnan(cand_lag[i])[None, :], 0.3, jump)
            tot = acc[None, :] + jump
            back[k] = np.argmin(tot, axis=1)
            acc = tot[np.arange(CANDIDATES), back[k]] + cand_cost[j]
        s = int(np.argmin(acc))
        for k in range(len(run) - 1, -1, -1):
            best[run[k]] = cand_lag[run[k], s]
            s = back[k, s]
    good = ~np.isnan(best)
    if not np.any(good):
        best[:] = sr / 110.0
    elif not np.all(good):
        best = np.interp(np.arange(len(best)), np.flatnonzero(good), best[good])
    out[idx] = best
    return out


def _regions(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def marks(x: np.ndarray, period: np.ndarray, s0: int, s1: int) -> np.ndarray:
    """Pitch marks in [s0, s1): one per period, each on the waveform's largest peak (of the polarity
    whose peaks stand out more in this span) near where the previous mark and the period put it."""
    seg = x[s0:s1]
    sign = 1.0 if np.max(seg) >= -np.min(seg) else -1.0
    y = sign * x
    t0 = period[min(s0, len(period) - 1)]
    first = s0 + int(np.argmax(y[s0 : min(s1, s0 + int(t0) + 1)]))
    out = [first]
    while True:
        prev = out[-1]
        t = period[min(prev, len(period) - 1)]
        c = prev + t
        a, b = int(c - SEARCH * t), int(c + SEARCH * t) + 1
        if a >= s1:
            break
        b = min(b, len(y))
        if b <= a:
            break
        nxt = a + int(np.argmax(y[a:b]))
        if nxt <= prev:
            nxt = prev + max(int(t), 1)
        out.append(nxt)
    return np.asarray(out, dtype=np.int64)


def _tilt_filter(sr: int, tilt_db: float) -> np.ndarray:
    freqs = np.linspace(0, sr / 2, 65)
    gain = 10 ** (tilt_db * np.log2(np.maximum(freqs, 1000.0) / 1000.0) / 20.0)
    return firwin2(129, freqs, gain, fs=sr)


NOISE_NFFT = 512  # the unvoiced spans' formant warp works on STFT frames this long (21 ms at 24 kHz)
NOISE_SMOOTH_BINS = 9  # their spectral envelope: the magnitudes smoothed over this many bins (420 Hz)


def warp_unvoiced(x: np.ndarray, sr: int, formant: float) -> np.ndarray:
    """`x` with its spectral envelope moved up by `formant` (the grains' warp, for the spans PSOLA
    leaves alone: a consonant heard through the same vocal tract as the vowels around it). Each STFT
    frame's magnitudes, smoothed over NOISE_SMOOTH_BINS, give the envelope; the frame is scaled by the
    ratio of the envelope read at f/formant to the envelope at f, its phase kept."""
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import istft, stft

    if abs(formant - 1.0) < 1e-3 or len(x) < NOISE_NFFT:
        return x
    _, _, z = stft(x, sr, nperseg=NOISE_NFFT, noverlap=3 * NOISE_NFFT // 4)
    env = uniform_filter1d(np.abs(z), NOISE_SMOOTH_BINS, axis=0) + 1e-9
    bins = np.arange(z.shape[0]) / formant
    lo = np.clip(np.floor(bins).astype(int), 0, z.shape[0] - 1)
    hi = np.clip(lo + 1, 0, z.shape[0] - 1)
    fr = np.clip(bins - lo, 0, 1)[:, None]
    warped = env[lo] * (1 - fr) + env[hi] * fr
    _, y = istft(z * np.clip(warped / env, 0.05, 20.0), sr, nperseg=NOISE_NFFT, noverlap=3 * NOISE_NFFT // 4)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]


def repitch(
    x: np.ndarray,
    sr: int,
    voiced_s: np.ndarray,
    f0_parts: list[np.ndarray],
    formant: float = 1.0,
    tilt_db: float = 0.0,
    breath: float = 0.0,
    seed: int = 0,
    unvoiced: bool = True,
) -> list[np.ndarray]:
    """`x` re-pitched to each F0 curve of `f0_parts` (Hz per sample, aligned with x) on the samples
    `voiced_s` marks; elsewhere x as it is. `formant` scales the grains' spectra (> 1: a shorter
    vocal tract), `tilt_db` tilts above 1 kHz (dB per octave), `breath` adds air above 2 kHz on the
    voiced spans. With `unvoiced=False` only the voiced spans are kept (a backing part's vowels).
    The tilt and the air are put on the re-pitched spans only; the spans between (the consonants)
    keep their level and take the formant warp by `warp_unvoiced`, so that consonant and vowel are
    heard through one vocal tract. Deterministic: the same input and seed give the same output."""
    n = len(x)
    n_frames = (n + HOP - 1) // HOP
    fv = np.zeros(n_frames, dtype=bool)
    for a, b in _regions(voiced_s):
        fv[a // HOP : (b - 1) // HOP + 1] = True
    per_f = periods(x, sr, fv)
    centre = np.arange(n_frames) * HOP + WIN // 2
    period = np.interp(np.arange(n), centre, per_f)
    regions = [(a, b) for a, b in _regions(voiced_s) if b - a > 2 * sr / FMAX]
    all_marks = [marks(x, period, a, b) for a, b in regions]
    edge = max(int(EDGE_S * sr), 1)
    mix = np.zeros(n)
    for a, b in regions:
        ramp = min(edge, (b - a) // 2)
        mix[a:b] = 1.0
        mix[a : a + ramp] = np.linspace(0, 1, ramp)
        mix[b - ramp : b] = np.linspace(1, 0, ramp)
    tilt = _tilt_filter(sr, tilt_db) if abs(tilt_db) > 1e-3 else None
    rng = np.random.default_rng(seed)
    x_u = warp_unvoiced(x, sr, formant) if unvoiced else x
    outs = []
    for f0 in f0_parts:
        off = int(2 * sr / FMIN) + 2  # room for a grain (two periods, widened by `formant`) at either end
        y = np.zeros(n + 2 * off)
        for (_a, b), mk in zip(regions, all_marks, strict=True):
            if len(mk) < 2:
                continue
            ts = float(mk[0])
            while ts < b:
                k = int(np.clip(np.searchsorted(mk, ts), 0, len(mk) - 1))
                if k > 0 and abs(mk[k - 1] - ts) < abs(mk[k] - ts):
                    k -= 1
                m = int(mk[k])
                pl = int(mk[k] - mk[k - 1]) if k > 0 else int(mk[1] - mk[0])
                pr = int(mk[k + 1] - mk[k]) if k + 1 < len(mk) else pl
                target = sr / max(float(f0[min(int(ts), n - 1)]), FMIN)
                pl, pr = max(pl, 2), max(pr, 2)
                if target < 0.5 * (pl + pr):
                    # Raising the pitch: grains no wider than the new period. Two source periods
                    # wide, they overlap into a blur (lead alone, OVRL on five joe songs 2.95 -> 3.06).
                    k_ = 2 * target / (pl + pr)
                    pl, pr = max(int(pl * k_), 2), max(int(pr * k_), 2)
                lo, hi = max(m - pl, 0), min(m + pr, n)
                grain = x[lo:hi].astype(np.float64)
                t_rel = np.arange(lo, hi) - m
                w = np.where(
                    t_rel < 0, 0.5 + 0.5 * np.cos(np.pi * t_rel / pl), 0.5 + 0.5 * np.cos(np.pi * t_rel / pr)
                )
                grain = grain * w
                # Grains closer together add up louder: keep the level of the source's periods.
                grain = grain * math.sqrt(min(target / (0.5 * (pl + pr)), 4.0))
                if abs(formant - 1.0) > 1e-3:
                    # Squeezing the grain in time moves its spectral envelope up by `formant`.
                    t_new = np.arange(math.floor(t_rel[0] / formant), math.ceil(t_rel[-1] / formant) + 1)
                    grain = np.interp(t_new * formant, t_rel, grain, left=0.0, right=0.0)
                    t_rel = t_new
                pos = int(round(ts)) + int(t_rel[0]) + off
                y[pos : pos + len(grain)] += grain
                ts += target
        out = y[off : off + n] * mix
        if breath > 0:
            noise = rng.standard_normal(n)
            hf = oaconvolve(noise, firwin2(129, [0, 1800, 2500, sr / 2], [0, 0, 1, 1], fs=sr), mode="same")
            env = np.sqrt(oaconvolve(out**2, np.hanning(int(0.02 * sr)) / (0.01 * sr), mode="same").clip(0))
            out = out + hf * env * mix * breath * 0.6
        if tilt is not None:
            out = oaconvolve(out, tilt, mode="same")
        if unvoiced:
            out = out + x_u * (1.0 - mix)
        outs.append(out)
    return outs
