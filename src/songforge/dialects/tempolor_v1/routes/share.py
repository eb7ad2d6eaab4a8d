"""Share links: a signed link to a read-only page with one work's player (routes of our own).

POST /music/{job_id}/share (Bearer) answers `{url, expires, remainSeconds}`, where `url` is
`<server>/share/<token>` and the token is signed with the server's link secret
(`songforge.http.signing.share_token`): nothing is stored, so there is no migration and no table
to clean up, and a link ends when it expires (Settings.share_ttl_seconds, 30 days), when its work
is deleted, or when its token is revoked.

The page (`share_router`, outside /v1/tempolor: GET /share/{token} is the HTML, GET
/share/{token}/track its data) needs no token and shows the work alone: title, facts, waveform,
timed lyrics and an mp3 download. No job id, account, prompt, settings or other work is in either
answer: the job id names the tenant and the account, and the prompt is the author's, not the
listener's. A token this server did not make is a 404; one it made, past its time, is a 410, and so
is one whose work is gone: the signature proves the link was real, so "gone" is the truth.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from songforge.config import Settings
from songforge.core.states import JobState
from songforge.dialects.tempolor_v1.common import find_job
from songforge.dialects.tempolor_v1.records import job_record, title_of
from songforge.dialects.tempolor_v1.routes.downloads import (
    link_maker,
    named_link,
    require_completed,
    variation_of,
)
from songforge.dialects.tempolor_v1.schemas import doc
from songforge.http import signing, studio
from songforge.http.deps import current_tenant, get_db, get_settings
from songforge.http.errors import ApiError
from songforge.http.filenames import download_name
from songforge.http.public_url import public_base_url
from songforge.store.db import Database
from songforge.store.models import Job, Tenant

router = APIRouter(tags=["music"])
share_router = APIRouter(tags=["share"], include_in_schema=False)

SHARE_PATH = "/share/"
NOT_VALID = "This share link is not valid. Check that it was copied whole, or ask for a new one."
EXPIRED = "This share link has expired. Ask the person who shared it for a new one."
GONE = "The track behind this share link is no longer available."


class ShareLink(BaseModel):
    url: str = Field(description="The read-only page with the work's player; no token needed to open it")
    expires: int = Field(description="Unix time (seconds) the link stops working")
    remainSeconds: int


@router.post(
    "/music/{job_id}/share",
    response_model=None,
    responses=doc(ShareLink, 400, 401, 404),
    summary="A share link: a read-only page with the work's player and download (a route of our own)",
)
def create_share(
    job_id: str,
    request: Request,
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    with db.session() as s:
        job = find_job(s, tenant.id, job_id)
        require_completed(job, failed="there is nothing to share")
        item_id = job.item_id
    ttl = settings.share_ttl_seconds
    token, expires = signing.share_token(signing.server_secret(settings.data_dir), item_id, ttl)
    url = public_base_url(request, settings) + SHARE_PATH + token
    return {"url": url, "expires": expires, "remainSeconds": ttl}


class _Refused(Exception):
    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(text)
        self.status, self.title, self.text = status, title, text


def _shared(request: Request, token: str, *, view: bool) -> dict[str, Any] | None:
    """The page's data for `token` (with `view`; else only the checks); `_Refused` says why not. A
    work is shared while it is completed, has its mp3, and its owner's token is not revoked."""
    settings: Settings = request.app.state.settings
    db: Database = request.app.state.db
    try:
        item_id, expires = signing.read_share_token(signing.server_secret(settings.data_dir), token)
    except signing.ShareLinkInvalid:
        raise _Refused(404, "Link not valid", NOT_VALID) from None
    except signing.ShareLinkExpired:
        raise _Refused(410, "Link expired", EXPIRED) from None
    with db.session() as s:
        job = s.get(Job, item_id)
        owner = s.get(Tenant, job.tenant_id) if job is not None else None
        if (
            job is None
            or owner is None
            or owner.revoked_ms is not None
            or job.kind not in ("song", "instrumental")
            or job.state != JobState.COMPLETED
            or not (job.blobs or {}).get("mp3")
        ):
            raise _Refused(410, "Track gone", GONE)
        return share_view(job, variation_of(s, job), expires, request, settings) if view else None


def share_view(
    job: Job, variation: int, expires: int, request: Request, settings: Settings
) -> dict[str, Any]:
    """What the page shows, in the record's own field names (the studio's player code reads them),
    and nothing else of the record."""
    record = job_record(job, settings, url_for=link_maker(request, settings))
    material = record["musicMaterial"]
    dto = record["ltmMaterialExtendDto"]
    base = title_of(job) or "Untitled"
    title = f"{base} ({variation})" if variation > 1 and title_of(job) else base
    key = (job.blobs or {})["mp3"]
    name = download_name(title_of(job), PurePosixPath(key).suffix.lstrip("."), variation)
    return {
        "title": title,
        "type": job.kind,
        "cover": record["cover"],
        "musicMaterial": {k: material.get(k) for k in ("style", "bpm", "key", "dur", "waveformUrl")},
        "ltmMaterialExtendDto": {
            "lrcTimestamp": dto.get("lrcTimestamp") or "",
            "lyricsPrompt": (dto.get("lyricsPrompt") or "") if job.kind == "song" else "",
        },
        "audioUrl": named_link(request, settings, key, name),
        "downloadName": name,
        "expires": expires,
    }


@share_router.get("/share/{token}")
def share_page(token: str, request: Request) -> Response:
    try:
        _shared(request, token, view=False)
    except _Refused as refused:
        return studio.message_page(refused.status, refused.title, refused.text)
    return studio.page_response("share.html")


@share_router.get("/share/{token}/track")
def share_track(token: str, request: Request) -> Response:
    """The page's data; the same refusals as the page, as the API's error bodies."""
    try:
        data = _shared(request, token, view=True)
    except _Refused as refused:
        raise ApiError(refused.status, refused.text) from None
    return JSONResponse(data, headers=studio.SHARED_PAGE_HEADERS)
