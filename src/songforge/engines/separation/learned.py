"""A small learned mask estimator, run in NumPy: no PyTorch at run time, nothing downloaded.

Why a network: on mixtures of instruments and voices the project did not make, no fixed spectral cue
(harmonic/percussive, pitch comb, stereo centre, repetition) tells a synthetic voice from a keyboard
reliably; a model trained on multitracks that our own code renders (`scripts/train_separator.py`, fixed
seed) learns what each source looks like across SoundFonts and voices, and the held-out SoundFont and
voice in `benchmarks/separation.py` say whether that generalises.

The model sees, per STFT frame, the mix's log band magnitudes (single bins at low frequency for the bass,
1/24-octave bands above) and an inter-channel similarity per band (the stereo centre cue; 1 for mono),
through a stack of dilated 1-D convolutions across time (about a third of a second of context). It
outputs one soft mask per source and band, normalised across sources, applied to every bin of the band
on the complex stereo STFT. Audio is processed in chunks with overlapping context, so memory does not grow
with the length of the upload, and the last stem is the remainder, so the stems add up to the input.

The weights file (`weights/separator.npz`, float16) holds the convolution kernels and the band layout
the training used; `FEATURE_VERSION` must match it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

from songforge.engines.separation.classical import STEMS

SAMPLE_RATE = 44100
N_FFT = 2048
HOP = 512
LINEAR_BELOW_HZ = 600.0
BANDS_PER_OCT = 24
FEATURE_VERSION = 1
WEIGHTS = Path(__file__).resolve().parent / "weights" / "separator.npz"
EPS = 1e-8
CHUNK_S = 30.0  # audio per chunk: bounds working memory whatever the upload's length
CONTEXT_S = 1.0  # extra audio each side of a chunk, more than the model's receptive field

ProgressFn = Callable[[int, str], None]


class WeightsMissing(RuntimeError):
    """The committed weights file is absent or does not match this code."""


def band_of_bin(n_bins: int = N_FFT // 2 + 1, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Band index per STFT bin: one band per bin below LINEAR_BELOW_HZ, 1/24 octave above, empty
    bands merged away."""
    freqs = np.arange(n_bins) * sr / N_FFT
    band = np.empty(n_bins, dtype=np.int64)
    linear = freqs < LINEAR_BELOW_HZ
    n_linear = int(linear.sum())
    band[linear] = np.arange(n_linear)
    band[~linear] = n_linear + np.floor(np.log2(freqs[~linear] / LINEAR_BELOW_HZ) * BANDS_PER_OCT).astype(
        np.int64
    )
    return np.unique(band, return_inverse=True)[1]


def n_bands() -> int:
    return int(band_of_bin().max()) + 1


@lru_cache(maxsize=1)
def _pooling() -> np.ndarray:
    """(bins, bands) averaging matrix."""
    band = band_of_bin()
    pool = np.zeros((len(band), int(band.max()) + 1), np.float32)
    pool[np.arange(len(band)), band] = 1.0
    return pool / pool.sum(axis=0, keepdims=True)


@lru_cache(maxsize=1)
def _transform() -> ShortTimeFFT:
    return ShortTimeFFT(hann(N_FFT, sym=False).astype(np.float32), hop=HOP, fs=1.0)


def features(spec: np.ndarray, ref: float) -> np.ndarray:
    """(2 * bands, frames) model input from a (channels, bins, frames) complex STFT.

    `ref` is the RMS of the whole input (time domain), so every chunk of one file is scaled alike and a
    quiet upload looks like a loud one to the model.
    """
    pool = _pooling()
    mag = np.abs(spec)  # (ch, bins, frames)
    mid = mag.mean(axis=0)
    bands = pool.T @ mid  # (bands, frames)
    logmag = np.log(bands / (ref * N_FFT * 0.5 + EPS) + 1e-4).astype(np.float32)
    if spec.shape[0] == 2:
        cross = np.real(spec[0] * np.conj(spec[1]))
        power = (mag[0] ** 2 + mag[1] ** 2) * 0.5
        similarity = (pool.T @ cross) / (pool.T @ power + EPS * EPS)
    else:
        similarity = np.ones_like(bands)
    return np.concatenate([logmag, np.clip(similarity, -1.0, 1.0).astype(np.float32)], axis=0)


