"""librosa's first import in a process waits for any other process compiling into numba's cache.

Two processes compiling librosa's gufuncs at once left a cache whose every use segfaulted (numba
issue #10128): that is what the lock prevents.
"""

from __future__ import annotations

import subprocess
import sys
import time

from songforge.audio.jit import compile_lock

CHILD = "import songforge.audio.jit; print('imported', flush=True)"


def _import_in_child() -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)


def test_the_import_waits_for_the_lock_and_then_completes() -> None:
    started = time.monotonic()
    free = _import_in_child()
    assert free.communicate(timeout=300)[0].strip() == "imported"
    alone = time.monotonic() - started

    with compile_lock():
        child = _import_in_child()
        time.sleep(2 * alone + 2)
        assert child.poll() is None, "the import finished while another process held the lock"
    out, _ = child.communicate(timeout=300)
    assert out.strip() == "imported"
    assert child.returncode == 0
