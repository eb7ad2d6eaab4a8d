"""Uploads: MIDI files, cloned-voice samples, stems splits; and the artist-voice catalogue.

Every upload is a raw request body (not multipart) whose Content-Type must be one of the spec's
table. Bodies are streamed to a scratch file and refused with 413 the moment they pass the
configured cap, so an oversized upload costs at most the cap in disk and nothing in memory. The
file is checked (MIDI parsed, audio probed) before anything is stored, moved into the blob store,
and only then is its row written: a failed request leaves neither a record nor a file.

Voice analysis and stem separation run in the worker processes (`songforge.workers.uploads`);
the POST waits up to `SONGFORGE_UPLOAD_WAIT_SECONDS` (default 20 s) for the result and otherwise
answers 202 with the id to poll:

- cloned voices: `GET /music/cloned-voices/` lists them with `status` 0 (processing), 10 (failed,
  with `error`) or 30 (ready).
- stems: `GET /music/stems-splitter/{stemsItemId}` answers the same body as a finished POST once
  `state` is 2 (0 queued, 1 splitting, 2 done with `stemsZipUrl`, 3 failed with `error`).
  `DELETE /music/stems-splitter/{stemsItemId}` removes the task and its files.

A POST that ends in failure within its wait answers 400 with the reason and keeps nothing (no
orphan record the client never got an id for); failures found after a 202 stay visible in the
record.

Decision: a MIDI file without a single note is refused at upload (400) rather than accepted
and failed later in generation: there is nothing in it to build a song on, and the uploader learns
why at once.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import and_, func, or_, select
from starlette.concurrency import run_in_threadpool

from songforge import config
from songforge.clock import now_ms
from songforge.config import Settings
from songforge.core.ids import new_item_id
from songforge.core.states import FINAL_STEMS_STATES, FINAL_VOICE_STATUSES, StemsState, VoiceStatus
from songforge.core.uploads import VOICE_MAX_SECONDS, VOICE_MIN_SECONDS
from songforge.dialects.tempolor_v1.common import decode_cursor, encode_cursor
from songforge.dialects.tempolor_v1.ids import make_id, parse_id
from songforge.dialects.tempolor_v1.routes.downloads import link_base
from songforge.dialects.tempolor_v1.schemas import errors
from songforge.http import signing
from songforge.http.body import BodyTimeout, BodyTooLarge, iter_body
from songforge.http.deps import current_tenant, get_blobs, get_db, get_settings, resolve_account
from songforge.http.errors import ApiError
from songforge.store.blobs import BlobStore
from songforge.store.db import Database
from songforge.store.models import MidiItem, StemsTask, Tenant, Voice

router = APIRouter(tags=["uploads"])

PAGE_SIZE = 20
MIDI_TYPES = ("audio/midi", "audio/x-midi")
# The spec's table, in its order.
AUDIO_TYPES = (
    "audio/mp4",
    "audio/x-m4a",
    "audio/mpeg",
    "audio/wav",
    "audio/wave",
    "audio/flac",
    "audio/x-flac",
)
NAME_MAX = 200
POLL_SECONDS = 0.2
ARTIST_UCID = "songforge"

# How this dialect numbers our states: stems 0 queued, 1 splitting, 2 done, 3 failed; voices 0 while
# processing, 10 failed, 30 ready (the music status table's FAILED and COMPLETED).
STEMS_STATE: dict[str, int] = {
    StemsState.QUEUED: 0,
    StemsState.RUNNING: 1,
    StemsState.COMPLETED: 2,
    StemsState.FAILED: 3,
}
VOICE_STATUS: dict[int, int] = {
    VoiceStatus.QUEUED: 0,
    VoiceStatus.RUNNING: 0,
    VoiceStatus.FAILED: 10,
    VoiceStatus.READY: 30,
}


def _raw_body_doc(types: tuple[str, ...]) -> dict[str, Any]:
    schema = {"type": "string", "format": "binary"}
    return {"requestBody": {"required": True, "content": {t: {"schema": schema} for t in types}}}


def wait_seconds(settings: Settings) -> float:
    return config.upload_wait_seconds(settings)


# --------------------------------------------------------------------------- request plumbing


def _content_type(request: Request, allowed: tuple[str, ...]) -> str:
    base = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if base not in allowed:
        if len(allowed) == 2:
            raise ApiError(400, f"Content-Type must be {allowed[0]} or {allowed[1]}")
        raise ApiError(400, f"Content-Type must be one of {', '.join(allowed)}")
    return base


def _name(name: str | None, required: bool) -> str:
    value = (name or "").strip()
    if required and not value:
        raise ApiError(400, "Parameter name is required")
    if len(value) > NAME_MAX:
        raise ApiError(400, f"Parameter name must be at most {NAME_MAX} characters")
    return value


def _too_large(cap: int) -> ApiError:
    return ApiError(413, f"File is too large: the limit is {cap} bytes ({cap / 1048576:.1f} MB)")


async def receive_body(request: Request, cap: int, scratch_dir: Path) -> Path:
    """Streams the raw body to a scratch file, refusing it as soon as it passes `cap` bytes.

    The caller owns (and must remove or move) the returned file."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)
    scratch_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".upload-", dir=scratch_dir)
    path = Path(name)
    size = 0
    timeout = request.app.state.settings.body_timeout_seconds
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                # A slow upload may take long, but a client silent for `timeout` seconds is refused.
                async for chunk in iter_body(request, cap, timeout):
                    size += len(chunk)
                    f.write(chunk)
            except BodyTooLarge:
                raise _too_large(cap) from None
            except BodyTimeout as exc:
                raise ApiError(408, str(exc)) from None
        if size == 0:
            raise ApiError(400, "Empty file received")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _scratch(blobs: BlobStore) -> Path:
    # Inside the blob root, so moving the finished upload into place is a rename.
    return blobs.root / ".incoming"


