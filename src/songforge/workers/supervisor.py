"""`songforge worker --processes N`: one command that keeps N worker processes alive.

Why: in scale-out nothing restarted a dead `songforge worker` (an engine crash, the kernel's OOM
killer), so capacity silently shrank. The supervisor starts N children, restarts any that exits,
with a back-off when one keeps dying at once (a broken setup must not spin the CPU), and on SIGTERM
or SIGINT passes the signal on and waits, so each child hands its job back to the queue as a single
worker does. Its children die with it (PR_SET_PDEATHSIG, Linux: SIGTERM, the graceful stop), so a
`kill -9` of the supervisor leaves no orphans; the jobs they held come back through their leases.

A process manager (systemd's `Restart=always`, Compose's `restart: always`, see deploy/) restarts the
supervisor itself.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from songforge.workers.prctl import signal_with_parent

log = logging.getLogger("songforge.supervisor")

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
# A child that lived this long was healthy: its next restart is immediate again.
HEALTHY_AFTER_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 20.0


def _child_main(
    parent_pid: int, death_signal: signal.Signals, target: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    signal_with_parent(death_signal)
    if os.getppid() != parent_pid:  # the supervisor went before the signal was armed
        return
    target(*args)


class _Slot:
    def __init__(self) -> None:
        self.proc: BaseProcess | None = None
        self.started = 0.0
        self.backoff = 0.0
        self.not_before = 0.0
        self.restarts = 0


class Supervisor:
    """Keeps `count` processes running `target(*args_for(slot))`; `target` must be picklable (a
    module-level function), as the children are spawned, not forked. `death_signal` is what a
    child gets when this process dies without stopping it: SIGTERM lets a worker hand its job back;
    a child holding nothing worth a graceful stop (an API process) takes SIGKILL, so it is gone, and
    the socket it shares with a restarted server closed, at once."""

    def __init__(
        self,
        target: Callable[..., Any],
        count: int,
        args_for: Callable[[int], tuple[Any, ...]] = lambda _slot: (),
        *,
        name: str = "songforge-worker",
        death_signal: signal.Signals = signal.SIGTERM,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if count < 1:
            raise ValueError("a supervisor needs at least one process")
        self.target = target
        self.args_for = args_for
        self.name = name
        self.death_signal = death_signal
        self.slots = [_Slot() for _ in range(count)]
        self._ctx = mp.get_context("spawn")
        self._clock = clock
        self.stopping = threading.Event()
        self.stopped = threading.Event()  # set once stop() has seen every child out

    def _start(self, i: int) -> None:
        slot = self.slots[i]
        proc = self._ctx.Process(
            target=_child_main,
            args=(os.getpid(), self.death_signal, self.target, self.args_for(i)),
            name=f"{self.name}-{i}",
            daemon=False,  # a daemonic process may not have children; ours run their own threads only
        )
        proc.start()
        slot.proc, slot.started = proc, self._clock()
        log.info("started %s (pid %s)", proc.name, proc.pid)

    def pids(self) -> list[int | None]:
        return [s.proc.pid if s.proc is not None and s.proc.is_alive() else None for s in self.slots]

    def check(self) -> int:
        """Starts what is missing and restarts what exited (after its back-off). Returns how many
        processes it started."""
        started = 0
        now = self._clock()
        for i, slot in enumerate(self.slots):
            if slot.proc is not None and slot.proc.is_alive():
                continue
            if slot.proc is not None:  # it exited: schedule its restart
                lived = now - slot.started
                code = slot.proc.exitcode
                slot.proc.join(0)
                slot.proc = None
                if lived >= HEALTHY_AFTER_SECONDS:
                    slot.backoff = 0.0
                else:
                    slot.backoff = min(MAX_BACKOFF_SECONDS, max(FIRST_BACKOFF_SECONDS, slot.backoff * 2))
                slot.not_before = now + slot.backoff
                slot.restarts += 1
                log.warning(
                    "%s-%d exited (code %s) after %.1f s; restarting in %.0f s",
                    self.name,
                    i,
                    code,
                    lived,
                    slot.backoff,
                )
            if now >= slot.not_before and not self.stopping.is_set():
                self._start(i)
                started += 1
        return started

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM to every child (each hands its job back), then SIGKILL to any still running."""
        self.stopping.set()
        procs = [s.proc for s in self.slots if s.proc is not None]
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        deadline = self._clock() + timeout
        for proc in procs:
            proc.join(max(0.1, deadline - self._clock()))
            if proc.is_alive():
                log.warning("%s did not stop in %.0f s; killing it", proc.name, timeout)
                proc.kill()
                proc.join(2)
        self.stopped.set()

    def run_forever(self, poll_seconds: float = 1.0) -> None:
        """Supervises until SIGTERM or SIGINT, then stops the children."""

        def _on_signal(_sig: int, _frame: Any) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        try:
            while not self.stopping.is_set():
                self.check()
                self.stopping.wait(poll_seconds)
        finally:
            self.stop()
