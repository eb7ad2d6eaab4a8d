"""stems and stems/query: split audio fetched from a URL, on the shared stems workers.

The URL is fetched while the request is answered, so a URL that cannot be used (forbidden
address, too large, not audio, too long) is refused at once with 400003 and the reason, and no
task is left behind. The fetched file then goes through the same queue and separation as an
upload to /v1/tempolor's stems splitter.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.core.ids import new_item_id
from songforge.core.states import StemsState
from songforge.dialects.platform.callbacks import file_url, new_file_token
from songforge.dialects.platform.common import (
    URL_MAX,
    Caller,
    base_url_of,
    callback_url,
    db_of,
    in_thread,
    item_ids,
    not_found,
    open_api_caller,
    private_targets_allowed,
    read_json,
    settings_of,
    text_field,
)
from songforge.dialects.platform.envelope import EnvelopeRoute, bad_parameter, success
from songforge.dialects.platform.fetch import FetchError, fetch_to_file
from songforge.dialects.platform.jobs import account_for_key
from songforge.dialects.platform.records import stems_item
from songforge.http import signing
from songforge.store.blobs import BlobStore
from songforge.store.db import Database
from songforge.store.models import ApiKey, StemsTask

router = APIRouter(route_class=EnvelopeRoute)

_CONTENT_TYPE = {"mp3": "audio/mpeg", "wav": "audio/wav", "m4a": "audio/mp4", "flac": "audio/flac"}


def _check_audio(path: Path) -> str:
    """The file's kind; 400003 when it is not audio we can split or breaks the upload limits."""
    from songforge.audio.decode import DecodeError, DecodeLimits, LimitExceeded, check_limits, probe

    try:
        info = probe(path)
        check_limits(info, DecodeLimits.from_env())
    except (DecodeError, LimitExceeded) as exc:
        raise bad_parameter(f"url: {exc}") from None
    return info.kind


def _create(
    db: Database, blobs: BlobStore, caller: Caller, source: Path, kind: str, meta: dict[str, Any]
) -> str:
    with db.session() as s:
        key = s.get(ApiKey, caller.key_id)
        assert key is not None
        account = account_for_key(s, key)
        item_id = new_item_id()
        while s.get(StemsTask, item_id) is not None:
            item_id = new_item_id()
        source_key = f"stems/{item_id}/source.{kind}"
        blobs.put_file(source_key, source)
        now = now_ms()
        s.add(
            StemsTask(
                item_id=item_id,
                tenant_id=caller.tenant_id,
                user_id=account.user_id,
                title=Path(meta["url"].split("?", 1)[0]).name[:300] or f"source.{kind}",
                state=StemsState.QUEUED,
                content_type=_CONTENT_TYPE[kind],
                audio_type=kind,
                source_key=source_key,
                blobs={},
                detail={},
                openapi=meta,
                created_ms=now,
                updated_ms=now,
            )
        )
        return item_id


@router.post("/stems", summary="Split the audio at `url` into stems")
async def stems_create(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    body = await read_json(request)
    settings: Settings = settings_of(request)
    url = text_field(body, "url", URL_MAX, required=True)
    assert url is not None
    url = url.strip()
    cb = callback_url(body, request)
    blobs: BlobStore = request.app.state.blobs
    scratch = Path(tempfile.mkdtemp(prefix=".openapi-fetch-", dir=blobs.root))
    dest = scratch / "source"
    try:
        try:
            await fetch_to_file(
                url,
                dest,
                allow_private=private_targets_allowed(request),
                max_bytes=settings.max_audio_bytes,
            )
        except FetchError as exc:
            raise bad_parameter(str(exc)) from None
        kind = await in_thread(_check_audio, dest)
        meta = {
            "callback_url": cb,
            "url": url,
            "base_url": base_url_of(request),
            "file_token": new_file_token(),
        }
        item_id = await in_thread(_create, db_of(request), blobs, caller, dest, kind, meta)
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    return success(request, {"item_ids": [item_id]})


def _query(db: Database, tenant_id: str, ids: list[str]) -> list[StemsTask]:
    with db.session() as s:
        rows = {
            t.item_id: t
            for t in s.query(StemsTask).filter(StemsTask.tenant_id == tenant_id, StemsTask.item_id.in_(ids))
        }
        missing = [i for i in ids if i not in rows]
        if missing:
            raise not_found(missing)
        for t in rows.values():
            s.expunge(t)
        return [rows[i] for i in ids]


@router.post("/stems/query", summary="Query stems tasks by item id (at most 10)")
async def stems_query(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    body = await read_json(request)
    ids = item_ids(body)
    tasks = await in_thread(_query, db_of(request), caller.tenant_id, ids)
    settings = settings_of(request)
    base = base_url_of(request)
    ttl = settings.download_ttl_seconds
    items = []
    for task in tasks:
        token = (task.openapi or {}).get("file_token")
        if token:
            items.append(stems_item(task, partial(file_url, base, task.item_id, token)))
        else:
            items.append(stems_item(task, lambda key: signing.signed_url(settings.data_dir, base, key, ttl)))
    return success(request, {"stems": items})