def _link(request: Request, settings: Settings, key: str) -> str:
    return signing.signed_url(
        settings.data_dir, link_base(request, settings), key, settings.download_ttl_seconds
    )


def _page(
    session: Any, model: Any, kind: str, tenant_id: str, user_id: str, cursor: str | None
) -> tuple[list, str]:
    """Keyset pagination, newest first: items added after the first page never shift later ones."""
    q = select(model).where(model.tenant_id == tenant_id, model.user_id == user_id)
    if cursor:
        c_ms, c_item = decode_cursor(cursor, kind)
        q = q.where(or_(model.created_ms < c_ms, and_(model.created_ms == c_ms, model.item_id < c_item)))
    rows = list(
        session.scalars(q.order_by(model.created_ms.desc(), model.item_id.desc()).limit(PAGE_SIZE + 1))
    )
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (encode_cursor(kind, rows[-1].created_ms, rows[-1].item_id) if has_next else "")


def _own_item_id(value: str, kind: str, label: str) -> str:
    try:
        return parse_id(value, kind).item_id
    except ValueError:
        raise ApiError(400, f"{label} has incorrect format") from None


def _store_then_record(blobs: BlobStore, key: str, upload: Path, write_row: Any) -> Any:
    """Moves the upload into the store, then writes its row; undoes the move if the row fails."""
    blobs.put_file(key, upload)
    try:
        return write_row()
    except BaseException:
        blobs.delete(key)
        raise


def _discard(db: Database, blobs: BlobStore, model: Any, item_id: str, prefix: str) -> None:
    """Forgets an upload whose processing failed while its POST waited: row and files."""
    with db.session() as s:
        row = s.get(model, item_id)
        if row is not None:
            s.delete(row)
    blobs.delete_prefix(f"{prefix}/{item_id}")


async def _accept_audio(
    request: Request,
    settings: Settings,
    db: Database,
    blobs: BlobStore,
    content_type: str,
    *,
    voice: bool,
    prefix: str,
    stem: str,
    make_row: Any,
) -> tuple[str, Any]:
    """Streams an audio upload to scratch, probes it, then stores it under
    `<prefix>/<item>/<stem>.<kind>` and writes the row `make_row(item_id, key, info)` returns.
    Nothing is kept if any step fails."""
    upload = await receive_body(request, settings.max_audio_bytes, _scratch(blobs))
    try:
        info = await run_in_threadpool(_probe_upload, upload, content_type, voice=voice)
        item_id = new_item_id()
        key = f"{prefix}/{item_id}/{stem}.{info.kind}"
        row = make_row(item_id, key, info)

        def write_row() -> None:
            with db.session() as s:
                s.add(row)

        await run_in_threadpool(_store_then_record, blobs, key, upload, write_row)
    finally:
        upload.unlink(missing_ok=True)
    return item_id, info


