"""GET /music/download/{job_id} hands out signed links; /files/... serves them."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from songforge.config import Settings
from songforge.core.states import JobState
from songforge.dialects.tempolor_v1.common import find_job
from songforge.dialects.tempolor_v1.records import status_of, title_of
from songforge.dialects.tempolor_v1.schemas import DownloadLink, doc
from songforge.http import signing
from songforge.http.deps import current_tenant, get_db, get_settings
from songforge.http.errors import ApiError
from songforge.http.filenames import content_disposition, download_name
from songforge.http.public_url import public_base_url
from songforge.store.db import Database
from songforge.store.models import Job, Tenant

router = APIRouter(tags=["music"])
files_router = APIRouter(tags=["files"])

FORMATS = ("mp3", "wav", "stems")


def link_base(request: Request, settings: Settings) -> str:
    """Links point back at this server: the configured public URL, else a trusted host (never the raw
    Host header: see songforge.http.public_url)."""
    return public_base_url(request, settings) + "/"


def link_maker(request: Request, settings: Settings) -> Callable[[str], str]:
    """Signs blob keys for this caller: the record's `cover` and `waveformUrl` links. The base is
    worked out at the first link: most status polls are of unfinished jobs, which have none."""
    base: list[str] = []

    def sign(key: str) -> str:
        if not base:
            base.append(link_base(request, settings))
        return signing.signed_url(settings.data_dir, base[0], key, settings.download_ttl_seconds)

    return sign


def named_link(request: Request, settings: Settings, key: str, name: str) -> str:
    """A signed link to blob `key` for this caller. On our own link (a store's presigned URL names
    the file itself) the download `name` rides along, unsigned, because it only suggests what the
    browser calls the file (see serve_file)."""
    base = link_base(request, settings)
    url = signing.signed_url(settings.data_dir, base, key, settings.download_ttl_seconds)
    if url.startswith(base.rstrip("/") + signing.FILES_PREFIX):
        url += "&name=" + quote(name, safe="")
    return url


def require_completed(job: Job, *, failed: str) -> None:
    """Refuses (400) what only a completed job has, in the words of the job's state; `failed` is
    what the refusal of a failed job goes on to say."""
    if job.state != JobState.COMPLETED:
        status = status_of(job.state)[0]
        if job.state == JobState.FAILED:
            raise ApiError(400, f"Generation failed ({status}): {failed}")
        raise ApiError(400, f"Generation is not completed yet ({status})")


def variation_of(session: Session, job: Job) -> int:
    """1 for the first variation of its request with its title, 2 for the next, ...: the order the
    library lists them in (newest first, then by item id), so "Title (2)" is the second row. The
    titles compared are the ones the user sees (`title_of`: a title they chose wins)."""
    rows = session.execute(
        select(Job.item_id, Job.user_title, Job.title)
        .where(Job.tenant_id == job.tenant_id, Job.batch_id == job.batch_id)
        .order_by(Job.item_id.desc())
    )
    mine = title_of(job)
    same = [item for item, chosen, title in rows if (chosen or title or "") == mine]
    return same.index(job.item_id) + 1 if job.item_id in same else 1


@router.get(
    "/music/download/{job_id}",
    response_model=None,
    responses=doc(DownloadLink, 400, 401, 404),
    summary="A signed, expiring link to the mp3, wav or stems zip",
)
def download_link(
    job_id: str,
    request: Request,
    file_format: str | None = Query("mp3", description="mp3 (default), wav or stems"),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    fmt = (file_format or "mp3").strip().lower()
    if fmt not in FORMATS:
        raise ApiError(400, "Parameter file_format must be one of: mp3, wav, stems")
    with db.session() as s:
        job = find_job(s, tenant.id, job_id)
        require_completed(job, failed=job.error or "no files were made")
        key = (job.blobs or {}).get(fmt)
        name = download_name(title_of(job), PurePosixPath(key or "").suffix.lstrip("."), variation_of(s, job))
    if not key:
        raise ApiError(404, f"No {fmt} file for {job_id}")
    return {"url": named_link(request, settings, key, name), "remainSeconds": settings.download_ttl_seconds}


@files_router.get(
    "/files/{key:path}",
    response_class=FileResponse,
    responses={403: {"description": "Tampered or expired link"}, 404: {"description": "File gone"}},
    summary="A file behind a signed link (no Bearer token needed)",
)
def serve_file(
    key: str,
    request: Request,
    expires: str | None = Query(None),
    sig: str | None = Query(None),
    name: str | None = Query(None, description="The file name to save it under (a work's title)"),
) -> Response:
    settings: Settings = request.app.state.settings
    secret = signing.server_secret(settings.data_dir)
    if not signing.verify(secret, request.url.path, expires, sig):
        raise ApiError(403, "Forbidden: the link is invalid or has expired")
    try:
        path = request.app.state.blobs.path(key)
    except ValueError:
        raise ApiError(404, "Not Found") from None
    if not path.is_file():
        raise ApiError(404, "Not Found")
    media = (
        "application/zip" if path.suffix == ".zip" else (mimetypes.guess_type(path.name)[0] or "audio/mpeg")
    )
    if path.suffix == ".mp3":
        media = "audio/mpeg"
    elif path.suffix == ".wav":
        media = "audio/wav"
    # The name is cleaned again here: it comes from the link's query, which anyone can edit.
    disposition = content_disposition(name or path.name)
    return FileResponse(path, media_type=media, headers={"Content-Disposition": disposition})
