"""Stem separation: vocals, drums, bass and other from a finished stereo mix.

`separate` picks Demucs (htdemucs) when the operator has configured its weights and PyTorch is
installed, and otherwise the best weight-free method measured by `benchmarks/separation.py`. Nothing is
downloaded at run time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from songforge.engines.separation.classical import STEMS, separate_classical
from songforge.errors import EngineError

SAMPLE_RATE = 44100
CLASSICAL_METHODS = ("harmonic", "centre", "repet", "repet-centre")
DEFAULT_CLASSICAL = "harmonic"  # best mean SDR over both sets of benchmarks/separation.py, and fastest
METHODS = ("auto", "demucs", *CLASSICAL_METHODS)

ProgressFn = Callable[[int, str], None]

log = logging.getLogger(__name__)

__all__ = ["METHODS", "SAMPLE_RATE", "STEMS", "SeparationError", "separate"]


class SeparationError(EngineError):
    """Separation could not run as asked (unknown method, Demucs requested but not configured)."""


def _as_stereo(audio: np.ndarray) -> np.ndarray:
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] not in (1, 2):
        raise SeparationError(f"audio must be shaped (frames, 1 or 2), got {arr.shape}")
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 2, axis=1)
    return np.nan_to_num(arr)


def _resample(audio: np.ndarray, sr: int, target: int) -> np.ndarray:
    import soxr

    return soxr.resample(audio, sr, target, quality="HQ").astype(np.float32)


def separate(
    audio: np.ndarray, sr: int, *, method: str = "auto", progress: ProgressFn | None = None
) -> dict[str, np.ndarray]:
    """Split a mix into {"vocals", "drums", "bass", "other"}: float32 (n, 2) at 44.1 kHz.

    `n` is the input length (after resampling to 44.1 kHz when `sr` differs). The classical methods
    return stems that sum exactly to the input; Demucs' stems sum to it approximately.
    """
    if method not in METHODS:
        raise SeparationError(f"unknown separation method {method!r}; expected one of {', '.join(METHODS)}")
    stereo = _as_stereo(audio)
    if sr != SAMPLE_RATE:
        stereo = _resample(stereo, sr, SAMPLE_RATE)
    if stereo.shape[0] == 0:
        return {name: np.zeros((0, 2), np.float32) for name in STEMS}
    if method in ("auto", "demucs"):
        from songforge.engines.separation import demucs

        weights = demucs.configured_weights()
        if weights is not None or method == "demucs":
            if weights is None:
                raise SeparationError("Demucs was requested but SONGFORGE_DEMUCS_WEIGHTS is not set")
            try:
                return demucs.separate_demucs(stereo, weights, progress=progress)
            except demucs.DemucsUnavailable as exc:
                if method == "demucs":
                    raise SeparationError(str(exc)) from exc
                log.warning("Demucs configured but unusable (%s); using %s", exc, DEFAULT_CLASSICAL)
        method = DEFAULT_CLASSICAL
    return separate_classical(stereo, SAMPLE_RATE, method, progress=progress)
