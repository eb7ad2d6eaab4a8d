"""Drums, bass and other from an accompaniment (a mix without its voice), by masks: classical ones, and
below 2 kHz a small learned share for the bass (a convolutional net of 17,137 weights, `bass_share.npz`).

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
the rest of the harmonic part), so the three stems add up to the input exactly. The comb loses the bass
at its note onsets, where a plucked or slapped attack is broadband and the kick lands with it; below
`low_hz` the bass's share is therefore the output of a small net on per-bin cues of the mixture (see
`SHARE_MODEL`), and the drums and other split the rest in the ratio the masks above give them. Every
step looks at most a few seconds around a frame, so a block separated with that much context on each
side gives the stems the whole file would.

Constants were chosen on the tuning mixtures of `benchmarks/separation.py` only (held-out untouched).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    learned_share: bool = True  # below low_hz the bass takes the share model's share (see SHARE_MODEL)
    # ... and nothing below this fraction of the frame's tracked pitch: a note has no partial under its
    # fundamental, and half of it leaves room for the tracker's octave-up errors (see learned_share).
    sub_octave: float = 0.45


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


def low_onsets(mag: np.ndarray, sr: int, p: Params, bp: BassParams) -> np.ndarray:
    """Onset frames of the low band (a kick's or a bass note's), ascending, none closer than
    `onset_gap_frames`.

    Levels are relative to the loudest frame and the flux's percentile within `local_s` of each frame, not
    over the whole input, so the onsets a chunk finds are the ones the whole file has.
    """
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
    return np.asarray(edges[1:], dtype=np.int64)


def note_segments(mag: np.ndarray, sr: int, p: Params, bp: BassParams) -> np.ndarray:
    """Segment edges (frame indices, first 0, last = frames): low-band onsets, long gaps cut to pieces."""
    frames = mag.shape[1]
    edges = [0, *(int(t) for t in low_onsets(mag, sr, p, bp)), frames]
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


# ----------------------------------------------------------------------------- the low-band share model
#
# Why a learned share: at a note's onset a slap or a picked bass is broadband (only ~30% of a slap's onset
# energy lies on its comb's teeth, two thirds of it below 250 Hz, where the kick is as loud or louder), so
# the comb and the HPSS share hand it to the drums: frames e-1..e+2 of an onset carried 5% of the true bass
# energy in the slap mixtures. The ideal share on just those frames lifts the bass from 67% to 96% of the
# tuning mixtures won; fixed shares or "the sustained level of the following frames" let the kick into
# the bass and lost (bass 1.4-4.9 dB). What tells them apart is many weak cues at once (how a bin decays
# over the next frames, whether it sits on the following note's comb, how peaked it is across frequency,
# the HPSS share now and three frames on, the frame's offset from the onset), so a small model weighs
# them: 26 features per low-band bin and frame (`share_features`), rebuilt by scripts/train_bass_share.py
# (seed 0; data: the tuning SoundFonts' training mixtures of benchmarks/separation_mixtures.py, never a
# benchmark mixture). Its output is the bass's share of each bin below `low_hz`; the drums and the other
# stem split the rest as the masks above did.
#
# v2 (features 22-25, 32 units, learned on the mix less Spleeter's vocal rather than the true
# accompaniment): the split of the true accompaniment scored bass 6.48 dB (96% won) against 5.83 (83%)
# on Spleeter's, so the model now learns on what it meets in use, the vocal's leftovers counted against
# the bass in its target; the longer context (level before, decay over 12 frames, harmonic share over the
# next 8, level against the loudest within ~1 s) tells a held note from a kick where 3-6 frames cannot.
# Tuning set: bass 5.69 -> 5.78 dB, won 79 -> 88%. A feature for where Spleeter's vocal was scored no
# better (5.73 dB, 88%) and was left out.
#
# v3 (`ShareNet`, 17,137 weights in `bass_share.npz`): the v2 MLP saw each bin and frame alone; a
# convolutional net over the same feature maps sees the neighbouring bins and 14 frames each side. Chosen
# leave-one-SoundFont-out, which is what the held-out SoundFont asks of it (train on one tuning font's
# training mixtures, score the other's tuning mixtures; the same steps for both): bass 4.93 -> 5.14 dB on
# FluidR3 and 5.23 -> 6.08 on MuseScore. More SoundFonts to learn from (csound's GM bank, the OPL3 FM bank)
# and EQ/gain augmentation of the stems were tried that way and lost (4.95 and 5.03 against 5.14).
# With the sub-octave cut and the attacks' second opinion of `learned_share` (that MLP learned on both
# fonts, so it leaks a little), the leave-one-out figures are 5.67 dB (10 of 12 won) and 6.12 (12 of 12)
# against the MLP alone's 4.93 (7) and 5.23 (11); trained on 96 mixtures rather than 48, 5.72 (11) and
# 6.27 (12), so the shipped file is that. Tuning set: 5.78 -> 6.35 dB, 21 -> 23 of 24 won; held-out
# (benchmarks/results/separation_heldout_stop32_final.txt): 4.71 -> 5.15 dB, still 5 of 8 won.

SHARE_MODEL = Path(__file__).resolve().parent / "bass_share.npz"
SHARE_LAYOUT = "bass-share-v3"
SHARE_FEATURES = 26
SHARE_BLOCK = 256  # frames per feature block: bounds the temporaries (~4 MB)
MAX_SINCE = 10  # frames since the last onset, clipped
PAD_BEFORE, PAD_AFTER = 8, 12  # frames of context `share_features` reads around a frame
LOCAL_FRAMES = 43  # half-width (~1 s) of the window a bin's level is compared with (feature 25)
# The net after its 1x1 input convolution: three residual tanh convolutions over (bins, frames), (name,
# kernel, dilation); then a 1x1 convolution to the share's logit.
SHARE_CONVS = (("c1", (5, 5), (1, 1)), ("c2", (5, 5), (2, 2)), ("c3", (3, 5), (1, 4)))


def conv_padding(kernel: tuple[int, int], dil: tuple[int, int]) -> tuple[int, int]:
    """Zero padding that keeps a dilated convolution's output the size of its input."""
    return dil[0] * (kernel[0] // 2), dil[1] * (kernel[1] // 2)


# Frames each side of a frame that its share depends on through the net (2 + 4 + 8 = 14).
NET_REACH = sum(conv_padding(kernel, dil)[1] for _, kernel, dil in SHARE_CONVS)
NET_CHUNK = 512  # frames per forward pass, each with NET_REACH frames of context each side


def share_forward(params: Mapping[str, Any], x: Any) -> Any:
    """The net's logits (batch, bins, frames) of a (batch, SHARE_FEATURES, bins, frames) torch tensor;
    `params` maps "inp.weight", "c1.bias", ... to tensors. `ShareNet` runs it, and
    scripts/train_bass_share.py trains through it."""
    import torch

    conv = torch.nn.functional.conv2d
    h = torch.tanh(conv(x, params["inp.weight"], params["inp.bias"]))
    for name, kernel, dil in SHARE_CONVS:
        pad = conv_padding(kernel, dil)
        h = h + torch.tanh(
            conv(h, params[f"{name}.weight"], params[f"{name}.bias"], padding=pad, dilation=dil)
        )
    return conv(h, params["out.weight"], params["out.bias"])[:, 0]


class ShareNet:
    """The share model's forward pass, in torch (the default separator's Spleeter already needs it)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        import torch

        self._torch = torch
        self.params = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in arrays.items()}
        for name, kernel, _ in (("inp", (1, 1), None), *SHARE_CONVS, ("out", (1, 1), None)):
            shape = tuple(self.params[f"{name}.weight"].shape[2:])
            if shape != kernel:
                raise ValueError(f"share model layer {name} has a {shape} kernel, not {kernel}")
        if self.params["inp.weight"].shape[1] != SHARE_FEATURES:
            raise ValueError(f"share model reads {self.params['inp.weight'].shape[1]} features")

    @property
    def size(self) -> int:
        return sum(int(v.numel()) for v in self.params.values())

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(SHARE_FEATURES, bins, frames) float32 -> (bins, frames) share, 0..1; the convolutions pad
        with zeros, so only frames NET_REACH or more from either end are what a longer input gives."""
        torch = self._torch
        with torch.no_grad():
            return torch.sigmoid(share_forward(self.params, torch.from_numpy(x)[None]))[0].numpy()


@lru_cache(maxsize=2)
def load_share_model(path: Path = SHARE_MODEL) -> ShareNet:
    """The share net; a file of another layout is refused (ValueError), since it would read the features
    in another order or convolve them otherwise."""
    with np.load(path, allow_pickle=False) as data:
        layout = str(data["layout"]) if "layout" in data.files else None
        features = int(data["features"]) if "features" in data.files else None
        if layout != SHARE_LAYOUT or features != SHARE_FEATURES:
            raise ValueError(f"{path} is not a {SHARE_LAYOUT} model with {SHARE_FEATURES} features")
        return ShareNet({k: data[k] for k in data.files if k not in ("layout", "features", "recipe")})


# The attacks' second opinion: the v2 MLP (1,953 weights, `bass_share_onsets.json`, built by
# scripts/train_bass_share.py as of commit 103eab5). It reads each frame alone, so at an attack it is not
# pulled towards the frames around it; on the frame before an onset, the onset's and the next, the bass
# takes the larger of its share and the net's. On the slap-on-kick case of tests/engines/
# test_separation_bass.py the net alone gave the bass 0.19 of its onset energy below 250 Hz (the MLP
# alone 0.25), with the second opinion 0.22; over frames -1..2 it was 0.25 but took a lone kick from the
# drums (0.80 -> 0.798 of it). Tuning set: bass 6.25 dB alone, 6.22 with it, 24 of 24 won either way
# (figures of the net trained on 48 mixtures; on 96, the slap case's share with it is 0.29).
ONSET_MODEL = Path(__file__).resolve().parent / "bass_share_onsets.json"
ONSET_LAYOUT = "bass-share-v2"


@lru_cache(maxsize=2)
def load_onset_model(path: Path = ONSET_MODEL) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The MLP's (weight, bias) pairs, float32; a file of another layout is refused (ValueError), since
    its features would be read in the wrong order."""
    data = json.loads(Path(path).read_text())
    if data.get("layout") != ONSET_LAYOUT or data.get("features") != SHARE_FEATURES:
        raise ValueError(f"{path} is not a {ONSET_LAYOUT} model with {SHARE_FEATURES} features")
    return tuple(
        (np.asarray(w, np.float32), np.asarray(b, np.float32))
        for w, b in zip(data["weights"], data["biases"], strict=True)
    )


def mlp_predict(layers: tuple[tuple[np.ndarray, np.ndarray], ...], x: np.ndarray) -> np.ndarray:
    h = x
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if i < len(layers) - 1:
            h = np.tanh(h)
    return (1.0 / (1.0 + np.exp(-h[:, 0]))).astype(np.float32)


def onset_context(onsets: np.ndarray, f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames since the last onset, clipped to MAX_SINCE, -1 on the frame before an onset; the pitch each
    frame's comb uses). Frames e-1..e+2 of an onset take the pitch of the note that starts there (the
    tracker pools each segment after its attack frame), since those frames are where the note begins."""
    frames = len(f0)
    marks = np.full(frames, -(10**6), np.int64)
    marks[onsets] = onsets
    last = np.maximum.accumulate(marks)
    since = np.minimum(np.arange(frames) - last, MAX_SINCE)
    seg_f0 = f0.copy()
    for e in onsets:
        if e >= 1:
            since[e - 1] = -1
        seg_f0[max(0, e - 1) : e + 3] = f0[min(e + 1, frames - 1)]
    return since, seg_f0


def share_features(
    logmag: np.ndarray,
    frac: np.ndarray,
    mag: np.ndarray,
    since: np.ndarray,
    seg_f0: np.ndarray,
    voicing: np.ndarray,
    freqs: np.ndarray,
    frac_next: np.ndarray,
    local_max: np.ndarray,
    sel: np.ndarray,
    bp: BassParams,
) -> np.ndarray:
    """(bins x len(sel), SHARE_FEATURES) features of the low-band bins at frames `sel`. `logmag` is the
    log magnitude padded by 2 bins each side and PAD_BEFORE frames before, PAD_AFTER after (edge values);
    `frac_next` the harmonic share's mean over the next 8 frames, `local_max` the log magnitude's maximum
    within LOCAL_FRAMES of each frame (both unpadded)."""
    nb, frames = frac.shape[0], frac.shape[1]
    c = sel + PAD_BEFORE
    lt = logmag[2:-2, c]
    x = np.empty((nb, len(sel), SHARE_FEATURES), np.float32)
    x[..., 0] = np.clip(lt - logmag[2:-2, c + 3], -5, 5)  # decay over the next 3 and 6 frames
    x[..., 1] = np.clip(lt - logmag[2:-2, c + 6], -5, 5)
    x[..., 2] = np.clip(lt - logmag[2:-2, c - 2], -5, 5)  # rise from 2 frames before
    x[..., 3] = np.clip(lt - lt.max(axis=0, keepdims=True), -10, 0)
    comb = bass_comb(seg_f0[sel], freqs, bp)
    x[..., 4] = comb
    x[..., 5] = np.clip(np.rint(freqs[:, None] / seg_f0[sel][None, :]), 0, 8) / 8.0
    x[..., 6] = np.log2(np.maximum(freqs, 10.0) / 100.0)[:, None]
    x[..., 7] = frac[:, sel]
    x[..., 8] = frac[:, np.minimum(sel + 3, frames - 1)]
    x[..., 9] = np.clip(logmag[2:-2, c + 3] - logmag[2:-2, c + 6], -5, 5)
    for k, s in enumerate((-1, 0, 1, 2)):
        x[..., 10 + k] = (since[sel] == s)[None, :]
    x[..., 14] = voicing[sel][None, :]
    n120 = int(np.searchsorted(freqs, 120.0))
    power = mag[:, sel] ** 2
    x[..., 15] = (power[:n120].sum(axis=0) / (power.sum(axis=0) + EPS))[None, :]
    x[..., 16] = np.clip(lt - np.maximum(logmag[1:-3, c], logmag[3:-1, c]), -5, 5)  # peak across bins
    x[..., 17] = np.clip(lt - (logmag[:-4, c] + logmag[1:-3, c] + logmag[3:-1, c] + logmag[4:, c]) / 4, -5, 5)
    x[..., 18] = (np.maximum(since[sel], 0) / MAX_SINCE)[None, :]
    x[..., 19] = np.clip(np.log2(seg_f0[sel] / 100.0), -2, 3)[None, :]
    x[..., 20] = np.clip(logmag[2:-2, c + 1] - logmag[2:-2, c + 4], -5, 5)
    x[..., 21] = (1.0 - frac[:, sel]) * (1.0 - comb)
    # v2: longer context, for a kick and a sustained note that look alike over 3-6 frames: the level
    # before (a note already sounding vs a hit out of silence), the decay over 12 frames (~280 ms), how
    # harmonic the bin stays over the next 8, and the level against the loudest within ~1 s.
    before = logmag[2:-2, c - 8]
    for k in range(-7, -2):
        before = before + logmag[2:-2, c + k]
    x[..., 22] = np.clip(lt - before / 6, -5, 5)
    x[..., 23] = np.clip(lt - logmag[2:-2, c + 12], -5, 5)
    x[..., 24] = frac_next[:, sel]
    x[..., 25] = np.clip(lt - local_max[:, sel], -10, 0)
    return x.reshape(-1, SHARE_FEATURES)


ShareInputs = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]


