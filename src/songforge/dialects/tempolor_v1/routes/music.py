"""/music: submit songs and instrumentals, read, list and delete generations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from songforge.config import PLATFORM_VOICE_ID, Settings
from songforge.core import scheduler
from songforge.core.availability import Readiness
from songforge.core.jobs import JobRequest, Kind
from songforge.core.states import VoiceStatus
from songforge.dialects.tempolor_v1.common import (
    decode_cursor,
    encode_cursor,
    find_job,
    parse_job_id,
    read_body,
)
from songforge.dialects.tempolor_v1.ids import make_id, parse_id
from songforge.dialects.tempolor_v1.params import parse_labels, parse_music_params
from songforge.dialects.tempolor_v1.records import UrlFor, job_id_of, job_record
from songforge.dialects.tempolor_v1.routes.downloads import link_maker
from songforge.dialects.tempolor_v1.schemas import (
    InstrumentalRequest,
    LabelsRequest,
    MusicList,
    MusicRecord,
    SongRequest,
    SubmitResponse,
    body_doc,
    doc,
    errors,
)
from songforge.dialects.tempolor_v1.views import busy_body
from songforge.engines.registry import engine_ready, refusal
from songforge.errors import InvalidInput
from songforge.http.deps import current_tenant, get_blobs, get_db, get_settings, resolve_account
from songforge.http.errors import ApiError
from songforge.http.offload import off_loop
from songforge.outbox import CallbackTargetError, drop_pending, validate_callback_url
from songforge.store.blobs import BlobStore
from songforge.store.db import Database
from songforge.store.deployment import private_callbacks_allowed
from songforge.store.fast_reads import JobReader
from songforge.store.models import Account, Job, MidiItem, Tenant, Voice

router = APIRouter(tags=["music"])

PAGE_SIZE = 20
SOURCE_MISSING = "The source material does not exist."


def _owned_item(session: Any, model: type, tenant_id: str, ref: str, kind: str) -> Any:
    try:
        item_id = parse_id(ref, kind).item_id
    except ValueError:
        item_id = ref if ref.isalnum() else ""
    row = session.get(model, item_id) if item_id else None
    if row is None or row.tenant_id != tenant_id:
        raise ApiError(404, SOURCE_MISSING)
    return row


def _check_sources(session: Any, tenant_id: str, params: JobRequest) -> None:
    if params.midi_id:
        _owned_item(session, MidiItem, tenant_id, params.midi_id, "midi")
    if params.cloned_voice_id:
        voice = _owned_item(session, Voice, tenant_id, params.cloned_voice_id, "voice")
        if voice.status != VoiceStatus.READY:
            state = "failed" if voice.status == VoiceStatus.FAILED else "still processing"
            raise ApiError(
                400, f"Parameter clonedVoiceItemId: the cloned voice is {state} (status {voice.status})"
            )
    if params.artist_voice_id and not PLATFORM_VOICE_ID.match(params.artist_voice_id):
        # (A platform voice id, `SV000002`, is no voice of ours: the engine's check decides it,
        # sent as is on an upstream account, a 400 on any other.)
        from songforge.dialects.tempolor_v1.routes.uploads import artist_voice_exists

        if not artist_voice_exists(params.artist_voice_id):
            raise ApiError(404, SOURCE_MISSING)


def _submit(kind: Kind, body: dict[str, Any], tenant: Tenant, db: Database, settings: Settings) -> Any:
    try:
        params = parse_music_params(kind, body)
    except InvalidInput as exc:
        raise ApiError(400, str(exc)) from None
    if params.lyrics:
        from songforge.engines.base import EngineError
        from songforge.engines.singing.voices import check_language

        try:
            check_language(params.lyrics, params.model)
        except EngineError as exc:
            raise ApiError(400, f"Parameter lyrics: {exc}") from None
    if params.reply_url:
        try:
            validate_callback_url(params.reply_url, private_callbacks_allowed(db, settings))
        except CallbackTargetError as exc:
            raise ApiError(400, f"Parameter replyUrl: {exc.for_field('replyUrl')}") from None
    with db.session() as s:
        account = resolve_account(s, tenant.id, params.user_id)
        _check_sources(s, tenant.id, params)
        return submit_answer(s, account, params)


def check_engine(s: Session, account: Account, request: JobRequest, source_engine: str | None = None) -> str:
    """The engine that will make `request` (the account's, or the first ready one of the model's
    route, SONGFORGE_MODEL_ENGINES, ready here or on a live worker; for an extension, see
    `scheduler.engine_for` with the engine that made the source), or a 400 when that engine refuses it."""
    ready = Readiness(s, engine_ready)
    engine = scheduler.engine_for(account, request, ready=ready, source_engine=source_engine)
    extend = request.extra.get("extend")
    reason = refusal(
        engine,
        request.kind,
        request.model,
        midi=bool(request.midi_id),
        voice=request.artist_voice_id,
        cloned_voice=bool(request.cloned_voice_id),
        lyrics=bool(request.lyrics),
        extend_start=extend.get("start_time") if isinstance(extend, dict) else None,
        ready=ready(engine),
    )
    if reason:
        raise ApiError(
            400, f"The {engine} engine cannot make this {request.kind} with model {request.model}: {reason}"
        )
    return engine


def submit_answer(
    s: Session,
    account: Account,
    request: JobRequest,
    variations: int = scheduler.VARIATIONS,
    source_engine: str | None = None,
) -> Any:
    """Admits `request` for `account` and answers as the spec's submit routes do: the accepted jobs
    and the account's slots, or the spec's 429 body when the account is busy. A request the chosen
    engine cannot make is a 400 naming engine, kind, model and why, before anything is queued.
    `source_engine`: for an extension, the engine that made the work it continues."""
    engine = check_engine(s, account, request, source_engine)
    try:
        jobs, busy_now = scheduler.submit_counted(
            s, account=account, request=request, variations=variations, engine=engine
        )
    except scheduler.AccountBusy as busy:
        s.rollback()
        return JSONResponse(busy_body(busy), status_code=429, headers={"Retry-After": str(busy.retry_after)})
    limit = jobs[0].max_jobs
    return {
        "result": True,
        "itemIds": [j.item_id for j in jobs],
        "jobs": [make_id(j.tenant_id, j.user_id, j.item_id) for j in jobs],
        # A self-hosted server has no quota: no time or count limit remains to count down.
        "remainSeconds": 0,
        "maxGenCountAtOnce": limit,
        "unlimited": True,
        "remainNum": max(0, limit - busy_now),
        "totalNum": limit,
    }


@router.post(
    "/music/song",
    response_model=None,
    responses=doc(SubmitResponse, 400, 401, 404, 429),
    openapi_extra=body_doc(SongRequest),
    summary="Create a song with vocals (two variations)",
)
async def post_song(
    request: Request,
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Any:
    body = await read_body(request)
    return await off_loop(_submit, "song", body, tenant, db, settings)


@router.post(
    "/music/instrumental",
    response_model=None,
    responses=doc(SubmitResponse, 400, 401, 404, 429),
    openapi_extra=body_doc(InstrumentalRequest),
    summary="Create instrumental music (two variations)",
)
async def post_instrumental(
    request: Request,
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Any:
    body = await read_body(request)
    return await off_loop(_submit, "instrumental", body, tenant, db, settings)


def _list_music(
    tenant: Tenant,
    db: Database,
    user_id: str | None,
    type_: str | None,
    cursor: str | None,
    url_for: UrlFor | None = None,
) -> dict[str, Any]:
    kind = type_ or "song"
    if kind not in ("song", "instrumental"):
        raise ApiError(400, "Invalid type parameter. Must be 'song' or 'instrumental'")
    with db.session() as s:
        account = resolve_account(s, tenant.id, user_id)
        q = select(Job).where(Job.tenant_id == tenant.id, Job.user_id == account.user_id, Job.kind == kind)
        if cursor:
            c_ms, c_item = decode_cursor(cursor, kind)
            # Keyset pagination: newest first, and jobs created after the first page never
            # shift later pages.
            q = q.where(or_(Job.created_ms < c_ms, and_(Job.created_ms == c_ms, Job.item_id < c_item)))
        rows = list(s.scalars(q.order_by(Job.created_ms.desc(), Job.item_id.desc()).limit(PAGE_SIZE + 1)))
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = encode_cursor(kind, rows[-1].created_ms, rows[-1].item_id) if has_next else ""
    records = [job_record(j, url_for=url_for) for j in rows]
    return {"records": records, "hasNext": has_next, "cursor": next_cursor}


@router.get(
    "/music/",
    response_model=None,
    responses=doc(MusicList, 400, 401, 404),
    summary="List generations, newest first",
)
async def list_music(
    request: Request,
    user_id: str | None = Query(None),
    type: str | None = Query(None, description="song (default) or instrumental"),
    cursor: str | None = Query(None, description="`cursor` from the previous page"),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> JSONResponse:
    # The page's records hold JSON types only, as a status read's do: rendered as they are, since
    # FastAPI's `jsonable_encoder` took twice as long as the query and the records together.
    url_for = link_maker(request, settings)
    return JSONResponse(await off_loop(_list_music, tenant, db, user_id, type, cursor, url_for))


router.add_api_route("/music", list_music, methods=["GET"], response_model=None, include_in_schema=False)


@router.get(
    "/music/{job_id}",
    response_model=None,
    responses=doc(MusicRecord, 400, 401, 404),
    summary="Status and result of one generation",
)
async def get_music(job_id: str, request: Request) -> JSONResponse:
    # Hot path (clients poll it): no thread hop, one indexed query, no response-model filtering.
    # Most polls do not even get here: `status_reads.StatusReads` answers them before routing.
    response = status_response(request, await current_tenant(request), job_id)
    if response is None:
        raise ApiError(404, f"No record found for {job_id}")
    return response


def status_response(request: Request, tenant: Tenant, job_id: str) -> JSONResponse | None:
    """The 200 answer to a status read of `job_id` by `tenant`, or None when it has no such job
    (ApiError 400 for a malformed id)."""
    reader: JobReader = request.app.state.job_reader
    job = reader.get(tenant.id, parse_job_id(job_id))
    if job is None or job_id_of(job) != job_id:
        return None
    return JSONResponse(job_record(job, url_for=link_maker(request, request.app.state.settings)))


def _label(
    job_id: str, body: dict[str, Any], tenant: Tenant, db: Database, url_for: UrlFor
) -> dict[str, Any]:
    try:
        labels = parse_labels(body)
    except InvalidInput as exc:
        raise ApiError(400, str(exc)) from None
    with db.session() as s:
        job = find_job(s, tenant.id, job_id)
        # Only the label columns are written: a worker updating the same row meanwhile (progress,
        # its own `title`) keeps what it wrote, and `updateTime` stays the generation's.
        if "title" in labels:
            job.user_title = labels["title"]
        if "favorite" in labels:
            job.favorite = labels["favorite"]
        s.flush()
        return job_record(job, url_for=url_for)


@router.patch(
    "/music/{job_id}",
    response_model=None,
    responses=doc(MusicRecord, 400, 401, 404),
    openapi_extra=body_doc(LabelsRequest),
    summary="Rename a generation or mark it a favourite (a route of Songforge's own)",
)
async def patch_music(
    job_id: str,
    request: Request,
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> Any:
    """The spec has no way to label a work; the studio's rename and favourites use this. Answers
    with the job's record, as GET /music/{job_id} does."""
    parse_job_id(job_id)  # a malformed id is a 400 before the body is read, as GET answers it
    body = await read_body(request)
    return await off_loop(_label, job_id, body, tenant, db, link_maker(request, settings))


@router.delete(
    "/music/{job_id}",
    responses=errors(400, 401, 404),
    summary="Delete a generation and its files",
)
def delete_music(
    job_id: str,
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    blobs: BlobStore = Depends(get_blobs),
) -> dict[str, bool]:
    with db.session() as s:
        job = find_job(s, tenant.id, job_id)
        item_id = job.item_id
        s.delete(job)
        drop_pending(s, item_id)
    blobs.delete_prefix(f"jobs/{item_id}")
    return {"result": True}
