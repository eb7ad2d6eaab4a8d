"""replyUrl callbacks: a persistent outbox, delivered in order, signed, retried, SSRF-guarded.

Why an outbox: a callback is a promise made when a job is accepted. Workers write events into
`callback_deliveries` in the same transaction as the job change that caused them; a delivery loop
in the API process drains the table. That way a crash or restart between "job progressed" and
"receiver told" loses nothing, and several server processes can drain the same table because each
attempt is claimed with a conditional UPDATE before it is sent.

Ordering: per item, a delivery is only sent once every earlier delivery of that item (lower `seq`)
has been sent or given up. A receiver therefore never sees "completed" before "50%". When a
progress event fails and a newer event of the same job is already waiting, the failed one is marked
"superseded" instead of being retried: each event carries the whole job record, so the newer one says
everything the older one did, and a receiver that was down for an hour is not replayed an hour of
stale progress. Final events are always retried in full.

Signing follows Standard Webhooks (https://www.standardwebhooks.com): the headers `webhook-id`,
`webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`,
keyed by the tenant's `whsec_...` secret. Receivers verify with `verify_signature` or any
Standard Webhooks library; receivers that ignore the headers are unaffected.

SSRF: targets are resolved and checked when the job is submitted and again at send time, and the
request is sent to the address that was checked (the Host header and TLS SNI keep the name), so
a DNS answer that changes between the check and the connection cannot redirect a callback to
cloud metadata or an internal service. Redirects are never followed.

Retry timing: env `SONGFORGE_CALLBACK_RETRY_SCALE` (or a `callback_retry_scale` attribute on
Settings) multiplies the delays; tests use it to see a retry within a second.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from songforge.config import Settings
from songforge.core.clock import now_ms
from songforge.store.db import Database
from songforge.store.models import CallbackDelivery, Job, Tenant

log = logging.getLogger("songforge.callbacks")

MAX_URL_LENGTH = 1024
SEND_TIMEOUT_S = 10.0
# Delays between attempts: attempts go out at about 0s, 30s, 2m, 5m, 15m, 30m and 60m after
# the first, i.e. 7 attempts over an hour.
RETRY_DELAYS_S: tuple[float, ...] = (30, 90, 180, 600, 900, 1800)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
# A claim outlives the longest possible attempt, so a crashed sender's claim expires on its own.
CLAIM_MS = int((SEND_TIMEOUT_S + 20) * 1000)
POLL_INTERVAL_S = 0.25
MAX_IN_FLIGHT = 16
RETRYABLE_STATUSES = frozenset({429})

SIGNATURE_TOLERANCE_S = 300

PENDING, SENT, FAILED, DROPPED = "pending", "sent", "failed", "dropped"
# A progress event whose retry would hold up a newer event of the same job: the newer one is a
# fuller snapshot of the same record, so it goes instead (order is kept; the backlog stays short).
SUPERSEDED = "superseded"


# --------------------------------------------------------------------------- target guard


class CallbackTargetError(ValueError):
    """The callback URL is malformed or points somewhere callbacks may not go."""


def _address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return "link-local addresses (cloud metadata) are never allowed"
    if ip.is_multicast:
        return "multicast addresses are not allowed"
    if allow_private:
        return None
    if ip.is_loopback:
        return "loopback addresses are not allowed"
    if ip.is_unspecified:
        return "unspecified addresses are not allowed"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "private or reserved addresses are not allowed"
    return None


def _split_target(url: str) -> tuple[str, str, int]:
    if not isinstance(url, str) or not url:
        raise CallbackTargetError("replyUrl must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise CallbackTargetError(f"replyUrl must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackTargetError(f"replyUrl is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise CallbackTargetError("replyUrl must use http or https")
    host = parts.hostname
    if not host:
        raise CallbackTargetError("replyUrl must name a host")
    return scheme, host, port or (443 if scheme == "https" else 80)


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackTargetError(f"replyUrl host {host!r} cannot be resolved") from exc
    addresses: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]
        if addr not in addresses:
            addresses.append(addr)
    if not addresses:
        raise CallbackTargetError(f"replyUrl host {host!r} cannot be resolved")
    return addresses


def checked_addresses(url: str, allow_private: bool) -> list[str]:
    """Resolves the URL's host and returns its addresses, raising CallbackTargetError when any
    of them is forbidden (one bad answer is enough: the client would pick one at random)."""
    _scheme, host, port = _split_target(url)
    addresses = _resolve(host, port)
    for addr in addresses:
        problem = _address_problem(ipaddress.ip_address(addr), allow_private)
        if problem:
            raise CallbackTargetError(f"replyUrl host {host!r} resolves to {addr}: {problem}")
    return addresses


def validate_callback_url(url: str, allow_private: bool) -> None:
    """Raises ValueError (a CallbackTargetError) with a message fit for a 400 response."""
    checked_addresses(url, allow_private)


# --------------------------------------------------------------------------- signing


def _secret_key(secret: str) -> bytes:
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    return base64.b64decode(raw)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, message_id, ts, body),
    }


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: int | None = SIGNATURE_TOLERANCE_S,
) -> bool:
    """True when `body` was signed with `secret` (a `whsec_...` string) and, unless
    `tolerance_s` is None, the timestamp is within that many seconds of now (replay guard).

    Receivers: pass the raw request body bytes, not re-serialised JSON."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id")
    ts_text = lower.get("webhook-timestamp")
    sig_header = lower.get("webhook-signature")
    if not msg_id or not ts_text or not sig_header:
        return False
    try:
        ts = int(ts_text)
        expected = sign(secret, msg_id, ts, body).split(",", 1)[1]
    except (ValueError, TypeError):
        return False
    if tolerance_s is not None and abs(time.time() - ts) > tolerance_s:
        return False
    for candidate in sig_header.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return True
    return False