def share_inputs(
    mag: np.ndarray, frac: np.ndarray, f0: np.ndarray, sr: int, p: Params, bp: BassParams
) -> ShareInputs:
    """What `share_features` reads, for the low band of `mag`/`frac`: (logmag, frac, mag, since, seg_f0,
    voicing, freqs, frac_next, local_max)."""
    low = _low_bins(sr, p, bp)
    freqs = _freqs(sr, p)[:low].astype(np.float32)
    since, seg_f0 = onset_context(low_onsets(mag, sr, p, bp), f0.astype(np.float32))
    lowmag, lowfrac = mag[:low], frac[:low]
    log_low = np.log(lowmag + 1e-7)
    logmag = np.pad(log_low, ((2, 2), (PAD_BEFORE, PAD_AFTER)), mode="edge")
    local_max = maximum_filter1d(log_low, 2 * LOCAL_FRAMES + 1, axis=1, mode="nearest")
    fsum = np.concatenate(
        [np.zeros((lowfrac.shape[0], 1)), np.cumsum(lowfrac, axis=1, dtype=np.float64)], axis=1
    )
    t_lo = np.minimum(np.arange(len(f0)) + 1, len(f0) - 1)
    t_hi = np.minimum(t_lo + 8, len(f0))
    frac_next = ((fsum[:, t_hi] - fsum[:, t_lo]) / (t_hi - t_lo)).astype(np.float32)
    del fsum
    # Voicing: the share of the low band's harmonic energy under the comb, over frames t+2..t+7 (the note
    # after the attack; a kick alone leaves little there).
    harm2 = (lowmag * lowfrac) ** 2
    v = np.empty(len(f0), np.float32)
    for a in range(0, len(f0), SHARE_BLOCK):
        b = min(len(f0), a + SHARE_BLOCK)
        v[a:b] = (bass_comb(seg_f0[a:b], freqs, bp) * harm2[:, a:b]).sum(axis=0) / (
            harm2[:, a:b].sum(axis=0) + EPS
        )
    csum = np.concatenate([[0.0], np.cumsum(v, dtype=np.float64)])
    lo = np.minimum(np.arange(len(f0)) + 2, len(f0) - 1)
    hi = np.minimum(lo + 6, len(f0))
    voicing = ((csum[hi] - csum[lo]) / (hi - lo)).astype(np.float32)
    return logmag, lowfrac, lowmag, since, seg_f0, voicing, freqs, frac_next, local_max


