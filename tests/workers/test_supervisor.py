"""`songforge worker --processes N` (`songforge.workers.supervisor`): N real child processes, a
killed one restarted, a fast-crashing one backed off, all of them stopped with the supervisor."""

from __future__ import annotations

import os
import signal
import time

from songforge.workers.supervisor import FIRST_BACKOFF_SECONDS, Supervisor


def _wait(cond, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_children_are_restarted_when_they_die_and_stopped_with_it() -> None:
    sup = Supervisor(time.sleep, 2, lambda _i: (3600,), name="test-sleeper")
    try:
        assert sup.check() == 2
        first = sup.pids()
        assert all(first) and len(set(first)) == 2
        os.kill(first[0], signal.SIGKILL)
        assert _wait(lambda: not sup.slots[0].proc.is_alive())  # type: ignore[union-attr]
        sup.check()  # sees the death: the first restart waits FIRST_BACKOFF_SECONDS (it died young)
        assert sup.pids()[0] is None and sup.slots[0].restarts == 1
        time.sleep(FIRST_BACKOFF_SECONDS + 0.1)
        assert sup.check() == 1
        again = sup.pids()
        assert again[0] not in (None, first[0]) and again[1] == first[1]
    finally:
        sup.stop(timeout=5)
    assert sup.pids() == [None, None]
    for pid in (*first, *again):
        assert pid is not None
        assert _wait(lambda pid=pid: not os.path.exists(f"/proc/{pid}") or _zombie(pid), 10)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_a_child_that_keeps_dying_is_backed_off() -> None:
    sup = Supervisor(os._exit, 1, lambda _i: (3,), name="test-crasher")
    try:
        sup.check()
        delays = []
        for _ in range(3):
            assert _wait(lambda: not sup.slots[0].proc.is_alive())  # type: ignore[union-attr]
            sup.check()
            delays.append(sup.slots[0].backoff)
            sup.slots[0].not_before = 0.0  # skip the wait itself
            sup.check()
        assert delays == [1.0, 2.0, 4.0]
    finally:
        sup.stop(timeout=5)
