"""POST /music/extend: a route of our own, so the studio (which speaks only /v1/tempolor) can extend.

The spec has no extension; the Open API's song/extend and instrumental/extend do. This route makes
the same job they make (a `JobRequest` whose stored request carries `core.jobs.extend_block`, run
by `songforge.workers.extend`) for a completed work named by its `job_id`, and answers like POST
/music/song. The source's kind decides the new work's kind, and its settings (model, prompt, key,
tempo, chords, voice) carry over, so nothing but the start time and new lyrics is asked for.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from songforge.config import Settings
from songforge.core.accounts import as_int
from songforge.core.jobs import JobRequest, extend_block
from songforge.core.states import ACTIVE_JOB_STATES, JobState
from songforge.dialects.tempolor_v1.common import find_job, read_body
from songforge.dialects.tempolor_v1.params import LYRICS_MAX, _reply_url, _text
from songforge.dialects.tempolor_v1.routes.music import submit_answer
from songforge.dialects.tempolor_v1.schemas import SubmitResponse, doc
from songforge.errors import InvalidInput
from songforge.http.deps import current_tenant, get_db, get_settings, resolve_account
from songforge.http.errors import ApiError
from songforge.http.offload import off_loop
from songforge.outbox import CallbackTargetError, validate_callback_url
from songforge.store.db import Database
from songforge.store.deployment import private_callbacks_allowed
from songforge.store.models import Job, Tenant

router = APIRouter(tags=["music"])


def _start_time(body: dict[str, Any]) -> float:
    value = body.get("start_time")
    if value is None:
        raise ApiError(400, "Parameter start_time is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not value == value:
        raise ApiError(400, "Parameter start_time must be a number of seconds")
    if value <= 0:
        raise ApiError(400, "Parameter start_time must be greater than 0")
    return round(float(value), 1)


def _extension_request(
    source: Job, start_time: float, lyrics: str | None, reply_url: str | None, reply_ref: str | None
) -> JobRequest:
    """What the new job asks: the source's settings (as the Open API's extension carries them
    over), the extension block, and the caller's new lyrics."""
    req = source.request or {}
    material = source.material or {}
    bpm = as_int(material.get("bpm"))
    song = source.kind == "song"
    return JobRequest(
        kind="song" if song else "instrumental",
        prompt=str(req.get("prompt", "")),
        model=str(req.get("model", "")),
        user_id=source.user_id,
        lyrics=lyrics,
        tonality=material.get("key") or req.get("tonality"),
        bpm=bpm if bpm else req.get("bpm"),
        chords=material.get("chord") or req.get("chords") or None,
        artist_voice_id=req.get("artistVoiceItemId") if song else None,
        cloned_voice_id=req.get("clonedVoiceItemId") if song else None,
        reply_url=reply_url,
        reply_ref=reply_ref,
        extra={"extend": extend_block(source.item_id, start_time)},
    )


def _check_source(source: Job, job_id: str, start_time: float, lyrics: str | None) -> None:
    if source.state != JobState.COMPLETED:
        state = "still generating" if source.state in ACTIVE_JOB_STATES else "failed"
        raise ApiError(400, f"{job_id} cannot be extended: it is {state}")
    length = float((source.material or {}).get("dur") or 0)
    if start_time > length:
        raise ApiError(
            400, f"Parameter start_time {start_time:g} s is past the end of {job_id} ({length:.1f} s)"
        )
    if lyrics and source.kind != "song":
        raise ApiError(400, "Parameter lyrics cannot be used to extend an instrumental")


def _submit(body: dict[str, Any], tenant: Tenant, db: Database, settings: Settings) -> Any:
    job_id = body.get("job_id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise ApiError(400, "Parameter job_id is required")
    start_time = _start_time(body)
    try:
        lyrics = _text(body, "lyrics", LYRICS_MAX)
        reply_url = _reply_url(body)
        reply_ref = _text(body, "replyRef", 2048)
    except InvalidInput as exc:
        raise ApiError(400, str(exc)) from None
    lyrics = lyrics.strip() if lyrics else None
    if reply_url:
        try:
            validate_callback_url(reply_url, private_callbacks_allowed(db, settings))
        except CallbackTargetError as exc:
            raise ApiError(400, f"Parameter replyUrl: {exc.for_field('replyUrl')}") from None
    with db.session() as s:
        source = find_job(s, tenant.id, job_id.strip())
        _check_source(source, job_id.strip(), start_time, lyrics)
        request = _extension_request(source, start_time, lyrics, reply_url, reply_ref)
        if lyrics:
            from songforge.engines.base import EngineError
            from songforge.engines.singing.voices import check_language

            try:
                check_language(lyrics, request.model)
            except EngineError as exc:
                raise ApiError(400, f"Parameter lyrics: {exc}") from None
        account = resolve_account(s, tenant.id, source.user_id)
        return submit_answer(s, account, request, variations=1, source_engine=source.engine)


@router.post(
    "/music/extend",
    response_model=None,
    responses=doc(SubmitResponse, 400, 401, 404, 429),
    summary="Extend a completed song or instrumental (a route of our own)",
)
async def post_extend(
    request: Request,
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Any:
    body = await read_body(request)
    return await off_loop(_submit, body, tenant, db, settings)
