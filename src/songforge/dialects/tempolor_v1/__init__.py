"""The useapi.net TemPolor v1 dialect, served at /v1/tempolor: routes, params, records, errors.

`router` holds every `/v1/tempolor` route (mount it with `prefix=PREFIX`); `files_router` serves
the signed download links, which sit outside the prefix.
"""

from __future__ import annotations

from fastapi import APIRouter

from songforge.dialects.tempolor_v1.routes import accounts, downloads, music, scheduler, uploads

PREFIX = "/v1/tempolor"

router = APIRouter()
# uploads before music: music's /music/{job_id} would otherwise swallow /music/midi etc.
for _module in (accounts, scheduler, uploads, downloads, music):
    router.include_router(_module.router)
files_router = downloads.files_router

__all__ = ["PREFIX", "files_router", "router"]
