"""The official TemPolor Open API dialect, served at /open-apis/v1 beside /v1/tempolor.

`router` holds every route; the app mounts it with `app.include_router(router, prefix=PREFIX)`.
What the composition root needs besides (see `songforge.wiring`): `SUBSCRIBERS` (the platform's
callbacks) and `render_http_error` for the framework's own errors under `ERROR_PREFIX`.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import Response

from songforge.core.events import Subscriber
from songforge.dialects.platform.callbacks import SUBSCRIBER
from songforge.dialects.platform.envelope import Status, bad_parameter, envelope, request_id_of
from songforge.dialects.platform.routes import account, files, lyrics, music, stems

PREFIX = "/open-apis/v1"
# Wider than PREFIX: a platform client parses the envelope on every answer, even for a wrong path.
ERROR_PREFIX = "/open-apis/"
SUBSCRIBERS: tuple[Subscriber, ...] = (SUBSCRIBER,)

router = APIRouter(tags=["open-api"])
for _module in (music, lyrics, stems, account, files):
    router.include_router(_module.router)


def render_http_error(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An unknown route or wrong method, as a 400003 envelope naming the request, with the HTTP
    status kept (the platform's headers are its own: `headers` is not passed on)."""
    err = bad_parameter(f"{message}: {request.method} {request.url.path}")
    response = envelope(request_id_of(request), Status.BAD_PARAMETER, err.message, None)
    response.status_code = status
    return response


__all__ = ["ERROR_PREFIX", "PREFIX", "SUBSCRIBERS", "render_http_error", "router"]