# --------------------------------------------------------------------------- outbox


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def enqueue(
    session: Session,
    *,
    tenant_id: str,
    job_id: str,
    item_id: str,
    url: str,
    payload: dict[str, Any],
    is_final: bool,
    ack_body: str | None = None,
) -> None:
    """Adds one event to the outbox inside the caller's transaction; it is sent after commit.

    `seq` orders the events of one item. Events of one item are written by the one worker that
    runs the job, so max+1 inside its transaction is enough."""
    last = session.scalar(select(func.max(CallbackDelivery.seq)).where(CallbackDelivery.item_id == item_id))
    now = now_ms()
    session.add(
        CallbackDelivery(
            message_id=new_message_id(),
            tenant_id=tenant_id,
            job_id=job_id,
            item_id=item_id,
            seq=(last or 0) + 1,
            url=url,
            payload=payload,
            is_final=is_final,
            ack_body=ack_body,  # Open API dialect: see CallbackDelivery.ack_body
            state=PENDING,
            attempts=0,
            next_attempt_ms=now,
            created_ms=now,
            updated_ms=now,
        )
    )


def drop_pending(session: Session, item_id: str) -> int:
    """Stops every not-yet-sent callback of an item (the job was untracked). Returns how many."""
    result = session.execute(
        update(CallbackDelivery)
        .where(CallbackDelivery.item_id == item_id, CallbackDelivery.state == PENDING)
        .values(state=DROPPED, claimed_until_ms=None, updated_ms=now_ms(), last_error="job untracked")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claimed:
    """One attempt this process owns until `claimed_until_ms`."""

    id: int
    message_id: str
    tenant_id: str
    item_id: str
    url: str
    payload: dict[str, Any]
    attempts: int  # including this one
    claimed_until_ms: int
    is_final: bool = False
    ack_body: str | None = None  # Open API dialect: the body a 200 must carry to count


def _due_heads(session: Session, now: int, limit: int) -> list[int]:
    earlier = aliased(CallbackDelivery)
    blocked = (
        select(earlier.id)
        .where(
            earlier.item_id == CallbackDelivery.item_id,
            earlier.state == PENDING,
            earlier.seq < CallbackDelivery.seq,
        )
        .exists()
    )
    query = (
        select(CallbackDelivery.id)
        .where(
            CallbackDelivery.state == PENDING,
            CallbackDelivery.next_attempt_ms <= now,
            or_(CallbackDelivery.claimed_until_ms.is_(None), CallbackDelivery.claimed_until_ms < now),
            ~blocked,
        )
        .order_by(CallbackDelivery.next_attempt_ms, CallbackDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim_due(db: Database, limit: int = MAX_IN_FLIGHT, now: int | None = None) -> list[Claimed]:
    """Claims up to `limit` due deliveries, each the earliest pending event of its item.

    The claim is a conditional UPDATE (still pending, claim free or expired), so when two
    processes race for the same row exactly one of them gets rowcount 1. Attempts are counted
    at claim time: an attempt cut short by a crash still counts, so a poison target cannot be
    retried forever."""
    now = now_ms() if now is None else now
    until = now + CLAIM_MS
    claimed: list[Claimed] = []
    with db.session() as s:
        candidates = _due_heads(s, now, limit)
    for row_id in candidates:
        with db.session() as s:
            result = s.execute(
                update(CallbackDelivery)
                .where(
                    CallbackDelivery.id == row_id,
                    CallbackDelivery.state == PENDING,
                    or_(CallbackDelivery.claimed_until_ms.is_(None), CallbackDelivery.claimed_until_ms < now),
                )
                .values(claimed_until_ms=until, attempts=CallbackDelivery.attempts + 1, updated_ms=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                continue
            row = s.get(CallbackDelivery, row_id)
            assert row is not None
            claimed.append(
                Claimed(
                    id=row.id,
                    message_id=row.message_id,
                    tenant_id=row.tenant_id,
                    item_id=row.item_id,
                    url=row.url,
                    payload=dict(row.payload or {}),
                    attempts=row.attempts,
                    claimed_until_ms=until,
                    ack_body=row.ack_body,
                )
            )
    return claimed


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry: bool
    status: int | None = None
    error: str | None = None


def retry_delays(settings: Settings | None = None) -> tuple[float, ...]:
    scale = getattr(settings, "callback_retry_scale", None)
    if scale is None:
        scale = float(os.environ.get("SONGFORGE_CALLBACK_RETRY_SCALE", "1") or 1)
    return tuple(d * float(scale) for d in RETRY_DELAYS_S)


def record_outcome(db: Database, claim: Claimed, outcome: Outcome, delays: tuple[float, ...]) -> str:
    """Writes the attempt's result, only if this process still holds the claim. Returns the
    delivery's new state."""
    now = now_ms()
    values: dict[str, Any] = {
        "claimed_until_ms": None,
        "last_status": outcome.status,
        "last_error": (outcome.error or "")[:2000] or None,
        "updated_ms": now,
    }
    if outcome.ok:
        values["state"] = SENT
    elif outcome.retry and claim.attempts < MAX_ATTEMPTS:
        values["next_attempt_ms"] = now + int(delays[min(claim.attempts, len(delays)) - 1] * 1000)
    else:
        values["state"] = FAILED
    with db.session() as s:
        # Open API events (ack_body set) are each a separate fact (mp3 ready, wav ready): never superseded.
        supersedable = claim.ack_body is None
        if "next_attempt_ms" in values and not claim.is_final and supersedable and _has_newer(s, claim):
            del values["next_attempt_ms"]
            values["state"] = SUPERSEDED
        s.execute(
            update(CallbackDelivery)
            .where(
                CallbackDelivery.id == claim.id,
                CallbackDelivery.state == PENDING,
                CallbackDelivery.claimed_until_ms == claim.claimed_until_ms,
            )
            .values(**values)
        )
    return values.get("state", PENDING)


def _has_newer(session: Session, claim: Claimed) -> bool:
    newer = session.scalar(
        select(CallbackDelivery.id)
        .where(
            CallbackDelivery.item_id == claim.item_id,
            CallbackDelivery.state == PENDING,
            CallbackDelivery.id != claim.id,
        )
        .limit(1)
    )
    return newer is not None


def _job_untracked(db: Database, item_id: str) -> bool:
    with db.session() as s:
        tracked = s.scalar(select(Job.tracked).where(Job.item_id == item_id))
    return tracked is False


def _tenant_secret(db: Database, tenant_id: str) -> str | None:
    with db.session() as s:
        return s.scalar(select(Tenant.signing_secret).where(Tenant.id == tenant_id))


def _drop_item(db: Database, item_id: str) -> None:
    with db.session() as s:
        drop_pending(s, item_id)


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _pinned_request(url: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL rewritten to the checked address, plus the Host header and SNI that keep the
    original name for the receiver and for certificate checks."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip_host = f"[{address}]" if ":" in address else address
    netloc = ip_host if parts.port is None else f"{ip_host}:{parts.port}"
    host_header = parts.netloc.rpartition("@")[2]
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    extensions: dict[str, Any] = {}
    if parts.scheme.lower() == "https":
        extensions["sni_hostname"] = host
    return pinned, {"host": host_header}, extensions


async def send_once(client: httpx.AsyncClient, claim: Claimed, secret: str, allow_private: bool) -> Outcome:
    """One signed POST. Classifies the result: success, retry later, or give up."""
    try:
        addresses = await asyncio.to_thread(checked_addresses, claim.url, allow_private)
    except CallbackTargetError as exc:
        # Unresolvable now may be a DNS hiccup; a forbidden address is final.
        retry = "cannot be resolved" in str(exc)
        return Outcome(ok=False, retry=retry, error=f"refused: {exc}")
    body = encode_body(claim.payload)
    headers = {
        "content-type": "application/json",
        "user-agent": "Songforge-Webhooks/1",
        **signed_headers(secret, claim.message_id, body),
    }
    pinned, host_header, extensions = _pinned_request(claim.url, addresses[0])
    headers.update(host_header)
    try:
        response = await client.post(pinned, content=body, headers=headers, extensions=extensions)
    except httpx.TimeoutException as exc:
        return Outcome(ok=False, retry=True, error=f"timeout: {exc!r}")
    except httpx.HTTPError as exc:
        return Outcome(ok=False, retry=True, error=f"connection error: {exc!r}")
    code = response.status_code
    if claim.ack_body is not None:
        # Open API dialect: the platform retries until the receiver answers 200 `success`.
        if code == 200 and response.text.strip() == claim.ack_body:
            return Outcome(ok=True, retry=False, status=code)
        error = f"HTTP {code} without the {claim.ack_body!r} ack"
        return Outcome(ok=False, retry=True, status=code, error=error)
    if 200 <= code < 300:
        return Outcome(ok=True, retry=False, status=code)
    if code >= 500 or code in RETRYABLE_STATUSES:
        return Outcome(ok=False, retry=True, status=code, error=f"HTTP {code}")
    # 3xx (never followed) and other 4xx: the receiver will not change its mind.
    return Outcome(ok=False, retry=False, status=code, error=f"HTTP {code}")


async def deliver(
    db: Database, client: httpx.AsyncClient, claim: Claimed, settings: Settings, delays: tuple[float, ...]
) -> str:
    """Sends one claimed delivery and records the outcome; returns the delivery's new state."""
    if await asyncio.to_thread(_job_untracked, db, claim.item_id):
        await asyncio.to_thread(_drop_item, db, claim.item_id)
        return DROPPED
    secret = await asyncio.to_thread(_tenant_secret, db, claim.tenant_id)
    if secret is None:
        outcome = Outcome(ok=False, retry=False, error="the token that owned this job no longer exists")
    else:
        try:
            outcome = await send_once(client, claim, secret, settings.private_callbacks_allowed())
        except Exception as exc:  # a bug here must not kill the loop
            log.exception("callback %s failed unexpectedly", claim.message_id)
            outcome = Outcome(ok=False, retry=True, error=f"internal error: {exc!r}")
    state = await asyncio.to_thread(record_outcome, db, claim, outcome, delays)
    if not outcome.ok:
        log.info(
            "callback %s to %s attempt %d: %s -> %s",
            claim.message_id,
            claim.url,
            claim.attempts,
            outcome.error,
            state,
        )
    return state


def make_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(SEND_TIMEOUT_S),
        follow_redirects=False,
        trust_env=False,  # an operator's HTTP_PROXY must not route around the address check
        limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=0),
    )


async def _sleep_or_stop(stop_event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop_event.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def run_delivery_loop(db: Database, settings: Settings, stop_event: asyncio.Event) -> None:
    """Drains the outbox until `stop_event` is set. Safe to run in several processes at once.

    Database work runs in threads so a busy SQLite file never stalls the API's event loop.
    In-flight sends are awaited on stop (each is bounded by the 10 s timeout); anything not
    finished is picked up again after the claim expires, by this or another process."""
    delays = retry_delays(settings)
    in_flight: set[asyncio.Task[str]] = set()
    async with make_client() as client:
        while not stop_event.is_set():
            room = MAX_IN_FLIGHT - len(in_flight)
            if room > 0:
                try:
                    claims = await asyncio.to_thread(claim_due, db, room)
                except Exception:  # e.g. database locked; try again next tick
                    log.exception("claiming callbacks failed")
                    claims = []
                for claim in claims:
                    in_flight.add(asyncio.create_task(deliver(db, client, claim, settings, delays)))
            if in_flight:
                done, _ = await asyncio.wait(
                    in_flight, timeout=POLL_INTERVAL_S, return_when=asyncio.FIRST_COMPLETED
                )
                in_flight -= done
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("callback delivery task failed", exc_info=task.exception())
                if done:
                    continue  # a finished head may unblock the next event of its item at once
                if stop_event.is_set():
                    break
            else:
                await _sleep_or_stop(stop_event, POLL_INTERVAL_S)
        if in_flight:
            await asyncio.wait(in_flight, timeout=SEND_TIMEOUT_S + 1)
            for task in in_flight:
                task.cancel()


def pending_count(session: Session, item_id: str | None = None) -> int:
    """How many deliveries still wait (for diagnostics and tests)."""
    query = select(func.count()).select_from(CallbackDelivery).where(CallbackDelivery.state == PENDING)
    if item_id is not None:
        query = query.where(and_(CallbackDelivery.item_id == item_id))
    return int(session.scalar(query) or 0)
