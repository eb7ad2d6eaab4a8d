"""Retention: deleting finished jobs past `Settings.retention_days`, with their files and callbacks.

Why here: the server's maintenance (the local pool's supervision round) and `songforge prune` both
apply it, and both already hold a database and a BlobStore. Work goes in bounded batches, each its
own short transaction, so pruning a large history never holds SQLite's write lock for long, and a
run that is stopped part way leaves nothing half done: a batch's files go first, then its rows, so
a crash between the two leaves rows whose files are gone, which the next run deletes, never files
that no row points to. The /metrics counters follow deletions by themselves (migration 0004's
triggers).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, select

from songforge.clock import now_ms
from songforge.core.states import JobState
from songforge.store.blobs import BlobStore
from songforge.store.db import Database, rowcount
from songforge.store.models import CallbackDelivery, Job

__all__ = ["PRUNE_BATCH", "PRUNE_EVERY_SECONDS", "Pruned", "cutoff_ms", "prune_finished"]

PRUNE_BATCH = 200
PRUNE_EVERY_SECONDS = 3600.0
_FINISHED = (JobState.COMPLETED.value, JobState.FAILED.value)
_DAY_MS = 86_400_000


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
