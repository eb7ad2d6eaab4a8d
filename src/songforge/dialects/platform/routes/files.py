"""The file links in Open API results: `/open-apis/v1/files/<item_id>/<file_token>/<name>`.

The platform's links work without the API key (clients hand them to players and downloaders),
and callbacks are written by workers that cannot sign links, so each Open API work carries a
random token fixed at submission. A link stays valid while its work exists; a wrong token, an
unknown item or a name the item has no file for all answer the same 404.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from songforge.core.states import JobState, StemsState
from songforge.http.errors import ApiError
from songforge.store.db import Database
from songforge.store.models import Job, StemsTask

router = APIRouter(tags=["open-api"])

_MEDIA = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".zip": "application/zip",
    ".flac": "audio/flac",
    ".png": "image/png",  # a work's cover
    ".json": "application/json",  # a work's waveform peaks
}


def _blob_key(db: Database, item_id: str, token: str, name: str) -> str | None:
    with db.session() as s:
        job = s.get(Job, item_id)
        if job is not None:
            meta, blobs = (job.request or {}).get("openapi") or {}, job.blobs or {}
            if job.state != JobState.COMPLETED:
                return None
        else:
            task = s.get(StemsTask, item_id)
            if task is None or task.state != StemsState.COMPLETED:
                return None
            meta, blobs = task.openapi or {}, task.blobs or {}
    expected = meta.get("file_token")
    if not expected or not hmac.compare_digest(str(expected), token):
        return None
    for key in blobs.values():
        if isinstance(key, str) and key.rsplit("/", 1)[-1] == name:
            return key
    return None


@router.get("/files/{item_id}/{token}/{name}", include_in_schema=False)
async def open_api_file(item_id: str, token: str, name: str, request: Request) -> FileResponse:
    key = await run_in_threadpool(_blob_key, request.app.state.db, item_id, token, name)
    if key is None:
        raise ApiError(404, "Not Found")
    path = request.app.state.blobs.path(key)
    if not path.is_file():
        raise ApiError(404, "Not Found")
    media = _MEDIA.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, filename=path.name)
