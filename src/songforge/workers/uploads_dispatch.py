"""Claiming upload work (stems splits, voice analyses) for the handlers in `workers.uploads`.

The handlers own what the work is; this module owns who gets it: the same conditional-UPDATE
claim as music jobs, so two workers never process one upload.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from sqlalchemy import select, update

from songforge.core.clock import now_ms
from songforge.store.models import StemsTask, Voice
from songforge.workers.context import WorkerContext

log = logging.getLogger("songforge.workers")

STEMS_QUEUED, STEMS_RUNNING, STEMS_FAILED = "queued", "running", "failed"


def _handlers() -> ModuleType | None:
    try:
        return importlib.import_module("songforge.workers.uploads")
    except ImportError:
        return None


def _voice_states(mod: ModuleType) -> tuple[int, int] | None:
    """(queued, running) status values of voices, as the uploads module defines them."""
    queued = getattr(mod, "VOICE_QUEUED", None)
    running = getattr(mod, "VOICE_RUNNING", None)
    if isinstance(queued, int) and isinstance(running, int):
        return queued, running
    return None


def _claim_stems(ctx: WorkerContext) -> str | None:
    with ctx.db.session() as s:
        item_id = s.scalar(
            select(StemsTask.item_id)
            .where(StemsTask.state == STEMS_QUEUED)
            .order_by(StemsTask.created_ms, StemsTask.item_id)
            .limit(1)
        )
        if item_id is None:
            return None
        won = s.execute(
            update(StemsTask)
            .where(StemsTask.item_id == item_id, StemsTask.state == STEMS_QUEUED)
            .values(state=STEMS_RUNNING, updated_ms=now_ms())
        ).rowcount
        return item_id if won else None


def _claim_voice(ctx: WorkerContext, queued: int, running: int) -> str | None:
    with ctx.db.session() as s:
        item_id = s.scalar(
            select(Voice.item_id)
            .where(Voice.status == queued)
            .order_by(Voice.created_ms, Voice.item_id)
            .limit(1)
        )
        if item_id is None:
            return None
        won = s.execute(
            update(Voice)
            .where(Voice.item_id == item_id, Voice.status == queued)
            .values(status=running, updated_ms=now_ms())
        ).rowcount
        return item_id if won else None


def run_one(ctx: WorkerContext) -> bool:
    mod = _handlers()
    if mod is None:
        return False
    if hasattr(mod, "process_stems_task"):
        item_id = _claim_stems(ctx)
        if item_id is not None:
            _guarded(ctx, mod.process_stems_task, item_id, "stems")
            return True
    states = _voice_states(mod)
    if states is not None and hasattr(mod, "process_voice"):
        item_id = _claim_voice(ctx, *states)
        if item_id is not None:
            _guarded(ctx, mod.process_voice, item_id, "voice")
            return True
    return False


def _guarded(ctx: WorkerContext, fn, item_id: str, what: str) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(ctx, item_id)
    except Exception:  # noqa: BLE001 - the handler should record failures itself; this is the backstop
        log.exception("%s %s failed", what, item_id)


def recover(ctx: WorkerContext) -> None:
    """At server start: uploads that were being processed when the server stopped are queued
    again. Their handlers are idempotent (they rewrite their outputs from the stored source)."""
    mod = _handlers()
    with ctx.db.session() as s:
        s.execute(
            update(StemsTask)
            .where(StemsTask.state == STEMS_RUNNING)
            .values(state=STEMS_QUEUED, updated_ms=now_ms())
        )
        states = _voice_states(mod) if mod is not None else None
        if states is not None:
            s.execute(
                update(Voice).where(Voice.status == states[1]).values(status=states[0], updated_ms=now_ms())
            )
