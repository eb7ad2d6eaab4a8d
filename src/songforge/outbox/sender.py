"""Sending what the outbox holds: one signed POST per claimed event, and the loop that drains it.

Each attempt checks the target again (`guard.checked_addresses`) and posts to the checked
address, so a target that became forbidden since submission is never contacted. Redirects are
never followed, and the client ignores proxy settings from the environment: an operator's
HTTP_PROXY must not route around the address check. The loop is safe to run in several
processes at once (claims are conditional UPDATEs, see `store.claim_due`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.outbox import store
from songforge.outbox.guard import CallbackTargetError, checked_addresses, pinned_request, url_for_log
from songforge.outbox.signing import signed_headers
from songforge.outbox.store import MAX_IN_FLIGHT, SEND_TIMEOUT_S, Claimed, Outcome
from songforge.store.db import Database
from songforge.store.deployment import private_callbacks_allowed

__all__ = [
    "POLL_INTERVAL_S",
    "RETRYABLE_STATUSES",
    "deliver",
    "encode_body",
    "make_client",
    "run_delivery_loop",
    "send_once",
]

log = logging.getLogger("songforge.callbacks")
# httpx logs every request's full URL at INFO; callback URLs carry the receivers' secrets in their
# query strings (the Open API's docs put them there), so only its warnings are let through.
logging.getLogger("httpx").setLevel(logging.WARNING)

POLL_INTERVAL_S = 0.25
RETRYABLE_STATUSES = frozenset({429})


def encode_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are signed and sent (compact JSON, UTF-8)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def send_once(client: httpx.AsyncClient, claim: Claimed, secret: str, allow_private: bool) -> Outcome:
    """One signed POST. Classifies the result: success, retry later, or give up."""
    try:
        addresses = await asyncio.to_thread(checked_addresses, claim.url, allow_private)
    except CallbackTargetError as exc:
        # Unresolvable now may be a DNS hiccup; a forbidden address is final.
        return Outcome(ok=False, retry=exc.unresolvable, error=f"refused: {exc}")
    body = encode_body(claim.payload)
    headers = {
        "content-type": "application/json",
        "user-agent": "Songforge-Webhooks/1",
        **signed_headers(secret, claim.message_id, body),
    }
    pinned, host_header, extensions = pinned_request(claim.url, addresses[0])
    headers.update(host_header)
    try:
        response = await client.post(pinned, content=body, headers=headers, extensions=extensions)
    except httpx.TimeoutException as exc:
        return Outcome(ok=False, retry=True, error=f"timeout: {exc!r}")
    except httpx.HTTPError as exc:
        return Outcome(ok=False, retry=True, error=f"connection error: {exc!r}")
    code = response.status_code
    if claim.ack_body is not None:
        # The receiver acknowledges with a body: anything else, even a 2xx, is asked again.
        if code == 200 and response.text.strip() == claim.ack_body:
            return Outcome(ok=True, retry=False, status=code)
        error = f"HTTP {code} without the {claim.ack_body!r} ack"
        return Outcome(ok=False, retry=True, status=code, error=error)
    if 200 <= code < 300:
        return Outcome(ok=True, retry=False, status=code)
    if 300 <= code < 400:
        # Never followed (the Location was never checked by the guard), but retried: a receiver
        # behind a proxy that redirects during a deploy or a TLS switch must not lose every event.
        return Outcome(ok=False, retry=True, status=code, error=f"HTTP {code} redirect (not followed)")
    if code >= 500 or code in RETRYABLE_STATUSES:
        return Outcome(ok=False, retry=True, status=code, error=f"HTTP {code}")
    # Other 4xx: the receiver will not change its mind.
    return Outcome(ok=False, retry=False, status=code, error=f"HTTP {code}")


async def deliver(
    db: Database, client: httpx.AsyncClient, claim: Claimed, settings: Settings, delays: tuple[float, ...]
) -> str:
    """Sends one claimed delivery and records the outcome; returns the delivery's new state."""
    if await asyncio.to_thread(store.job_untracked, db, claim.item_id):
        await asyncio.to_thread(store.drop_item, db, claim.item_id)
        return store.DROPPED
    secret = await asyncio.to_thread(store.tenant_secret, db, claim.tenant_id)
    if secret is None:
        outcome = Outcome(ok=False, retry=False, error="the token that owned this job no longer exists")
    else:
        # The deployment's policy, as the API's submit check read it (songforge.store.deployment).
        allow_private = await asyncio.to_thread(private_callbacks_allowed, db, settings)
        attempt = asyncio.create_task(_guarded_send(client, claim, secret, allow_private))
        claim, attempted = await _holding_claim(db, claim, attempt)
        if attempted is None:
            # Abandoned before the claim lapsed: the row is free again within CLAIM_MARGIN_MS and
            # goes out from whichever sender claims it next.
            log.warning("callback %s: claim not renewed in time, attempt abandoned", claim.message_id)
            return store.PENDING
        outcome = attempted
    state = await asyncio.to_thread(store.record_outcome, db, claim, outcome, delays)
    if not outcome.ok:
        # A retry is routine (INFO); an event lost for good is the operator's business (WARNING).
        log.log(
            logging.WARNING if state == store.FAILED else logging.INFO,
            "callback %s to %s attempt %d: %s -> %s",
            claim.message_id,
            url_for_log(claim.url),
            claim.attempts,
            outcome.error,
            state,
        )
    return state


