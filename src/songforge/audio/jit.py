"""librosa, imported while no other process on this machine is compiling it.

librosa decorates several functions with `numba.guvectorize(cache=True)`; they are compiled, or loaded
from numba's on-disk cache, when their modules are imported. Two processes compiling them at once can
write mismatched halves of one cache entry (numba issue #10128), and from then on every call of that
function segfaults, in every process, until the cache files are deleted. That happened here when an
API and its workers started together on a fresh install. So the first import holds an exclusive lock
on a file beside the cache: one process compiles and writes, the others then read a whole cache. Once
that has been done for this librosa, numba and cache (`done_path`), imports no longer queue.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import importlib.metadata
import importlib.util
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
COMPILED = ("core/audio.py", "core/pitch.py", "util/utils.py")  # librosa's files with gufuncs


def lock_dir() -> Path:
    return Path(os.environ.get("SONGFORGE_JIT_LOCK_DIR") or tempfile.gettempdir())


def lock_path(directory: Path | None = None) -> Path:
    return (directory or lock_dir()) / f"songforge-numba-cache-{os.getuid()}.lock"


def done_path() -> Path | None:
    """A file that says this very librosa (its compiled files' times), numba and cache location
    were imported once under the lock, so the cache is whole: later imports need not wait. None
    when librosa is not installed."""
    spec = importlib.util.find_spec("librosa")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent
    parts = [str(root), importlib.metadata.version("numba"), os.environ.get("NUMBA_CACHE_DIR", "")]
    parts += [f"{name}:{(root / name).stat().st_mtime_ns}" for name in COMPILED if (root / name).exists()]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    return lock_dir() / f"songforge-numba-cache-{os.getuid()}-{digest}.done"


@contextlib.contextmanager
def compile_lock(directory: Path | None = None) -> Iterator[None]:
    """Held while compiling into numba's cache (blocks while another process holds it)."""
    with open(lock_path(directory), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _import_all() -> None:
    for name in MODULES:
        importlib.import_module(name)


def _import_librosa() -> None:
    done = done_path()
    if done is not None and done.exists():
        _import_all()  # the cache is whole: reading it at once is safe, and nothing waits in turn
        return
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(compile_lock())
        except OSError:  # no writable temp dir: import as librosa would on its own, claiming nothing
            done = None
        _import_all()
        if done is not None:
            with contextlib.suppress(OSError):
                done.touch()


_import_librosa()

import librosa  # noqa: E402 - already imported above, under the lock

__all__ = ["compile_lock", "librosa"]