def feature_map(inputs: ShareInputs, a: int, b: int, bp: BassParams) -> np.ndarray:
    """(SHARE_FEATURES, low bins, b - a) features of frames a..b-1, the net's input."""
    nb = inputs[1].shape[0]
    out = np.empty((SHARE_FEATURES, nb, b - a), np.float32)
    for s in range(a, b, SHARE_BLOCK):
        sel = np.arange(s, min(b, s + SHARE_BLOCK))
        block = share_features(*inputs, sel, bp).reshape(nb, len(sel), SHARE_FEATURES)
        out[:, :, s - a : s - a + len(sel)] = block.transpose(2, 0, 1)
    return out


def learned_share(
    mag: np.ndarray, frac: np.ndarray, f0: np.ndarray, sr: int, p: Params, bp: BassParams
) -> np.ndarray:
    """The model's bass share (0..1) of each bin below `low_hz`, (low bins, frames); run in chunks of
    NET_CHUNK frames with NET_REACH frames of context each side, which gives what one pass over all
    frames would."""
    net = load_share_model()
    inputs = share_inputs(mag, frac, f0, sr, p, bp)
    frames = mag.shape[1]
    out = np.empty((inputs[1].shape[0], frames), np.float32)
    since, seg_f0, freqs = inputs[3], inputs[4], inputs[6]
    mlp = load_onset_model()
    for a in range(0, frames, NET_CHUNK):
        b = min(frames, a + NET_CHUNK)
        lo, hi = max(0, a - NET_REACH), min(frames, b + NET_REACH)
        x = feature_map(inputs, lo, hi, bp)
        share = net(x)[:, a - lo : b - lo]
        # The attacks' second opinion, on the frame before an onset, the onset's and the next, from the
        # same features.
        attack = np.flatnonzero(since[a:b] <= 1)
        if len(attack):
            rows = x[:, :, attack + (a - lo)].transpose(1, 2, 0).reshape(-1, SHARE_FEATURES)
            second = mlp_predict(mlp, rows).reshape(-1, len(attack))
            share[:, attack] = np.maximum(share[:, attack], second)
        out[:, a:b] = share
    # Once a note's attack is over (3 frames after its onset), what lies below half its pitch is a kick's
    # sub-bass, not the note: in one tuning mixture (a hip-hop kick under a fingered bass) the net gave
    # the bass 80 times its true energy below 60 Hz. At the attack a slap's broadband energy does reach
    # down there, so those frames keep the net's share.
    out *= (freqs[:, None] >= bp.sub_octave * seg_f0[None, :]) | (since <= 2)[None, :]
    return out


