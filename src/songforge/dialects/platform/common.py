"""What every Open API route needs: the caller's key, the JSON body, and field checks.

Bodies are read by hand rather than through pydantic models so that every problem, including a
body that is not JSON at all, becomes a 400003 envelope naming the field, never a 422.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request

from songforge.config import Settings
from songforge.dialects.platform.envelope import OpenApiError, Status, bad_parameter
from songforge.dialects.platform.keys import find_key, hash_key, key_from_header
from songforge.http.auth_guard import AuthGuard, client_address
from songforge.http.body import BadBody, BodyTimeout, BodyTooLarge, NotJson, parse_json, read_capped
from songforge.http.offload import off_loop
from songforge.http.public_url import public_base_url
from songforge.store.db import Database
from songforge.store.deployment import private_callbacks_allowed

T = TypeVar("T")

MAX_QUERY_IDS = 10
PROMPT_MAX = 2000
LYRICS_MAX = 3000
URL_MAX = 1024


@dataclass(frozen=True)
class Caller:
    key_id: int
    tenant_id: str


def db_of(request: Request) -> Database:
    return request.app.state.db


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def base_url_of(request: Request) -> str:
    """Links point back at this server: the configured public URL, else a trusted host (never the raw
    Host header: see songforge.http.public_url)."""
    return public_base_url(request, settings_of(request))


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Database work off the event loop: a busy SQLite file must not stall other requests."""
    return await off_loop(fn, *args)


def _lookup(db: Database, key: str) -> Caller | None:
    with db.session() as s:
        row = find_key(s, key)
        return None if row is None else Caller(row.id, row.tenant_id)


def _lookup_guarded(db: Database, key: str, guard: AuthGuard, digest: str, address: str) -> Caller | None:
    """`_lookup`, telling `guard` how it went: a counted failure is a database write too, so it
    stays off the event loop with the lookup."""
    caller = _lookup(db, key)
    if caller is None:
        guard.missed(digest)
        guard.failed(address)
    else:
        guard.succeeded(digest)
    return caller


async def open_api_caller(request: Request) -> Caller:
    """The key in `Authorization` (raw, as the platform sends it, or after `Bearer `); 400002
    for a missing, malformed, unknown or revoked key. An address past its failed-attempt limit gets
    HTTP 429 with Retry-After and the platform's "server busy" code, before any lookup; an unknown
    key seen moments ago is not looked up again (`songforge.http.auth_guard`)."""
    key = key_from_header(request.headers.get("authorization"))
    if not key:
        raise OpenApiError(Status.AUTH_FAILED)
    guard: AuthGuard | None = getattr(request.app.state, "auth_guard", None)
    caller: Caller | None = None
    if guard is None:
        caller = await in_thread(_lookup, db_of(request), key)
    else:
        digest = hash_key(key)
        address = client_address(request, settings_of(request))
        wait = guard.retry_after(address, digest)
        if wait is not None:
            raise OpenApiError(
                Status.SERVER_BUSY,
                f"too many failed authentication attempts from this address; retry in {wait} s",
                http_status=429,
                headers={"Retry-After": str(wait)},
            )
        # Only a miss that cost a lookup counts: repeating one wrong key is neither a guess nor a load.
        if not guard.known_miss(digest):
            caller = await in_thread(_lookup_guarded, db_of(request), key, guard, digest, address)
    if caller is None:
        raise OpenApiError(Status.AUTH_FAILED)
    return caller


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON body, capped while it streams (HTTP 413), within the body timeout (HTTP 408), and
    free of what cannot be stored (too deep, lone surrogates): 400003 envelopes, as every bad
    parameter (see `songforge.http.body`)."""
    settings = settings_of(request)
    try:
        raw = await read_capped(request, settings.max_body_bytes, settings.body_timeout_seconds)
        if not raw.strip():
            return {}
        data = parse_json(raw)
    except NotJson:
        raise bad_parameter("request body is not valid JSON") from None
    except BodyTooLarge as exc:
        raise OpenApiError(Status.BAD_PARAMETER, str(exc), http_status=413) from None
    except BodyTimeout as exc:
        raise OpenApiError(Status.BAD_PARAMETER, str(exc), http_status=408) from None
    except BadBody as exc:
        raise bad_parameter(str(exc)) from None
    if not isinstance(data, dict):
        raise bad_parameter("request body must be a JSON object")
    return data


def text_field(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    """A string field; blank counts as absent. `required` failures read like the platform's own
    "callback_url not blank"."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise bad_parameter(f"{name} not blank")
        return None
    if not isinstance(value, str):
        raise bad_parameter(f"{name} must be a string")
    if len(value) > limit:
        raise bad_parameter(f"{name} must be at most {limit} characters (got {len(value)})")
    return value


def private_targets_allowed(request: Request) -> bool:
    """The deployment's policy on private/loopback targets (stored in the database, so the workers
    that deliver the callbacks follow the same one: `songforge.store.deployment`)."""
    return private_callbacks_allowed(db_of(request), settings_of(request))


def callback_url(body: dict[str, Any], request: Request) -> str:
    """Required on every create endpoint; checked with the same outbound guard as replyUrl."""
    from songforge.outbox import CallbackTargetError, validate_callback_url

    url = text_field(body, "callback_url", URL_MAX, required=True)
    assert url is not None
    url = url.strip()
    try:
        validate_callback_url(url, private_targets_allowed(request))
    except CallbackTargetError as exc:
        raise bad_parameter(f"callback_url: {exc.for_field('callback_url')}") from None
    return url


def item_ids(body: dict[str, Any]) -> list[str]:
    value = body.get("item_ids")
    if value is None or value == []:
        raise bad_parameter("item_ids not blank")
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise bad_parameter("item_ids must be an array of non-empty strings")
    if len(value) > MAX_QUERY_IDS:
        raise bad_parameter(f"item_ids: at most {MAX_QUERY_IDS} ids per query (got {len(value)})")
    out: list[str] = []
    for v in value:
        if v.strip() not in out:
            out.append(v.strip())
    return out


def not_found(missing: list[str]) -> OpenApiError:
    return OpenApiError(Status.WORK_NOT_FOUND, ", ".join(missing))
