"""lyrics/generate and lyrics/query."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

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
from songforge.dialects.platform.envelope import EnvelopeRoute, success
from songforge.dialects.platform.jobs import account_for_key, find_jobs
from songforge.dialects.platform.lyrics_tasks import WrittenLyrics, store_lyrics, write
from songforge.dialects.platform.records import lyrics_item
from songforge.dialects.platform.routes.music import model_for
from songforge.store.db import Database
from songforge.store.models import ApiKey

router = APIRouter(route_class=EnvelopeRoute)


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
    written = await in_thread(write, prompt)
    name = model.name if model else None
    item_id = await in_thread(_store, db_of(request), caller, prompt, name, url, written)
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
