"""The status poll's short road: `GET /v1/tempolor/music/{job_id}` answered before any routing.

Clients poll one job's status in a loop, so this read is most of what a busy server answers. On
the ordinary road it crossed the app's whole router (every route of both dialects is asked whether
it matches, in order) and the framework's request wrapping before its one indexed query: about
half of the server's CPU per poll, measured with py-spy. Here a poll that will be answered 200 (a
token already in the tenant cache, a job of that tenant) is answered at once with the same bytes
and headers as the route's; anything else (no token or an uncached one, an address locked out,
a malformed or unknown id, a trailing slash) continues down the ordinary road, which answers it
exactly as before, so errors, failure counting and token lookups have one home.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from songforge.core.tenants import hash_token
from songforge.dialects.tempolor_v1.routes.music import status_response
from songforge.http.deps import authenticate_hash, bearer_token
from songforge.http.errors import ApiError


class StatusReads:
    """ASGI middleware: `prefix` is where the dialect is mounted (`/v1/tempolor`)."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.head = prefix + "/music/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(self.head) and "/" not in path[len(self.head) :]:
                response = self._answer(scope, path[len(self.head) :])
                if response is not None:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope, job_id: str) -> Response | None:
        request = Request(scope)
        token = bearer_token(request)
        if not job_id or token is None:
            return None
        token_hash = hash_token(token)
        if request.app.state.tenant_cache.get(token_hash) is None:
            return None
        try:
            tenant = authenticate_hash(request, token_hash)  # a cache hit: no lookup, no failure counted
            return status_response(request, tenant, job_id)
        except ApiError:
            return None