async def _guarded_send(
    client: httpx.AsyncClient, claim: Claimed, secret: str, allow_private: bool
) -> Outcome:
    try:
        return await send_once(client, claim, secret, allow_private)
    except Exception as exc:  # a bug here must not kill the loop
        log.exception("callback %s failed unexpectedly", claim.message_id)
        return Outcome(ok=False, retry=True, error=f"internal error: {exc!r}")


def _seconds_until(ms: int) -> float:
    return max(0.0, (ms - now_ms()) / 1000)


async def _holding_claim(
    db: Database, claim: Claimed, attempt: asyncio.Task[Outcome]
) -> tuple[Claimed, Outcome | None]:
    """Awaits `attempt` while renewing its claim every RENEW_EVERY_MS. Returns the claim as last
    renewed (record_outcome matches it) and the outcome, or None for the outcome when no renewal
    was confirmed CLAIM_MARGIN_MS before the claim lapsed: the attempt is then cancelled, because
    past that point another sender may claim the row, and one event must not be sent twice at once.

    Why renewals rather than one long claim: a sender that died holds its rows only until the
    short claim lapses (CLAIM_MS), not for the longest attempt anyone could make."""
    held = claim
    while True:
        renew_at = held.claimed_until_ms - store.CLAIM_MS + store.RENEW_EVERY_MS
        done, _ = await asyncio.wait({attempt}, timeout=_seconds_until(renew_at))
        if done:
            return held, attempt.result()
        renewed: Claimed | None = None
        while renewed is None:
            give_up_in = _seconds_until(held.claimed_until_ms - store.CLAIM_MARGIN_MS)
            renewal = asyncio.ensure_future(asyncio.to_thread(store.renew_claim, db, held))
            await asyncio.wait({renewal}, timeout=give_up_in)
            if not renewal.done():
                attempt.cancel()
                renewal.add_done_callback(_ignore_result)
                return held, None
            error = renewal.exception()
            if error is None and renewal.result() is None:
                attempt.cancel()  # lost: the claim lapsed or the row was settled elsewhere
                return held, None
            if error is not None:
                log.warning("renewing callback claim %s failed: %r", held.message_id, error)
                if attempt.done():
                    return held, attempt.result()  # the failed renewal changed nothing
                await asyncio.wait({attempt}, timeout=min(0.2, _seconds_until(held.claimed_until_ms)))
                continue
            renewed = renewal.result()
        held = renewed


def _ignore_result(task: asyncio.Future[Claimed | None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


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
    In-flight sends are awaited on stop (each is bounded by the send timeout); anything not
    finished is picked up again after the claim expires, by this or another process."""
    delays = store.retry_delays(settings)
    in_flight: set[asyncio.Task[str]] = set()
    async with make_client() as client:
        while not stop_event.is_set():
            room = MAX_IN_FLIGHT - len(in_flight)
            if room > 0:
                try:
                    claims = await asyncio.to_thread(store.claim_due, db, room)
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
