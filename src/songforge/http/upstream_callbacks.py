"""POST /upstream/callbacks/{job_id}/{secret}: the TemPolor upstream calling back about our task.

Why a route of the edge and not a dialect: no client of ours speaks here, the upstream platform
does, about a task the `tempolor` engine sent it (songforge.engines.tempolor). The URL is the one
the engine put in the task's `callback_url`: our public base URL (SONGFORGE_PUBLIC_URL), the job,
and the task's own random secret, stored with the task row and compared in constant time. Nothing
else authenticates the call (the platform signs nothing), so a wrong or unknown pair is a plain
404 that says nothing about which half was wrong.

What a callback does: its item is merged into the task row and `callback_ms` set
(`songforge.store.upstream.record_callback`); the worker waiting on the task sees the new time at
its next nap (a quarter second), queries the upstream at once instead of at its next poll, and
finishes from the callback's item if the query fails. Polling stays the fallback when a callback
is late or never comes. The answer is the platform's acknowledgement, HTTP 200 with the body
`success`, also for a well-formed body about no item of this task (so the upstream stops resending).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from songforge.errors import InvalidInput
from songforge.http.body import BodyTooLarge, parse_json, read_capped
from songforge.store.db import Database
from songforge.store.upstream import record_callback

__all__ = ["ACK_BODY", "router"]

log = logging.getLogger("songforge.upstream")

router = APIRouter(tags=["service"])

ACK_BODY = "success"  # the platform's acknowledgement: anything else is retried
_MAX_BYTES = 1024 * 1024  # an item with its lyrics sections; the callback carries no audio


def _record(db: Database, job_id: str, secret: str, payload: object) -> bool | None:
    with db.session() as s:
        return record_callback(s, job_id, secret, payload)


@router.post("/upstream/callbacks/{job_id}/{secret}", include_in_schema=False)
async def upstream_callback(job_id: str, secret: str, request: Request) -> Response:
    settings = request.app.state.settings
    try:
        raw = await read_capped(
            request, min(_MAX_BYTES, settings.max_body_bytes), settings.body_timeout_seconds
        )
        payload = parse_json(raw)
    except InvalidInput as exc:
        code = 413 if isinstance(exc, BodyTooLarge) else 400
        return PlainTextResponse(f"bad callback body: {exc}", status_code=code)
    found = await run_in_threadpool(_record, request.app.state.db, job_id, secret, payload)
    if found is None:
        return PlainTextResponse("not found", status_code=404)
    if not found:
        log.info("upstream callback for job %s names no item of its task; acknowledged", job_id)
    return PlainTextResponse(ACK_BODY)