class Model:
    """The convolution stack as NumPy matrix products (im2col over time), weights kept as float32."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        try:
            data = np.load(path)
        except (OSError, ValueError) as exc:
            raise WeightsMissing(f"separator weights {path} are not readable: {exc}") from exc
        if int(data["feature_version"]) != FEATURE_VERSION or int(data["n_bands"]) != n_bands():
            raise WeightsMissing(f"separator weights {path} were trained for another feature layout")
        self.layers: list[tuple[np.ndarray, np.ndarray, int, bool]] = []
        count = int(data["n_layers"])
        for i in range(count):
            w = data[f"w{i}"].astype(np.float32)  # (out, in, k)
            b = data[f"b{i}"].astype(np.float32)
            dilation = int(data[f"d{i}"])
            residual = bool(data[f"r{i}"])
            self.layers.append((w, b, dilation, residual))
        self.mean = data["in_mean"].astype(np.float32)[:, None]
        self.std = data["in_std"].astype(np.float32)[:, None]

    def masks(self, feats: np.ndarray) -> np.ndarray:
        """(sources, bands, frames) masks summing to one over sources."""
        x = (feats - self.mean) / self.std
        last = len(self.layers) - 1
        for i, (w, b, dilation, residual) in enumerate(self.layers):
            out_ch, in_ch, k = w.shape
            half = (k - 1) // 2 * dilation
            padded = np.pad(x, ((0, 0), (half, half)))
            frames = x.shape[1]
            y = b[:, None] + sum(
                w[:, :, j] @ padded[:, j * dilation : j * dilation + frames] for j in range(k)
            )
            if i < last:
                y = np.maximum(y, 0.0)
                if residual:
                    y = y + x
            x = y.astype(np.float32)
        logits = x.reshape(len(STEMS), -1, x.shape[1])
        logits -= logits.max(axis=0, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=0, keepdims=True)


def load(path: Path | None = None) -> Model:
    """The model for `path` (default: the committed WEIGHTS), loaded once."""
    return _load(Path(path or WEIGHTS))


@lru_cache(maxsize=2)
def _load(path: Path) -> Model:
    return Model(path)


def available(path: Path | None = None) -> bool:
    try:
        load(path)
    except WeightsMissing:
        return False
    return True


def _separate_chunk(model: Model, audio: np.ndarray, ref: float) -> dict[str, np.ndarray]:
    """Stems of one (n, channels) block, each (n, channels); the last stem is the remainder."""
    n = audio.shape[0]
    stft = _transform()
    spec = stft.stft(np.ascontiguousarray(audio.T, dtype=np.float32)).astype(np.complex64)
    masks = model.masks(features(spec, ref))  # (sources, bands, frames)
    band = band_of_bin()
    out: dict[str, np.ndarray] = {}
    rest = audio.astype(np.float32).copy()
    for index, name in enumerate(STEMS[:-1]):
        mask = masks[index][band]  # (bins, frames)
        stem = stft.istft(spec * mask[None], k1=n).T.astype(np.float32)
        out[name] = stem
        rest -= stem
    out[STEMS[-1]] = rest
    return out


def separate_learned(
    audio: np.ndarray,
    sr: int = SAMPLE_RATE,
    *,
    progress: ProgressFn | None = None,
    model: Model | None = None,
) -> dict[str, np.ndarray]:
    """Separate float32 (n, channels) audio at 44.1 kHz in bounded chunks; stems sum to the input."""
    if sr != SAMPLE_RATE:
        raise ValueError("the learned separator runs at 44.1 kHz")
    report = progress or (lambda _pct, _stage: None)
    model = model or load()
    n, channels = audio.shape
    stems = {name: np.zeros((n, channels), np.float32) for name in STEMS}
    if n == 0:
        return stems
    ref = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if n <= 60 * sr else _chunked_rms(audio)
    if ref < 1e-7:  # digital silence: nothing to separate, everything is "other"
        stems[STEMS[-1]][:] = audio
        report(100, "done")
        return stems
    # Chunk edges on the hop grid: every chunk's STFT frames are then the whole file's frames.
    chunk, context = _on_grid(CHUNK_S * sr), _on_grid(CONTEXT_S * sr)
    starts = list(range(0, n, chunk))
    for count, start in enumerate(starts):
        stop = min(n, start + chunk)
        lo, hi = max(0, start - context), min(n, stop + context)
        block = audio[lo:hi]
        if block.shape[0] < N_FFT:
            block = np.pad(block, ((0, N_FFT - block.shape[0]), (0, 0)))
        parts = _separate_chunk(model, block, ref)
        for name in STEMS:
            stems[name][start:stop] = parts[name][start - lo : stop - lo]
        report(5 + int(90 * (count + 1) / len(starts)), "separating")
    report(100, "done")
    return stems


def _on_grid(samples: float) -> int:
    return max(HOP * 8, int(samples) // HOP * HOP)


def _chunked_rms(audio: np.ndarray, block: int = 1 << 20) -> float:
    total = 0.0
    for start in range(0, audio.shape[0], block):
        total += float(np.sum(np.square(audio[start : start + block], dtype=np.float64)))
    return float(np.sqrt(total / audio.size))
