"""A worker's report of its engines: which it has, whether each is ready, and that it is alive.

Why the worker itself says it: only this process knows whether its engines can run here (the
acestep weights it sees, the libraries it can import, the engines `SONGFORGE_WORKER_ENGINES` gives
it), and the API replicas that answer /metrics and the model list may be on other machines. The
check is `songforge.engines.registry.readiness`, which loads nothing, so a report costs a few file
checks and one small write (`songforge.store.worker_engines`).

A report never stops a worker: a failed write is logged and tried again on the next beat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from songforge.engines.registry import engine_names, readiness
from songforge.store import worker_engines
from songforge.store.db import Database

__all__ = ["REPORT_SECONDS", "EngineReport", "engines_here"]

log = logging.getLogger("songforge.workers")

# How often a worker re-checks and re-reports its engines. Well inside
# `store.worker_engines.LIVE_SECONDS`, so one missed beat never makes a live worker look gone.
REPORT_SECONDS = 10.0


def engines_here(only: Collection[str] = ()) -> dict[str, str | None]:
    """Each engine this process has (`only`, else every registered one) -> None when it is ready
    here, else why not."""
    return {name: readiness(name) for name in (tuple(only) or engine_names())}


class EngineReport:
    """One worker's reports. `send` at start, `beat` on the worker's heartbeat, `forget` at a clean stop."""

    def __init__(self, db: Database, worker_id: str, kind: str, engines: Collection[str] = ()) -> None:
        self.db = db
        self.worker_id = worker_id
        self.kind = kind
        self.engines = tuple(engines)
        self._last: float | None = None

    def send(self) -> None:
        self._last = time.monotonic()
        try:
            worker_engines.record(self.db, self.worker_id, self.kind, engines_here(self.engines))
        except Exception:  # noqa: BLE001 - the next beat tries again; generation must go on
            log.exception("could not report the engines of worker %s", self.worker_id)

    def beat(self) -> None:
        """Sends again when the last report is `REPORT_SECONDS` old (cheap to call every loop)."""
        if self._last is None or time.monotonic() - self._last >= REPORT_SECONDS:
            self.send()

    def forget(self) -> None:
        try:
            worker_engines.forget(self.db, [self.worker_id])
        except Exception:  # noqa: BLE001 - its rows age out instead
            log.exception("could not remove the engine report of worker %s", self.worker_id)
