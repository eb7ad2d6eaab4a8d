"""htdemucs separation, used only when the operator points SONGFORGE_DEMUCS_WEIGHTS at a weights file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


class DemucsUnavailable(Exception):
    """Demucs cannot run here (PyTorch missing, weights unreadable); the message says which."""


def configured_weights() -> Path | None:
    value = os.environ.get("SONGFORGE_DEMUCS_WEIGHTS", "").strip()
    return Path(value) if value else None


def separate_demucs(
    audio: np.ndarray, weights: Path, *, progress: Callable[[int, str], None] | None = None
) -> dict[str, np.ndarray]:
    raise DemucsUnavailable("Demucs support is not built yet")
