"""librosa, imported while no other process on this machine is compiling it.

librosa decorates several functions with `numba.guvectorize(cache=True)`; they are compiled, or loaded
from numba's on-disk cache, when their modules are imported. Two processes compiling them at once can
write mismatched halves of one cache entry (numba issue #10128), and from then on every call of that
function segfaults, in every process, until the cache files are deleted. That happened here when an
API and its workers started together on a fresh install. So the first import holds an exclusive lock
on a file beside the cache: one process compiles and writes, the others then read a whole cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# The modules whose import compiles gufuncs (librosa 0.11: core.audio, core.pitch, util.utils), and
# those the analysis and the singer use, so nothing of librosa's compiles later outside the lock.
MODULES = (
    "librosa",
    "librosa.core.audio",
    "librosa.core.pitch",
    "librosa.util.utils",
    "librosa.beat",
    "librosa.feature",
    "librosa.filters",
    "librosa.onset",
)


def lock_path() -> Path:
    return Path(tempfile.gettempdir()) / f"songforge-numba-cache-{os.getuid()}.lock"


@contextlib.contextmanager
def compile_lock() -> Iterator[None]:
    """Held while compiling into numba's cache (blocks while another process holds it)."""
    with open(lock_path(), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


with compile_lock():
    for _name in MODULES:
        importlib.import_module(_name)

import librosa  # noqa: E402 - already imported above, under the lock

__all__ = ["compile_lock", "librosa"]