async def _wait_for(db: Database, check: Any, seconds: float) -> Any:
    """Polls `check(session)` until it returns something or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        found = await run_in_threadpool(_check_once, db, check)
        if found is not None or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(POLL_SECONDS)


def _check_once(db: Database, check: Any) -> Any:
    with db.session() as s:
        return check(s)


# --------------------------------------------------------------------------- MIDI


def inspect_midi(data: bytes) -> dict[str, Any]:
    """Parses the file with mido; ApiError(400) when it is not MIDI, is corrupt, or has no notes."""
    import mido

    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
        notes = sum(
            1
            for track in mid.tracks
            for msg in track
            if msg.type == "note_on" and getattr(msg, "velocity", 0) > 0
        )
        tempo = next((msg.tempo for track in mid.tracks for msg in track if msg.type == "set_tempo"), None)
    except Exception as exc:  # mido raises many types on malformed input; all mean "corrupt"
        reason = str(exc) or exc.__class__.__name__
        raise ApiError(400, f"The file is not a valid MIDI file: {reason}") from None
    if notes == 0:
        raise ApiError(400, "The MIDI file contains no notes")
    try:
        length = round(float(mid.length), 3)
    except (ValueError, TypeError):
        length = None  # type 2 (asynchronous) files have no single length
    return {
        "type": mid.type,
        "tracks": len(mid.tracks),
        "ticksPerBeat": mid.ticks_per_beat,
        "notes": notes,
        "durationSeconds": length,
        "bpm": round(mido.tempo2bpm(tempo), 3) if tempo else 120.0,
    }


def midi_record(request: Request, settings: Settings, item: MidiItem) -> dict[str, Any]:
    return {
        "opType": "upload",
        "ucid": item.user_id,
        "midiItemId": make_id(item.tenant_id, item.user_id, item.item_id, "midi"),
        "name": item.name,
        "midiUrl": _link(request, settings, item.blob_key),
        "midiType": "upload",
        "midiValue": json.dumps(item.info or {}, separators=(",", ":")),
        "createTime": item.created_ms,
    }


@router.post(
    "/music/midi/",
    summary="Upload a MIDI file (raw body, Content-Type audio/midi or audio/x-midi)",
    responses=errors(400, 401, 404, 413),
    openapi_extra=_raw_body_doc(MIDI_TYPES),
)
async def post_midi(
    request: Request,
    name: str | None = Query(None, description="Required: a name for the MIDI file"),
    user_id: str | None = Query(None),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    blobs: BlobStore = Depends(get_blobs),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    _content_type(request, MIDI_TYPES)
    title = _name(name, required=True)
    account_user = await run_in_threadpool(_account_user, db, tenant.id, user_id)
    upload = await receive_body(request, settings.max_midi_bytes, _scratch(blobs))
    try:
        info = await run_in_threadpool(lambda: inspect_midi(upload.read_bytes()))
        item_id = new_item_id()
        key = f"midi/{item_id}.mid"
        size = upload.stat().st_size

        def write_row() -> tuple[MidiItem, bool]:
            with db.session() as s:
                first = not s.scalar(
                    select(func.count())
                    .select_from(MidiItem)
                    .where(MidiItem.tenant_id == tenant.id, MidiItem.user_id == account_user)
                )
                item = MidiItem(
                    item_id=item_id,
                    tenant_id=tenant.id,
                    user_id=account_user,
                    name=title,
                    blob_key=key,
                    size=size,
                    info=info,
                    created_ms=now_ms(),
                )
                s.add(item)
            return item, first

        item, first = await run_in_threadpool(_store_then_record, blobs, key, upload, write_row)
    finally:
        upload.unlink(missing_ok=True)
    return {"isFirst": first, "midiRenderVO": midi_record(request, settings, item)}


def _account_user(db: Database, tenant_id: str, user_id: str | None) -> str:
    with db.session() as s:
        return resolve_account(s, tenant_id, user_id).user_id


@router.get("/music/midi/", summary="List uploaded MIDI files, newest first", responses=errors(400, 401, 404))
def list_midi(
    request: Request,
    user_id: str | None = Query(None),
    cursor: str | None = Query(None, description="`cursor` from the previous page"),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    with db.session() as s:
        account = resolve_account(s, tenant.id, user_id)
        rows, next_cursor = _page(s, MidiItem, "midi", tenant.id, account.user_id, cursor)
    return {
        "records": [midi_record(request, settings, r) for r in rows],
        "hasNext": bool(next_cursor),
        "cursor": next_cursor,
    }


@router.delete(
    "/music/midi/{midiItemId}", summary="Delete an uploaded MIDI file", responses=errors(400, 401, 404)
)
def delete_midi(
    midiItemId: str,  # noqa: N803 - the spec's name, shown in the docs
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    blobs: BlobStore = Depends(get_blobs),
) -> dict[str, Any]:
    item_id = _own_item_id(midiItemId, "midi", "midiItemId")
    with db.session() as s:
        item = s.get(MidiItem, item_id)
        if (
            item is None
            or item.tenant_id != tenant.id
            or make_id(tenant.id, item.user_id, item_id, "midi") != midiItemId
        ):
            raise ApiError(404, f"No record found for {midiItemId}")
        key = item.blob_key
        s.delete(item)
    blobs.delete(key)
    return {"result": True}


# --------------------------------------------------------------------------- audio probing


def _probe_upload(path: Path, content_type: str, *, voice: bool) -> Any:
    """Header checks only (nothing decoded): the bytes match the Content-Type, rates and
    channels are within limits, and for voices the declared length is 5 s..5 min."""
    from songforge.audio.decode import DecodeError, DecodeLimits, check_content_type, check_limits, probe
    from songforge.errors import LimitExceeded

    try:
        info = probe(path)
        check_content_type(info, content_type)
        check_limits(info, DecodeLimits.from_env())
    except (DecodeError, LimitExceeded) as exc:
        # A valid file over the operator's limits is a 413 here, any other refusal a 400.
        raise ApiError(413 if isinstance(exc, LimitExceeded) else 400, str(exc)) from None
    if voice and info.duration_s is not None:
        if not VOICE_MIN_SECONDS <= info.duration_s <= VOICE_MAX_SECONDS:
            raise ApiError(
                400, f"The voice sample must be 5 seconds to 5 minutes long; it is {info.duration_s:.1f} s"
            )
    return info


# --------------------------------------------------------------------------- cloned voices


def _voice_status(voice: Voice) -> int:
    return VOICE_STATUS.get(voice.status, 0)


def voice_record(request: Request, settings: Settings, voice: Voice) -> dict[str, Any]:
    url = _link(request, settings, voice.blob_key)
    profile = voice.profile or {}
    labels = [str(profile["gender"])] if voice.status == VoiceStatus.READY and profile.get("gender") else []
    record: dict[str, Any] = {
        "isAddRel": False,
        "relSource": "",
        "ucid": voice.user_id,
        "bizType": "user",
        "operatorType": "gen",
        "itemId": voice.item_id,
        "rootItemId": voice.item_id,
        "parentItemId": voice.item_id,
        "name": voice.name,
        "resourceUrl": url,
        "coverUrl": "",
        "readStatus": 0,
        "status": _voice_status(voice),
        "vocalUrl": url,
        "createTime": voice.created_ms,
        "updateTime": voice.updated_ms,
        "labels": labels,
        "clonedVoiceItemId": make_id(voice.tenant_id, voice.user_id, voice.item_id, "voice"),
    }
    if voice.status == VoiceStatus.FAILED:
        record["error"] = voice.error or "Voice analysis failed"
    return record


@router.post(
    "/music/cloned-voices/",
    summary="Upload a 5 s..5 min voice sample to clone (raw body)",
    description="Voice matching by analysis (range, median pitch, timbre), not a neural clone. Answers "
    "200 when the voice is ready within the wait, else 202; poll GET /music/cloned-voices/.",
    responses={**errors(400, 401, 404, 413), 202: {"description": "Still processing; check back later"}},
    openapi_extra=_raw_body_doc(AUDIO_TYPES),
)
async def post_cloned_voice(
    request: Request,
    name: str | None = Query(None, description="Required: a name for the voice"),
    user_id: str | None = Query(None),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    blobs: BlobStore = Depends(get_blobs),
    settings: Settings = Depends(get_settings),
) -> Any:
    content_type = _content_type(request, AUDIO_TYPES)
    title = _name(name, required=True)
    account_user = await run_in_threadpool(_account_user, db, tenant.id, user_id)

    def new_voice(item_id: str, key: str, _info: Any) -> Voice:
        now = now_ms()
        return Voice(
            item_id=item_id,
            tenant_id=tenant.id,
            user_id=account_user,
            name=title,
            status=VoiceStatus.QUEUED,
            blob_key=key,
            content_type=content_type,
            profile={},
            created_ms=now,
            updated_ms=now,
        )

    item_id, _info = await _accept_audio(
        request,
        settings,
        db,
        blobs,
        content_type,
        voice=True,
        prefix="voices",
        stem="sample",
        make_row=new_voice,
    )
    voice_id = make_id(tenant.id, account_user, item_id, "voice")
    wait = wait_seconds(settings)

    def finished(s: Any) -> tuple[int, str | None] | None:
        voice = s.get(Voice, item_id)
        if voice is None:
            return (VoiceStatus.FAILED, "The voice was deleted while it was being analysed")
        if voice.status in FINAL_VOICE_STATUSES:
            return voice.status, voice.error
        return None

    outcome = await _wait_for(db, finished, wait)
    if outcome is None:
        return JSONResponse(
            {
                "itemId": item_id,
                "clonedVoiceItemId": voice_id,
                "message": (
                    f"Voice cloning is still processing after {wait:g} seconds. Please check back later."
                ),
            },
            status_code=202,
        )
    status, error = outcome
    if status == VoiceStatus.FAILED:
        await run_in_threadpool(_discard, db, blobs, Voice, item_id, "voices")
        raise ApiError(400, error or "Voice analysis failed")
    return {"result": True, "itemId": item_id, "clonedVoiceItemId": voice_id}


@router.get(
    "/music/cloned-voices/", summary="List cloned voices, newest first", responses=errors(400, 401, 404)
)
def list_cloned_voices(
    request: Request,
    user_id: str | None = Query(None),
    cursor: str | None = Query(None, description="`cursor` from the previous page"),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    with db.session() as s:
        account = resolve_account(s, tenant.id, user_id)
        rows, next_cursor = _page(s, Voice, "voice", tenant.id, account.user_id, cursor)
    return {
        "records": [voice_record(request, settings, r) for r in rows],
        "hasNext": bool(next_cursor),
        "cursor": next_cursor,
    }


@router.delete(
    "/music/cloned-voices/{clonedVoiceItemId}",
    summary="Delete a cloned voice",
    responses=errors(400, 401, 404),
)
def delete_cloned_voice(
    clonedVoiceItemId: str,  # noqa: N803 - the spec's name, shown in the docs
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    blobs: BlobStore = Depends(get_blobs),
) -> dict[str, Any]:
    item_id = _own_item_id(clonedVoiceItemId, "voice", "clonedVoiceItemId")
    with db.session() as s:
        voice = s.get(Voice, item_id)
        if (
            voice is None
            or voice.tenant_id != tenant.id
            or (make_id(tenant.id, voice.user_id, item_id, "voice") != clonedVoiceItemId)
        ):
            raise ApiError(404, f"No record found for {clonedVoiceItemId}")
        s.delete(voice)
    blobs.delete_prefix(f"voices/{item_id}")
    return {"result": True}


# --------------------------------------------------------------------------- artist voices


def _catalogue() -> list[dict[str, Any]]:
    from songforge.engines.singing.voices import artist_voices

    return artist_voices()


def artist_voice_exists(item_id: str) -> bool:
    """Whether `item_id` names a voice of the catalogue (used to validate artistVoiceItemId)."""
    return any(v.get("itemId") == item_id for v in _catalogue())


_ITEM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_preview_locks: dict[str, threading.Lock] = {}
_preview_guard = threading.Lock()


def _render_preview(blobs: BlobStore, item_id: str) -> Path:
    """Renders the preview once per singer and revision, on first request, and keeps it in the blob store."""
    from songforge.engines.singing.previews import preview_key

    key = preview_key(item_id)
    path = blobs.path(key)
    if path.is_file():
        return path
    with _preview_guard:
        lock = _preview_locks.setdefault(item_id, threading.Lock())
    with lock:
        if path.is_file():
            return path
        from songforge.engines.singing.previews import render_preview

        scratch = _scratch(blobs)
        scratch.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".preview-", dir=scratch)) / f"{item_id}.mp3"
        try:
            render_preview(item_id, tmp)
            blobs.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)
            tmp.parent.rmdir()
    return path


@router.get("/music/artist-voices/", summary="The artist-voice catalogue", responses=errors(400, 401, 404))
def list_artist_voices(
    request: Request,
    user_id: str | None = Query(None),
    cursor: str | None = Query(None, description="Accepted for compatibility; the catalogue is one page"),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    with db.session() as s:
        resolve_account(s, tenant.id, user_id)
    base = link_base(request, settings).rstrip("/")
    records = []
    for v in _catalogue():
        preview = f"{base}/v1/tempolor/music/artist-voices/{v['itemId']}/preview.mp3"
        records.append(
            {
                "ucid": ARTIST_UCID,
                "bizType": "ai_voice_cloned",
                "itemId": v["itemId"],
                "name": v.get("name", v["itemId"]),
                "resourceUrl": preview,
                "coverUrl": "",
                "vocalUrl": preview,
                "weight": v.get("weight", 0),
                "isAddRel": False,
                "relSource": "",
                "labels": list(v.get("labels", [])),
                "gender": v.get("gender", ""),
            }
        )
    records.sort(key=lambda r: -int(r["weight"] or 0))
    return {"records": records, "hasNext": False, "cursor": "", "sysTime": now_ms()}


@router.get(
    "/music/artist-voices/{item_id}/preview.mp3",
    response_class=FileResponse,
    summary="A short sung preview of an artist voice (public: the catalogue is the same for everyone)",
    responses=errors(404, 503),
)
async def artist_voice_preview(item_id: str, blobs: BlobStore = Depends(get_blobs)) -> Any:
    if not _ITEM_RE.match(item_id) or not artist_voice_exists(item_id):
        raise ApiError(404, f"No artist voice {item_id}")
    try:
        path = await run_in_threadpool(_render_preview, blobs, item_id)
    except ApiError:
        raise
    except Exception as exc:  # festival missing, synthesis failure: say so, do not 500
        raise ApiError(503, f"The preview could not be rendered: {exc}") from None
    return FileResponse(path, media_type="audio/mpeg", filename=f"{item_id}.mp3")


# --------------------------------------------------------------------------- stems splitter


def _stems_title(request: Request, name: str | None, item_id: str, kind: str) -> str:
    if name and name.strip():
        return name.strip()[:NAME_MAX]
    disposition = request.headers.get("content-disposition", "")
    m = re.search(r'filename="?([^";]+)"?', disposition)
    if m:
        return os.path.basename(m.group(1))[:NAME_MAX]
    return f"{item_id}.{kind}"


def stems_body(request: Request, settings: Settings, task: StemsTask) -> dict[str, Any]:
    detail = task.detail or {}
    body: dict[str, Any] = {
        "state": STEMS_STATE.get(task.state, 0),
        "title": task.title,
        "audioType": task.audio_type,
        "detail": list(detail.get("stems", [])),
        "itemId": task.item_id,
        "stemsItemId": make_id(task.tenant_id, task.user_id, task.item_id, "stems"),
        "progress": int(detail.get("progress", 0)) if task.state != StemsState.COMPLETED else 100,
        "createTime": task.created_ms,
        "updateTime": task.updated_ms,
    }
    if task.state == StemsState.COMPLETED and (task.blobs or {}).get("zip"):
        body["stemsZipUrl"] = _link(request, settings, task.blobs["zip"])
    if task.state == StemsState.FAILED:
        body["error"] = task.error or "Stem separation failed"
    return body


@router.post(
    "/music/stems-splitter/",
    summary="Split a track into vocals, drums, bass and other (raw body)",
    description="Answers 200 with `stemsZipUrl` when done within the wait, else 202 with `stemsItemId`: "
    "poll GET /music/stems-splitter/{stemsItemId} until `state` is 2 (done) or 3 (failed).",
    responses={**errors(400, 401, 404, 413), 202: {"description": "Still splitting; poll the stemsItemId"}},
    openapi_extra=_raw_body_doc(AUDIO_TYPES),
)
async def post_stems(
    request: Request,
    user_id: str | None = Query(None),
    name: str | None = Query(None, description="Optional title; default the upload's file name"),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    blobs: BlobStore = Depends(get_blobs),
    settings: Settings = Depends(get_settings),
) -> Any:
    content_type = _content_type(request, AUDIO_TYPES)
    account_user = await run_in_threadpool(_account_user, db, tenant.id, user_id)

    def new_task(item_id: str, key: str, info: Any) -> StemsTask:
        now = now_ms()
        return StemsTask(
            item_id=item_id,
            tenant_id=tenant.id,
            user_id=account_user,
            title=_stems_title(request, name, item_id, info.kind),
            state=StemsState.QUEUED,
            content_type=content_type,
            audio_type=info.kind,
            source_key=key,
            blobs={},
            detail={},
            created_ms=now,
            updated_ms=now,
        )

    item_id, _info = await _accept_audio(
        request,
        settings,
        db,
        blobs,
        content_type,
        voice=False,
        prefix="stems",
        stem="source",
        make_row=new_task,
    )
    wait = wait_seconds(settings)

    def finished(s: Any) -> tuple[bool, StemsTask | None] | None:
        task = s.get(StemsTask, item_id)
        if task is None:
            return True, None  # deleted by its owner while we waited
        return (True, task) if task.state in FINAL_STEMS_STATES else None

    outcome = await _wait_for(db, finished, wait)
    if outcome is None:
        current = await run_in_threadpool(_check_once, db, lambda s: s.get(StemsTask, item_id))
        if current is not None:
            body = stems_body(request, settings, current)
            body["message"] = (
                f"Still splitting after {wait:g} seconds. Poll GET /v1/tempolor/music/stems-splitter/"
                f"{body['stemsItemId']} until state is 2."
            )
            return JSONResponse(body, status_code=202)
        outcome = (True, None)
    task = outcome[1]
    if task is None:
        raise ApiError(404, "The stems task was deleted while it was being processed")
    if task.state == StemsState.FAILED:
        await run_in_threadpool(_discard, db, blobs, StemsTask, item_id, "stems")
        raise ApiError(400, task.error or "Stem separation failed")
    return stems_body(request, settings, task)


def _find_stems(s: Any, tenant_id: str, stems_id: str) -> StemsTask:
    item_id = _own_item_id(stems_id, "stems", "stemsItemId")
    task = s.get(StemsTask, item_id)
    if (
        task is None
        or task.tenant_id != tenant_id
        or make_id(tenant_id, task.user_id, item_id, "stems") != stems_id
    ):
        raise ApiError(404, f"No record found for {stems_id}")
    return task


@router.get(
    "/music/stems-splitter/",
    summary="List stems splits, newest first (each as GET /music/stems-splitter/{stemsItemId} answers)",
    responses=errors(400, 401, 404),
)
def list_stems(
    request: Request,
    user_id: str | None = Query(None),
    cursor: str | None = Query(None, description="`cursor` from the previous page"),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    with db.session() as s:
        account = resolve_account(s, tenant.id, user_id)
        rows, next_cursor = _page(s, StemsTask, "stems", tenant.id, account.user_id, cursor)
    return {
        "records": [stems_body(request, settings, r) for r in rows],
        "hasNext": bool(next_cursor),
        "cursor": next_cursor,
    }


@router.get(
    "/music/stems-splitter/{stemsItemId}",
    summary="Poll a stems split (state 0 queued, 1 splitting, 2 done, 3 failed)",
    responses=errors(400, 401, 404),
)
def get_stems(
    stemsItemId: str,  # noqa: N803 - named like the other item ids
    request: Request,
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    with db.session() as s:
        task = _find_stems(s, tenant.id, stemsItemId)
    return stems_body(request, settings, task)


@router.delete(
    "/music/stems-splitter/{stemsItemId}",
    summary="Delete a stems split and its files",
    responses=errors(400, 401, 404),
)
def delete_stems(
    stemsItemId: str,  # noqa: N803
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    blobs: BlobStore = Depends(get_blobs),
) -> dict[str, Any]:
    with db.session() as s:
        task = _find_stems(s, tenant.id, stemsItemId)
        s.delete(task)
    blobs.delete_prefix(f"stems/{task.item_id}")
    return {"result": True}


# The spec writes these paths with a trailing slash; clients also send them without one.
for _path, _endpoint, _methods in (
    ("/music/midi", post_midi, ["POST"]),
    ("/music/midi", list_midi, ["GET"]),
    ("/music/cloned-voices", post_cloned_voice, ["POST"]),
    ("/music/cloned-voices", list_cloned_voices, ["GET"]),
    ("/music/artist-voices", list_artist_voices, ["GET"]),
    ("/music/stems-splitter", post_stems, ["POST"]),
    ("/music/stems-splitter", list_stems, ["GET"]),
):
    router.add_api_route(_path, _endpoint, methods=_methods, include_in_schema=False)
