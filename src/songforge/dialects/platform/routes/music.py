"""song/* and instrumental/*: generate, extend and query, on the shared job queue.

What "extend" means here: the new work is the source's own stored audio up to `start_time` moved
back to its bar line, then a continuation composed from the source's request and seed (same key,
tempo, progressions, sound and voice; new lyrics when given) that ends the song. `start_time` is
checked against the source's length here and recorded on the new item (`extended_from`, with the
bar line as `splice_at` once the worker has spliced: `songforge.workers.extend`). A work made by
the TemPolor upstream is continued by the upstream's own extend endpoint instead (see
docs/upstream.md); `scheduler.engine_for` decides from the source's engine.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from songforge.config import PLATFORM_VOICE_ID, Settings
from songforge.core import scheduler
from songforge.core.accounts import as_int
from songforge.core.states import ACTIVE_JOB_STATES, JobState
from songforge.dialects.platform.callbacks import file_url
from songforge.dialects.platform.common import (
    LYRICS_MAX,
    PROMPT_MAX,
    Caller,
    base_url_of,
    callback_url,
    db_of,
    in_thread,
    item_ids,
    not_found,
    open_api_caller,
    read_json,
    settings_of,
    text_field,
)
from songforge.dialects.platform.envelope import EnvelopeRoute, OpenApiError, Status, bad_parameter, success
from songforge.dialects.platform.jobs import (
    Extension,
    OpenApiWork,
    account_for_key,
    find_jobs,
    submit_work,
)
from songforge.dialects.platform.models import Kind, ModelChoice, UnknownModel, resolve_model
from songforge.dialects.platform.prompt_tags import PromptTagError, parse_prompt_tags
from songforge.dialects.platform.records import music_item
from songforge.http import signing
from songforge.store.db import Database
from songforge.store.models import ApiKey, Job

router = APIRouter(route_class=EnvelopeRoute)

START_TIME_RANGE = (10, 600)
_OTHER: dict[Kind, Kind] = {"song": "instrumental", "instrumental": "song"}


def model_for(body: dict[str, Any], field: str, kind: Kind, *, required: bool = True) -> ModelChoice | None:
    """400003 for an unknown name; 400010 for a real model of the other kind (asking an
    instrumental model for vocals is a feature it lacks, not a typo)."""
    name = text_field(body, field, 64, required=required)
    if name is None:
        return None
    try:
        return resolve_model(name, kind)
    except UnknownModel as exc:
        try:
            resolve_model(name, _OTHER[kind])
        except UnknownModel:
            raise bad_parameter(str(exc)) from None
        raise OpenApiError(Status.MODEL_UNSUPPORTED, f"{name} does not make {kind}s") from None


def url_maker(request: Request, settings: Settings, job: Job):  # noqa: ANN201 - a small closure
    """Open API work links through its own file token; other jobs through signed, expiring links."""
    base = base_url_of(request)
    token = ((job.request or {}).get("openapi") or {}).get("file_token")
    if token:
        return lambda key: file_url(base, job.item_id, token, key)
    return lambda key: signing.signed_url(settings.data_dir, base, key, settings.download_ttl_seconds)


def _submit(db: Database, caller: Caller, work: OpenApiWork, extend_kind: Kind | None = None) -> str:
    with db.session() as s:
        key = s.get(ApiKey, caller.key_id)
        assert key is not None
        if work.extension is not None and extend_kind is not None:
            _apply_source(s, caller.tenant_id, work, extend_kind)
        account = account_for_key(s, key)
        try:
            job = submit_work(s, account, work)
        except scheduler.TenantQueueFull as full:
            raise OpenApiError(
                Status.QUEUE_FULL, f"{full.running} tasks are queued, the limit is {full.limit}"
            ) from None
        except scheduler.AccountBusy as busy:
            raise OpenApiError(
                Status.QUEUE_FULL, f"{busy.running} tasks are running, the limit is {busy.limit}"
            ) from None
        return job.item_id


def _apply_source(session: Any, tenant_id: str, work: OpenApiWork, kind: Kind) -> None:
    """Fills an extension from its source work, or raises the platform's reason it cannot be."""
    assert work.extension is not None
    source_id = work.extension.source_item_id
    found, _ = find_jobs(session, tenant_id, [source_id])
    if not found:
        raise OpenApiError(Status.WORK_NOT_FOUND, source_id)
    src = found[0]
    if src.kind != kind:
        raise OpenApiError(Status.CANNOT_EXTEND, f"{source_id} is not a {kind}")
    if src.state != JobState.COMPLETED:
        state = "still generating" if src.state in ACTIVE_JOB_STATES else "failed"
        raise OpenApiError(Status.WORK_ABNORMAL, f"{source_id} is {state}")
    material = src.material or {}
    length = float(material.get("dur") or 0)
    if work.extension.start_time > length:
        raise OpenApiError(
            Status.CANNOT_EXTEND,
            f"start_time {work.extension.start_time} s is past the end of {source_id} ({length:.0f} s)",
        )
    req = src.request or {}
    meta = req.get("openapi") or {}
    work.source_engine = src.engine
    work.prompt = meta.get("prompt", req.get("prompt", ""))
    work.engine_prompt = req.get("prompt", "")
    work.tonality = material.get("key") or req.get("tonality")
    bpm = as_int(material.get("bpm"))
    work.bpm = bpm if bpm else req.get("bpm")
    work.chords = material.get("chord") or req.get("chords") or None
    if work.model is None:
        from songforge.dialects.platform.models import platform_name

        work.model = resolve_model(meta.get("model") or platform_name(req.get("model"), kind), kind)
    if kind == "song":
        work.artist_voice = req.get("artistVoiceItemId")


