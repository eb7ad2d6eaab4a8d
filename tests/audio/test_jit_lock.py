"""librosa's first import on a machine waits for any other process compiling it into numba's cache.

Two processes compiling librosa's gufuncs at once left a cache whose every use segfaulted (numba
issue #10128): that is what the lock prevents. Once one import has finished under the lock, later
ones read the whole cache without queueing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from songforge.audio.jit import compile_lock

CHILD = "import songforge.audio.jit; print('imported', flush=True)"


def _import_in_child(lock_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "SONGFORGE_JIT_LOCK_DIR": str(lock_dir)}
    return subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, env=env)


def test_the_first_import_waits_for_the_lock_and_later_ones_do_not(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    started = time.monotonic()
    free = _import_in_child(tmp_path / "elsewhere")
    assert free.communicate(timeout=300)[0].strip() == "imported"
    alone = time.monotonic() - started

    with compile_lock(tmp_path):
        child = _import_in_child(tmp_path)
        time.sleep(2 * alone + 2)
        assert child.poll() is None, "the import finished while another process held the lock"
    out, _ = child.communicate(timeout=300)
    assert out.strip() == "imported" and child.returncode == 0
    assert list(tmp_path.glob("songforge-numba-cache-*.done"))

    with compile_lock(tmp_path):  # done once here: the next import does not wait for the lock
        again = _import_in_child(tmp_path)
        assert again.communicate(timeout=2 * alone + 60)[0].strip() == "imported"
