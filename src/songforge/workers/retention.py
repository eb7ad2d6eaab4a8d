"""Retention: deleting finished jobs past `Settings.retention_days`, with their files and callbacks.

Why here: the server's maintenance (the local pool's supervision round) and `songforge prune` both
apply it, and both already hold a database and a BlobStore. Work goes in bounded batches, each its
own short transaction, so pruning a large history never holds SQLite's write lock for long, and a
run that is stopped part way leaves nothing half done: a batch's files go first, then its rows, so
a crash between the two leaves rows whose files are gone, which the next run deletes, never files
that no row points to. The /metrics counters follow deletions by themselves (migration 0004's
triggers).

Once per interval per deployment: the local pool's supervisor and every `songforge worker` call
`prune_if_due`, and only the process that takes the interval's turn (`claim_turn`, a conditional
UPDATE of the `maintenance_runs` row) prunes; the others skip until the next interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from songforge.clock import now_ms
from songforge.core.states import JobState
from songforge.store.blobs import BlobStore
from songforge.store.db import Database, rowcount
from songforge.store.models import CallbackDelivery, Job, MaintenanceRun

__all__ = [
    "PRUNE_BATCH",
    "PRUNE_CHECK_SECONDS",
    "PRUNE_EVERY_SECONDS",
    "PRUNE_TASK",
    "Pruned",
    "claim_turn",
    "cutoff_ms",
    "prune_finished",
    "prune_if_due",
]

PRUNE_BATCH = 200
PRUNE_EVERY_SECONDS = 3600.0  # one prune per deployment per hour
PRUNE_CHECK_SECONDS = 60.0  # how often each process asks whether the hour's turn is free
_FINISHED = (JobState.COMPLETED.value, JobState.FAILED.value)
_DAY_MS = 86_400_000
PRUNE_TASK = "prune"


@dataclass(frozen=True)
class Pruned:
    """What one run deleted (or, dry, would delete)."""

    jobs: int
    deliveries: int


def cutoff_ms(days: int, now: int | None = None) -> int:
    return (now_ms() if now is None else now) - days * _DAY_MS


def _old_finished(cutoff: int) -> tuple[ColumnElement[bool], ...]:
    return (Job.state.in_(_FINISHED), Job.finished_ms.is_not(None), Job.finished_ms < cutoff)


def prune_finished(
    db: Database, blobs: BlobStore, days: int, *, dry_run: bool = False, batch: int = PRUNE_BATCH
) -> Pruned:
    """Deletes finished jobs whose `finished_ms` is more than `days` days ago: their files
    (`jobs/<item_id>/...` in the BlobStore), their outbox rows and their rows."""
    cutoff = cutoff_ms(days)
    if dry_run:
        with db.session() as s:
            ids = select(Job.item_id).where(*_old_finished(cutoff)).scalar_subquery()
            jobs = s.scalar(select(func.count()).select_from(Job).where(*_old_finished(cutoff)))
            deliveries = s.scalar(
                select(func.count()).select_from(CallbackDelivery).where(CallbackDelivery.item_id.in_(ids))
            )
        return Pruned(jobs=int(jobs or 0), deliveries=int(deliveries or 0))
    jobs = deliveries = 0
    while True:
        with db.session() as s:
            item_ids = list(
                s.scalars(
                    select(Job.item_id).where(*_old_finished(cutoff)).order_by(Job.finished_ms).limit(batch)
                )
            )
        if not item_ids:
            return Pruned(jobs=jobs, deliveries=deliveries)
        for item_id in item_ids:
            blobs.delete_prefix(f"jobs/{item_id}")
        with db.session() as s:
            deliveries += rowcount(
                s.execute(delete(CallbackDelivery).where(CallbackDelivery.item_id.in_(item_ids)))
            )
            # The state condition again: a row is only deleted if it is still finished and old.
            jobs += rowcount(s.execute(delete(Job).where(Job.item_id.in_(item_ids), *_old_finished(cutoff))))


def claim_turn(db: Database, task: str, every_ms: int, holder: str, *, now: int | None = None) -> bool:
    """True for exactly one caller per `every_ms` across every process sharing the database: the
    UPDATE matches only while the task's `last_ms` is at least `every_ms` old, and whoever's UPDATE
    matched moved it to now. On PostgreSQL a racing UPDATE waits for the winner's row lock and then
    re-checks the condition against the new row (no match); on SQLite writers take turns."""
    at = now_ms() if now is None else now
    with db.session() as s:
        won = rowcount(
            s.execute(
                update(MaintenanceRun)
                .where(MaintenanceRun.task == task, MaintenanceRun.last_ms <= at - every_ms)
                .values(last_ms=at, holder=holder[:64])
            )
        )
        if won or s.get(MaintenanceRun, task) is not None:
            return bool(won)
    try:  # no row for this task (the migration seeds `prune`): the first insert takes the turn
        with db.session() as s:
            s.add(MaintenanceRun(task=task, last_ms=at, holder=holder[:64]))
        return True
    except IntegrityError:  # another process inserted it first
        return False


def prune_if_due(
    db: Database,
    blobs: BlobStore,
    days: int | None,
    holder: str,
    *,
    every_seconds: float = PRUNE_EVERY_SECONDS,
) -> Pruned | None:
    """Applies the retention period if this process takes this interval's turn; None when there
    is no retention period or another process has the turn."""
    if not days or not claim_turn(db, PRUNE_TASK, int(every_seconds * 1000), holder):
        return None
    return prune_finished(db, blobs, days)