async def _generate(request: Request, caller: Caller, kind: Kind) -> Any:
    body = await read_json(request)
    prompt = text_field(body, "prompt", PROMPT_MAX, required=True)
    assert prompt is not None
    model = model_for(body, "model", kind)
    assert model is not None
    work = OpenApiWork(
        kind=kind,
        prompt=prompt,
        engine_prompt=prompt,
        model=model,
        callback_url="",
        base_url=base_url_of(request),
    )
    if kind == "song":
        work.lyrics = text_field(body, "lyrics", LYRICS_MAX)
        voice_id = text_field(body, "voice_id", 16)
        if voice_id is not None:
            voice_id = voice_id.strip()
            if not PLATFORM_VOICE_ID.match(voice_id):
                raise bad_parameter(f"voice_id {voice_id!r} must be SV followed by digits, e.g. SV000001")
            work.voice_id = voice_id  # which voice it means depends on the engine (jobs._voice_for)
    else:
        try:
            tags = parse_prompt_tags(prompt)
        except PromptTagError as exc:
            raise bad_parameter(f"prompt: {exc}") from None
        cap = model.max_seconds
        if tags.duration is not None and tags.duration > cap:
            raise bad_parameter(
                f"prompt: #duration {tags.duration} s is longer than {model.name} allows ({cap:.0f} s)"
            )
        work.engine_prompt = tags.text
        work.bpm, work.tonality, work.chords = tags.bpm, tags.tonality, tags.chords
        work.duration = tags.duration
    work.callback_url = callback_url(body, request)
    item_id = await in_thread(_submit, db_of(request), caller, work)
    return success(request, {"item_ids": [item_id]})


async def _extend(request: Request, caller: Caller, kind: Kind) -> Any:
    body = await read_json(request)
    source = text_field(body, "item_id", 64, required=True)
    assert source is not None
    raw_start = body.get("start_time")
    if raw_start is None or raw_start == "":
        raise bad_parameter("start_time not blank")
    start = as_int(raw_start)
    lo, hi = START_TIME_RANGE
    if start is None or not lo <= start <= hi:
        raise bad_parameter(f"start_time must be a whole number of seconds between {lo} and {hi}")
    model = model_for(body, "model", kind, required=False)
    work = OpenApiWork(
        kind=kind,
        prompt="",
        engine_prompt="",
        model=model,  # None: the source's model, filled in by _apply_source
        callback_url="",
        base_url=base_url_of(request),
        extension=Extension(source.strip(), start),
    )
    if kind == "song":
        work.lyrics = text_field(body, "lyrics", LYRICS_MAX)
    work.callback_url = callback_url(body, request)
    item_id = await in_thread(_submit, db_of(request), caller, work, kind)
    return success(request, {"item_ids": [item_id]})


def _query_jobs(db: Database, tenant_id: str, ids: list[str]) -> list[Job]:
    with db.session() as s:
        jobs, missing = find_jobs(s, tenant_id, ids)
        missing += [j.item_id for j in jobs if j.kind not in ("song", "instrumental")]
        if missing:
            raise not_found(missing)
        for j in jobs:
            s.expunge(j)
        return jobs


async def _query(request: Request, caller: Caller, field: str) -> Any:
    body = await read_json(request)
    ids = item_ids(body)
    jobs = await in_thread(_query_jobs, db_of(request), caller.tenant_id, ids)
    settings = settings_of(request)
    return success(request, {field: [music_item(j, url_maker(request, settings, j)) for j in jobs]})


@router.post("/song/generate", summary="Generate a song (platform: Song Generation)")
async def song_generate(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    return await _generate(request, caller, "song")


@router.post("/song/extend", summary="Extend a song (platform: Song Extension)")
async def song_extend(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    return await _extend(request, caller, "song")


@router.post("/song/query", summary="Query songs by item id (at most 10)")
async def song_query(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    return await _query(request, caller, "songs")


@router.post("/instrumental/generate", summary="Generate an instrumental (#BPM, #key, #chords, #duration)")
async def instrumental_generate(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    return await _generate(request, caller, "instrumental")


@router.post("/instrumental/extend", summary="Extend an instrumental")
async def instrumental_extend(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    return await _extend(request, caller, "instrumental")


@router.post("/instrumental/query", summary="Query instrumentals by item id (at most 10)")
async def instrumental_query(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    return await _query(request, caller, "instrumentals")