def analyse(
    spec: np.ndarray, sr: int, p: Params, bp: BassParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(magnitude, harmonic share, bass pitch per frame) of a (channels, bins, frames) STFT."""
    mag = np.mean(np.abs(spec), axis=0)
    frac = pooled_harmonic_fraction(mag, sr, p)  # upper bands: pooled HPSS, as the classical method
    low = _low_bins(sr, p, bp)
    frac[:low] = lowband_hpss(mag[:low], bp)
    harm = mag[:low] * frac[:low]
    f0 = track_bass(harm, mag[:low] - harm, mag, sr, p, bp)
    return mag, frac, f0


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
    mag, frac, f0 = analyse(spec, sr, p, bp)
    low = _low_bins(sr, p, bp)
    share = bass_comb(f0, _freqs(sr, p)[:low], bp) * frac[:low]
    # Magnitude-ratio masks of one split of `mag`: drums 1 - frac, bass frac x comb, other the rest; below
    # `low_hz` the bass takes the learned share instead and drums and other split the rest in that ratio.
    drum_share = 1.0 - frac
    if bp.learned_share:
        learned = learned_share(mag, frac, f0, sr, p, bp)
        low_drums = drum_share[:low]
        rest = low_drums + (frac[:low] - share)  # drums + other under the comb masks
        low_drums *= (1.0 - learned) / (rest + EPS)
        share = learned
    drums = _istft(spec * drum_share[None], n, p)
    del frac, drum_share
    spec[:, low:] = 0.0
    spec[:, :low] *= share[None]
    bass = _istft(spec, n, p)
    del spec
    other = accompaniment.astype(np.float32) - drums - bass
    return {"drums": drums, "bass": bass, "other": other}
