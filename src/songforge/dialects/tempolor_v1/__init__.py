"""The useapi.net TemPolor v1 dialect, served at /v1/tempolor: routes, params, records, errors.

`router` holds every `/v1/tempolor` route (mount it with `prefix=PREFIX`); `files_router` serves
the signed download links and `share_router` the pages share links open, both outside the prefix.
What the composition root needs besides (see `songforge.wiring`): `SUBSCRIBERS` (replyUrl
callbacks) and `render_http_error` for the framework's own errors (unknown route, wrong method)
under `ERROR_PREFIX`.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from songforge.core.events import Subscriber
from songforge.dialects.tempolor_v1.callbacks import SUBSCRIBER
from songforge.dialects.tempolor_v1.routes import (
    accounts,
    downloads,
    extend,
    lyrics,
    models,
    music,
    scheduler,
    share,
    uploads,
)
from songforge.http.deps import authenticate
from songforge.http.errors import ApiError
from songforge.http.slashes import declare_other_forms

PREFIX = "/v1/tempolor"
ERROR_PREFIX = PREFIX + "/"
SUBSCRIBERS: tuple[Subscriber, ...] = (SUBSCRIBER,)

router = APIRouter()
# uploads, extend, lyrics and share before music: music's /music/{job_id} would otherwise swallow
# /music/midi etc.
_MODULES = (accounts, scheduler, models, uploads, downloads, extend, lyrics, share, music)
# Both slash forms and the id-less paths (`DELETE accounts/`): songforge.http.slashes.
declare_other_forms([_module.router for _module in _MODULES])
for _module in _MODULES:
    router.include_router(_module.router)
files_router = downloads.files_router
share_router = share.share_router  # /share/<token>: the read-only page a share link opens


def render_http_error(
    _request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The dialect's error body, {"error": "...", "code": N}, with the HTTP status. The token is
    checked first, as every route does: an unknown path or method answers 401 to a caller
    without a valid token, so nothing about the routes leaks before authentication."""
    if status in (404, 405):
        try:
            authenticate(_request)
        except ApiError as exc:
            return JSONResponse(
                {"error": exc.message, "code": exc.status}, status_code=exc.status, headers=exc.headers
            )
    return JSONResponse({"error": message, "code": status}, status_code=status, headers=headers)


__all__ = [
    "ERROR_PREFIX",
    "PREFIX",
    "SUBSCRIBERS",
    "files_router",
    "render_http_error",
    "router",
    "share_router",
]
