"""Heavy work at low CPU priority, the worker's wait-and-claim loop at normal priority.

A local worker used to nice its whole process. Then an idle worker, woken for a new job while its
sibling generated, read its wake-up line and ran its claim's round trips at the same low priority as
the sibling's synthesis, and each wake-up waited for the sibling's time slice: on a busy 2-core
machine the second variation's claim came 10 ms and more after the first. Linux nices per thread
(`setpriority(PRIO_PROCESS, tid)` changes the calling thread alone, and whatever threads and
processes it starts inherit it), but an unprivileged process can never lower a nice value again. So
each piece of heavy work runs in a thread of its own that lowers itself first, and the main thread,
which only waits and claims, keeps the priority the server has.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

WORKER_NICE = 10  # added to the server's own nice value


def lower_this_thread(by: int = WORKER_NICE) -> None:
    """Adds `by` to the calling thread's nice value (Linux; elsewhere the whole process's)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
    except (OSError, AttributeError):  # a platform without per-thread priorities: the process
        try:
            os.nice(by)
        except OSError:
            pass


def run_low(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a new thread at low priority, waited for here; its exception is raised here.

    The thread is a daemon: a worker told to stop (SIGTERM raises SystemExit in the main thread,
    which is waiting here) exits without finishing the job, and the pool hands the job back. Unlike
    when SystemExit interrupted a job running in the main thread, the job's own `finally` blocks do
    not run: its scratch folder is left to `workers.scratch`'s sweep, and batch partners it had
    claimed are handed back with it (their worker id is this worker's), as after a crash."""
    outcome: dict[str, Any] = {}

    def body() -> None:
        lower_this_thread()
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            outcome["error"] = exc

    thread = threading.Thread(target=body, name=getattr(fn, "__name__", "job"), daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
