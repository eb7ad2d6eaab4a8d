"""Which engines each worker has and whether each is ready there, as the workers report it.

Why in the database: the readers (/metrics on any API replica, the model list the studio reads,
`songforge engines`) run in other processes than the workers, often on other machines, and the
database is the one thing all of them share. A worker writes its rows at start and on its heartbeat
(`songforge.workers.engine_report`); a local pool's server also refreshes `seen_ms` for the workers it
sees alive, since a local worker busy with a long generation does not loop. Rows older than
`LIVE_SECONDS` belong to a worker that stopped beating: the readers leave them out, and the next
report anywhere deletes those older than `FORGET_AFTER_MS`. A worker that stops cleanly deletes its
rows at once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from songforge.clock import now_ms
from songforge.store.db import Database, rowcount
from songforge.store.models import WorkerEngine

__all__ = [
    "FORGET_AFTER_MS",
    "LIVE_SECONDS",
    "EngineState",
    "WorkerReport",
    "forget",
    "live_rows",
    "ready_engines",
    "record",
    "reports",
    "touch",
]

# A worker is live while its rows are younger than this. Workers beat every few seconds
# (`workers.engine_report.REPORT_SECONDS`, the local pool's supervision round), so this is three
# missed beats: long enough for a busy machine, short enough that a dead GPU worker's models
# leave the studio's list within half a minute.
LIVE_SECONDS = 30.0
FORGET_AFTER_MS = 24 * 3600 * 1000  # rows of a worker gone this long are deleted


@dataclass(frozen=True)
class EngineState:
    engine: str
    ready: bool
    detail: str | None  # why it is not ready; None when it is


@dataclass(frozen=True)
class WorkerReport:
    """One worker's last report: its engines in name order."""

    worker_id: str
    kind: str  # local | distributed
    started_ms: int
    seen_ms: int
    engines: tuple[EngineState, ...]

    def live(self, now: int | None = None) -> bool:
        return _live_since(now) <= self.seen_ms


def _live_since(now: int | None = None, within_s: float = LIVE_SECONDS) -> int:
    return (now if now is not None else now_ms()) - int(within_s * 1000)


def record(
    db: Database, worker_id: str, kind: str, engines: Mapping[str, str | None], *, now: int | None = None
) -> None:
    """Writes `worker_id`'s engines (name -> None when ready, else why not) as seen at `now`,
    replacing what it reported before; its first report's time stays its `started_ms`."""
    t = now if now is not None else now_ms()
    with db.session() as s:
        rows = {
            row.engine: row
            for row in s.scalars(select(WorkerEngine).where(WorkerEngine.worker_id == worker_id))
        }
        started = min((row.started_ms for row in rows.values()), default=t)
        for name, reason in engines.items():
            row = rows.pop(name, None)
            if row is None:
                row = WorkerEngine(worker_id=worker_id, engine=name, started_ms=started)
                s.add(row)
            row.ready = reason is None
            row.detail = reason
            row.kind = kind
            row.seen_ms = t
        for gone in rows.values():  # an engine it no longer has
            s.delete(gone)
        s.execute(delete(WorkerEngine).where(WorkerEngine.seen_ms < t - FORGET_AFTER_MS))


def touch(db: Database, worker_ids: Collection[str], *, now: int | None = None) -> int:
    """Marks the workers as seen at `now` without re-reporting their engines (a local pool's
    server for the workers it sees alive). Returns the rows updated."""
    if not worker_ids:
        return 0
    t = now if now is not None else now_ms()
    with db.session() as s:
        result = s.execute(
            update(WorkerEngine).where(WorkerEngine.worker_id.in_(sorted(worker_ids))).values(seen_ms=t)
        )
        return rowcount(result)


def forget(db: Database, worker_ids: Collection[str] = (), *, prefix: str | None = None) -> int:
    """Deletes the rows of workers that stopped (by id, or every id starting with `prefix`: a
    local pool's boot). Returns the rows deleted."""
    if not worker_ids and prefix is None:
        return 0
    with db.session() as s:
        n = 0
        if worker_ids:
            n += rowcount(
                s.execute(delete(WorkerEngine).where(WorkerEngine.worker_id.in_(sorted(worker_ids))))
            )
        if prefix is not None:
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = WorkerEngine.worker_id.like(escaped + "%", escape="\\")
            n += rowcount(s.execute(delete(WorkerEngine).where(like)))
        return n


def reports(session: Session) -> list[WorkerReport]:
    """Every worker's last report, live or not (`WorkerReport.live`), most recently seen first."""
    by_worker: dict[str, list[WorkerEngine]] = {}
    for row in session.scalars(select(WorkerEngine).order_by(WorkerEngine.worker_id, WorkerEngine.engine)):
        by_worker.setdefault(row.worker_id, []).append(row)
    out = [
        WorkerReport(
            worker_id,
            rows[0].kind,
            min(r.started_ms for r in rows),
            max(r.seen_ms for r in rows),
            tuple(EngineState(r.engine, bool(r.ready), r.detail) for r in rows),
        )
        for worker_id, rows in by_worker.items()
    ]
    out.sort(key=lambda w: (-w.seen_ms, w.worker_id))
    return out


def live_rows(
    session: Session, *, now: int | None = None, within_s: float = LIVE_SECONDS
) -> list[WorkerEngine]:
    """The rows of the workers seen in the last `within_s` seconds (through `ix_worker_engines_seen_ms`)."""
    since = _live_since(now, within_s)
    return list(
        session.scalars(
            select(WorkerEngine)
            .where(WorkerEngine.seen_ms >= since)
            .order_by(WorkerEngine.engine, WorkerEngine.worker_id)
        )
    )


def ready_engines(session: Session, *, now: int | None = None) -> set[str]:
    """The engines ready on at least one live worker."""
    since = _live_since(now)
    return set(
        session.scalars(
            select(WorkerEngine.engine)
            .where(WorkerEngine.seen_ms >= since, WorkerEngine.ready.is_(True))
            .distinct()
        )
    )
