"""Claiming upload work (stems splits, voice analyses) for the handlers in `workers.uploads`.

The handlers own what the work is; this module owns who gets it: the same conditional-UPDATE
claim as music jobs, so two workers never process one upload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select, update

from songforge.clock import now_ms
from songforge.core.states import StemsState, VoiceStatus
from songforge.store.db import rowcount
from songforge.store.models import StemsTask, Voice
from songforge.workers.context import WorkerContext
from songforge.workers.uploads import process_stems_task, process_voice

log = logging.getLogger("songforge.workers")


def _claim(ctx: WorkerContext, model: Any, column: Any, queued: Any, running: Any) -> str | None:
    """Takes the oldest queued upload of one kind: a conditional UPDATE, so one worker wins."""
    with ctx.db.session() as s:
        item_id = s.scalar(
            select(model.item_id).where(column == queued).order_by(model.created_ms, model.item_id).limit(1)
        )
        if item_id is None:
            return None
        won = rowcount(
            s.execute(
                update(model)
                .where(model.item_id == item_id, column == queued)
                .values({column.key: running, "updated_ms": now_ms()})
            )
        )
        return item_id if won else None


def _claim_stems(ctx: WorkerContext) -> str | None:
    return _claim(ctx, StemsTask, StemsTask.state, StemsState.QUEUED, StemsState.RUNNING)


def _claim_voice(ctx: WorkerContext) -> str | None:
    return _claim(ctx, Voice, Voice.status, VoiceStatus.QUEUED, VoiceStatus.RUNNING)


# Whether any upload waits, both kinds, as one SQL condition built once: an idle worker's music
# claim carries it (`core.queue.claim_next(unless=...)`), so uploads go first without a read of
# their own on the path from a request's acceptance to its claim.
UPLOADS_WAITING = or_(
    select(StemsTask.item_id).where(StemsTask.state == StemsState.QUEUED).limit(1).exists(),
    select(Voice.item_id).where(Voice.status == VoiceStatus.QUEUED).limit(1).exists(),
)
_ANY_QUEUED = select(UPLOADS_WAITING)


def _here(fn: Callable[..., object], *args: Any) -> object:
    return fn(*args)


def run_one(ctx: WorkerContext, run: Callable[..., object] = _here) -> bool:
    """Claims and processes one queued upload; False when none waits. `run(fn, *args)` runs the
    processing (a local worker's `priority.run_low`: at low priority, while it claims at normal)."""
    row = ctx.db.read(_ANY_QUEUED)
    if row is None or not row[0]:
        return False
    item_id = _claim_stems(ctx)
    if item_id is not None:
        run(_guarded, ctx, process_stems_task, item_id, "stems")
        return True
    item_id = _claim_voice(ctx)
    if item_id is not None:
        run(_guarded, ctx, process_voice, item_id, "voice")
        return True
    return False


def _guarded(ctx: WorkerContext, fn: Callable[[WorkerContext, str], object], item_id: str, what: str) -> None:
    try:
        fn(ctx, item_id)
    except Exception:  # noqa: BLE001 - the handler should record failures itself; this is the backstop
        log.exception("%s %s failed", what, item_id)


def recover(ctx: WorkerContext) -> None:
    """At server start: uploads that were being processed when the server stopped are queued
    again. Their handlers are idempotent (they rewrite their outputs from the stored source)."""
    with ctx.db.session() as s:
        s.execute(
            update(StemsTask)
            .where(StemsTask.state == StemsState.RUNNING)
            .values(state=StemsState.QUEUED, updated_ms=now_ms())
        )
        s.execute(
            update(Voice)
            .where(Voice.status == VoiceStatus.RUNNING)
            .values(status=VoiceStatus.QUEUED, updated_ms=now_ms())
        )
