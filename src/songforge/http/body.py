"""Request bodies at the edge: read with a cap while they stream, timed, and checked before a handler
sees them.

Why one reader for both dialects: a body is the one input a client controls byte by byte, and each
problem below once cost a 500, a poisoned record or a held connection:

- size: a `Content-Length` check alone lets a chunked body through whole, so the cap counts the
  bytes as they arrive and stops reading the moment it is passed (`BodyTooLarge`);
- time: a body promised and never sent would hold its connection forever (uvicorn has no body-read
  timeout), so every read of a chunk waits at most `timeout` seconds, and a small parameter body
  must arrive whole within it (`BodyTimeout`);
- depth: JSON nested past the interpreter's recursion limit raises `RecursionError` in the decoder,
  and one nested just below it can blow the stack later (serialising it into the database), so
  anything deeper than `MAX_JSON_DEPTH` is refused (`BadBody`);
- lone UTF-16 surrogates (`"\\ud800"`, or a multipart field decoded with a charset such as
  `unicode_escape`): Python accepts them in a `str`, but they cannot be encoded as UTF-8, so a
  record holding one answers 500 forever and its callbacks can never be sent. They are refused here,
  in keys and values, so nothing invalid is stored (`BadBody` naming the field).

Each dialect maps these errors (all `InvalidInput`) onto its own error body and status.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from songforge.errors import InvalidInput, LimitExceeded

__all__ = [
    "MAX_JSON_DEPTH",
    "BadBody",
    "BodyTimeout",
    "BodyTooLarge",
    "NotJson",
    "check_text",
    "check_values",
    "has_lone_surrogate",
    "iter_body",
    "parse_json",
    "read_capped",
    "replay",
]

# Real bodies nest a few levels (requestParams inside the body); 64 leaves room for any client.
MAX_JSON_DEPTH = 64


class BodyTooLarge(LimitExceeded):
    """The body passed `limit` bytes (declared or counted while it streamed)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body too large (at most {limit} bytes)")
        self.limit = limit


class BodyTimeout(InvalidInput):
    """The client stopped sending its body: `seconds` passed without the bytes it promised."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Request body not received within {seconds:g} seconds")
        self.seconds = seconds


class BadBody(InvalidInput):
    """A body (or one of its fields) that cannot be accepted; the message says why and where."""


class NotJson(BadBody):
    """Text the JSON decoder refuses (a dialect may word this one its own way)."""


def has_lone_surrogate(text: str) -> bool:
    """True when `text` holds a UTF-16 surrogate code point, which UTF-8 cannot encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_text(value: str, where: str) -> str:
    """`value`, or BadBody naming `where` when it holds a lone surrogate."""
    if has_lone_surrogate(value):
        raise BadBody(f"{where} contains an invalid character (a lone UTF-16 surrogate)")
    return value


def check_values(data: Any, where: str = "body") -> Any:
    """Walks a decoded JSON value without recursion: BadBody for nesting past MAX_JSON_DEPTH or a
    lone surrogate in any key or string (the message names its path, e.g. `requestParams.user_id`)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            check_text(value, f"Parameter {path}" if path else f"Request {where}")
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise BadBody(f"Request {where} is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
            if isinstance(value, dict):
                for key, item in value.items():
                    name = f"{path}.{key}" if path else str(key)
                    check_text(str(key), f"A key in {path or where}")
                    stack.append((item, name, depth + 1))
            else:
                for index, item in enumerate(value):
                    stack.append((item, f"{path or where}[{index}]", depth + 1))
    return data


def parse_json(raw: bytes | str, where: str = "body") -> Any:
    """The decoded JSON value, checked by `check_values`. NotJson for anything the decoder refuses,
    including nesting deep enough to exhaust its recursion."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise NotJson(f"Request {where} is not valid JSON") from None
    return check_values(data, where)


def _declared_over(request: Request, cap: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(cap)


async def iter_body(request: Request, cap: int, idle_timeout: float) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, refused once past `cap` bytes or when the client sends
    nothing for `idle_timeout` seconds. For uploads: a large body may take long, but never stall.

    A client that disconnects raises starlette's `ClientDisconnect`, which the app logs as one line."""
    _declared_over(request, cap)
    size = 0
    chunks = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(idle_timeout):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise BodyTimeout(idle_timeout) from None
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(cap)
        yield chunk


async def read_capped(request: Request, cap: int, timeout: float) -> bytes:
    """A small body, whole: at most `cap` bytes, all of them within `timeout` seconds."""
    _declared_over(request, cap)
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise BodyTooLarge(cap)
                parts.append(chunk)
    except TimeoutError:
        raise BodyTimeout(timeout) from None
    return b"".join(parts)


def replay(request: Request, raw: bytes) -> Request:
    """A request over the same scope whose body is `raw`, already read: for parsers (forms) that
    read the body themselves, so that they read the capped copy and never the socket again."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return Request(request.scope, receive)
