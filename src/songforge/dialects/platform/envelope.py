"""The Open API response envelope and its business codes.

The official platform answers HTTP 200 to everything it understood as a request and puts the
outcome in `status` (200000 or one of 400001..400011), with a fresh `request_id` a user can quote
when asking for help. Clients written for it check `status`, not the HTTP code, so every route of
this dialect, including its failures, must answer in that shape: the route class below makes
sure no exception escapes as a plain-JSON or HTML error.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from starlette.requests import ClientDisconnect

from songforge.errors import SongforgeError

log = logging.getLogger("songforge.openapi")


class Status(IntEnum):
    SUCCESS = 200000
    INTERNAL_ERROR = 400001
    AUTH_FAILED = 400002
    BAD_PARAMETER = 400003
    CONTENT_VIOLATION = 400004
    INSUFFICIENT_BALANCE = 400005
    SERVER_BUSY = 400006
    QUEUE_FULL = 400007
    WORK_NOT_FOUND = 400008
    WORK_ABNORMAL = 400009
    MODEL_UNSUPPORTED = 400010
    CANNOT_EXTEND = 400011


# Verbatim from the platform's Error Code page.
MESSAGES: dict[Status, str] = {
    Status.SUCCESS: "success",
    Status.INTERNAL_ERROR: "Internal server error, please try again later~",
    Status.AUTH_FAILED: "Login expired. Please log in again.",
    Status.BAD_PARAMETER: "Bad Parameter.",
    Status.CONTENT_VIOLATION: "Content violation, please modify and try again.",
    Status.INSUFFICIENT_BALANCE: "Insufficient points. Purchase more to continue creating.",
    Status.SERVER_BUSY: "Server busy, please try again later~",
    Status.QUEUE_FULL: "The queue is full. Please wait and try again later.",
    Status.WORK_NOT_FOUND: "The work does not exist",
    Status.WORK_ABNORMAL: "The status of this work is abnormal",
    Status.MODEL_UNSUPPORTED: "The current model does not support this feature",
    Status.CANNOT_EXTEND: "The current work does not support re writing",
}


class OpenApiError(SongforgeError):
    """A business error. `detail` says what exactly was wrong; it follows the table's verbatim
    message after ": " for every code, 400003 included, so a client matching on the table's text
    (or on the start of the message) always matches, and a person still reads the reason."""

    def __init__(
        self,
        status: Status,
        detail: str | None = None,
        *,
        http_status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or MESSAGES[status])
        self.status = status
        self.detail = detail
        # 200 like the platform, except where the HTTP layer itself refused (a body too large: 413,
        # one never sent: 408, too many failed logins: 429), so proxies and HTTP clients see that too.
        self.http_status = http_status
        self.headers = headers  # e.g. Retry-After with a 429

    @property
    def message(self) -> str:
        return with_detail(self.status, self.detail)


def with_detail(status: Status, detail: str | None) -> str:
    """The table's exact text for `status`, then ": " and the specific reason when there is one."""
    base = MESSAGES[status]
    return f"{base}: {detail}" if detail else base


def bad_parameter(detail: str) -> OpenApiError:
    return OpenApiError(Status.BAD_PARAMETER, detail)


def envelope(request_id: str, status: Status, message: str, data: Any) -> JSONResponse:
    return JSONResponse(
        {"status": int(status), "message": message, "request_id": request_id, "data": data},
        status_code=200,
        headers={"X-Request-Id": request_id},
    )


def request_id_of(request: Request) -> str:
    rid = getattr(request.state, "openapi_request_id", None)
    if rid is None:
        rid = str(uuid.uuid4())
        request.state.openapi_request_id = rid
    return rid


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
        parts.append(f"{'.'.join(loc) or 'body'}: {err.get('msg', 'is invalid')}")
    return "; ".join(parts) or "invalid request"


class EnvelopeRoute(APIRoute):
    """Wraps each handler: a handler returns `data`; errors become envelopes; every request is
    logged with its request_id, so a user quoting one can be found in the log."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            rid = request_id_of(request)
            try:
                response = await inner(request)
            except OpenApiError as exc:
                log.info(
                    "open-api %s status=%d request_id=%s: %s", request.url.path, exc.status, rid, exc.message
                )
                response = envelope(rid, exc.status, exc.message, None)
                response.status_code = exc.http_status
                response.headers.update(exc.headers or {})
                return response
            except ClientDisconnect:
                raise  # nobody to answer; the app logs it as one line (songforge.http.failsafe)
            except RequestValidationError as exc:
                detail = _validation_detail(exc)
                log.info("open-api %s status=400003 request_id=%s: %s", request.url.path, rid, detail)
                return envelope(rid, Status.BAD_PARAMETER, with_detail(Status.BAD_PARAMETER, detail), None)
            except OperationalError as exc:
                if "locked" not in str(exc).lower():
                    log.exception("open-api %s status=400001 request_id=%s", request.url.path, rid)
                    return envelope(rid, Status.INTERNAL_ERROR, MESSAGES[Status.INTERNAL_ERROR], None)
                # A database that stayed locked past its busy timeout: the platform's "try again later".
                log.exception("open-api %s status=400006 request_id=%s", request.url.path, rid)
                return envelope(rid, Status.SERVER_BUSY, MESSAGES[Status.SERVER_BUSY], None)
            except Exception:
                log.exception("open-api %s status=400001 request_id=%s", request.url.path, rid)
                return envelope(rid, Status.INTERNAL_ERROR, MESSAGES[Status.INTERNAL_ERROR], None)
            log.info("open-api %s status=200000 request_id=%s", request.url.path, rid)
            return response

        return handler


def success(request: Request, data: Any) -> JSONResponse:
    return envelope(request_id_of(request), Status.SUCCESS, MESSAGES[Status.SUCCESS], data)
