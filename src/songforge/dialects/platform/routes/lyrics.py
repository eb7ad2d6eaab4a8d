"""lyrics/generate and lyrics/query.

Lyrics are written while the request is answered, except on an account whose engine is the
TemPolor upstream: there they are queued for the upstream's own lyrics endpoint
(`lyrics_tasks.queue_lyrics`), and lyrics/query reports `waiting` / `running` until they come.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from songforge.config import UPSTREAM_ENGINE
from songforge.core import scheduler
from songforge.dialects.platform.common import (
    PROMPT_MAX,
    Caller,
    callback_url,
    db_of,
    in_thread,
    item_ids,
    not_found,
    open_api_caller,
    read_json,
    text_field,
)
from songforge.dialects.platform.envelope import EnvelopeRoute, OpenApiError, Status, success
from songforge.dialects.platform.jobs import account_for_key, find_jobs
from songforge.dialects.platform.lyrics_tasks import WrittenLyrics, queue_lyrics, store_lyrics, write
from songforge.dialects.platform.models import ModelChoice
from songforge.dialects.platform.records import lyrics_item
from songforge.dialects.platform.routes.music import model_for
from songforge.engines.registry import refusal
from songforge.store.db import Database
from songforge.store.models import ApiKey

router = APIRouter(route_class=EnvelopeRoute)


def _engine(db: Database, caller: Caller) -> str:
    """The engine of the account the key acts for."""
    with db.session() as s:
        key = s.get(ApiKey, caller.key_id)
        assert key is not None
        return account_for_key(s, key).engine


def _queue(db: Database, caller: Caller, prompt: str, model: ModelChoice | None, url: str) -> str:
    """A lyrics job for the upstream, or 400010 for a song model it has no name for, or 400007
    when the account has no free slot."""
    if model is not None:
        reason = refusal(UPSTREAM_ENGINE, "song", model.profile)
        if reason:
            raise OpenApiError(
                Status.MODEL_UNSUPPORTED, f"the {UPSTREAM_ENGINE} engine cannot write these lyrics: {reason}"
            )
    with db.session() as s:
        key = s.get(ApiKey, caller.key_id)
        assert key is not None
        try:
            job = queue_lyrics(s, account_for_key(s, key), prompt, model, url, UPSTREAM_ENGINE)
        except scheduler.TenantQueueFull as full:
            raise OpenApiError(
                Status.QUEUE_FULL, f"{full.running} tasks are queued, the limit is {full.limit}"
            ) from None
        except scheduler.AccountBusy as busy:
            raise OpenApiError(
                Status.QUEUE_FULL, f"{busy.running} tasks are running, the limit is {busy.limit}"
            ) from None
        return job.item_id


def _store(
    db: Database, caller: Caller, prompt: str, song_model: str | None, url: str, written: WrittenLyrics
) -> str:
    with db.session() as s:
        key = s.get(ApiKey, caller.key_id)
        assert key is not None
        job = store_lyrics(s, account_for_key(s, key), prompt, song_model, url, written)
        return job.item_id


@router.post("/lyrics/generate", summary="Write lyrics from a prompt")
async def lyrics_generate(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    body = await read_json(request)
    prompt = text_field(body, "prompt", PROMPT_MAX, required=True)
    assert prompt is not None
    model = model_for(body, "song_model", "song", required=False)
    url = callback_url(body, request)
    db = db_of(request)
    if await in_thread(_engine, db, caller) == UPSTREAM_ENGINE:
        item_id = await in_thread(_queue, db, caller, prompt, model, url)
        return success(request, {"item_ids": [item_id]})
    written = await in_thread(write, prompt)
    name = model.name if model else None
    item_id = await in_thread(_store, db, caller, prompt, name, url, written)
    return success(request, {"item_ids": [item_id]})


def _query(db: Database, tenant_id: str, ids: list[str]) -> list[dict[str, Any]]:
    with db.session() as s:
        jobs, missing = find_jobs(s, tenant_id, ids)
        missing += [j.item_id for j in jobs if j.kind != "lyrics"]
        if missing:
            raise not_found(missing)
        return [lyrics_item(j) for j in jobs]


@router.post("/lyrics/query", summary="Query lyrics by item id (at most 10)")
async def lyrics_query(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    body = await read_json(request)
    ids = item_ids(body)
    return success(request, {"lyrics": await in_thread(_query, db_of(request), caller.tenant_id, ids)})
