"""The outbox table: writing events, claiming the due ones, recording each attempt's outcome.

Why an outbox: a callback is a promise made when a job is accepted. Events are written into
`callback_deliveries` in the same transaction as the change that caused them (`enqueue` takes
the caller's session); a delivery loop drains the table. A crash or restart between "job
progressed" and "receiver told" therefore loses nothing, and several processes can drain the
same table because each attempt is claimed with a conditional UPDATE before it is sent.

Ordering: per item, a delivery is only sent once every earlier delivery of that item (lower
`seq`) has been sent or given up, so a receiver never sees "completed" before "50%". When a
progress event fails and a newer event of the same item is already waiting, the failed one is
marked "superseded" instead of being retried: each event is a whole snapshot, so the newer one
says everything the older one did, and a receiver that was down for an hour is not replayed an
hour of stale progress. Final events are always retried in full.

Retry timing: env `SONGFORGE_CALLBACK_RETRY_SCALE` (or a `callback_retry_scale` attribute on
Settings) multiplies the delays; tests use it to see a retry within a second.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from songforge.clock import now_ms
from songforge.config import Settings, callback_retry_scale
from songforge.outbox.signing import new_message_id
from songforge.store.db import Database, rowcount
from songforge.store.models import CallbackDelivery, Job, Tenant

__all__ = [
    "CLAIM_MARGIN_MS",
    "CLAIM_MS",
    "DROPPED",
    "FAILED",
    "MAX_ATTEMPTS",
    "MAX_IN_FLIGHT",
    "PENDING",
    "RENEW_EVERY_MS",
    "RETRY_DELAYS_S",
    "SEND_TIMEOUT_S",
    "SENT",
    "SUPERSEDED",
    "Claimed",
    "Outcome",
    "claim_due",
    "drop_item",
    "drop_pending",
    "enqueue",
    "job_untracked",
    "pending_count",
    "record_outcome",
    "renew_claim",
    "retry_delays",
    "tenant_secret",
]

# The longest one attempt may take (the sender's HTTP timeout).
SEND_TIMEOUT_S = 10.0
# Delays between attempts: attempts go out at about 0s, 30s, 2m, 5m, 15m, 30m and 60m after
# the first, i.e. 7 attempts over an hour.
RETRY_DELAYS_S: tuple[float, ...] = (30, 90, 180, 600, 900, 1800)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
# A claim is short and renewed while its attempt runs (`renew_claim`, driven by the sender), so a
# crashed sender's claim lapses within CLAIM_MS and its event goes out again within 10 s, instead of
# the claim having to outlive the longest possible attempt and stall every later event of the job.
CLAIM_MS = 8_000
# A live sender renews every RENEW_EVERY_MS; if no renewal has been confirmed CLAIM_MARGIN_MS before
# its claim lapses, it abandons the attempt, so two senders never send one event at the same time.
RENEW_EVERY_MS = 2_000
CLAIM_MARGIN_MS = 1_500
# How many deliveries one process has claimed (and is sending) at once.
MAX_IN_FLIGHT = 16


class DeliveryState(StrEnum):
    """A delivery row's state, as stored. SUPERSEDED: a progress event whose retry would hold up
    a newer event of the same job; the newer one is a fuller snapshot of the same record, so it
    goes instead (order is kept; the backlog stays short)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"
    SUPERSEDED = "superseded"


PENDING, SENT, FAILED, DROPPED = (
    DeliveryState.PENDING,
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.DROPPED,
)
SUPERSEDED = DeliveryState.SUPERSEDED


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

    `ack_body`: when set, only HTTP 200 with exactly this body counts as delivered, and the
    event is never superseded (see `record_outcome`).

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
            ack_body=ack_body,
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
    return rowcount(result)


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
    ack_body: str | None = None  # the body a 200 must carry to count as delivered


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
            if rowcount(result) != 1:
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
                    is_final=bool(row.is_final),
                    ack_body=row.ack_body,
                )
            )
    return claimed


def renew_claim(db: Database, claim: Claimed, now: int | None = None) -> Claimed | None:
    """Extends a claim this process still holds; None when it no longer does (it lapsed and
    another sender took the row, or the row left "pending").

    The claim's expiry is its owner's token: the UPDATE matches it exactly, so a sender whose
    claim lapsed can never renew (or later record) over the sender that took the row over."""
    now = now_ms() if now is None else now
    if claim.claimed_until_ms <= now:
        return None
    until = max(now + CLAIM_MS, claim.claimed_until_ms + 1)
    with db.session() as s:
        result = s.execute(
            update(CallbackDelivery)
            .where(
                CallbackDelivery.id == claim.id,
                CallbackDelivery.state == PENDING,
                CallbackDelivery.claimed_until_ms == claim.claimed_until_ms,
            )
            .values(claimed_until_ms=until, updated_ms=now)
        )
        if rowcount(result) != 1:
            return None
    return replace(claim, claimed_until_ms=until)


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: delivered, worth retrying, or given up."""

    ok: bool
    retry: bool
    status: int | None = None
    error: str | None = None


def retry_delays(settings: Settings | None = None) -> tuple[float, ...]:
    scale = callback_retry_scale(settings)
    return tuple(d * scale for d in RETRY_DELAYS_S)


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
        # An event that must be acknowledged with a body is a fact the receiver counts (one file
        # ready, then the next), not a snapshot a newer event repeats: it is never superseded.
        supersedable = claim.ack_body is None
        if "next_attempt_ms" in values and not claim.is_final and supersedable and _has_newer(s, claim):
            del values["next_attempt_ms"]
            values["state"] = SUPERSEDED
        written = s.execute(
            update(CallbackDelivery)
            .where(
                CallbackDelivery.id == claim.id,
                CallbackDelivery.state == PENDING,
                CallbackDelivery.claimed_until_ms == claim.claimed_until_ms,
            )
            .values(**values)
        )
        if values.get("state") == FAILED and rowcount(written):
            # Lost for good: the job's record says so (callbackFailed), in the same transaction.
            kind = "final" if claim.is_final else "progress"
            s.execute(
                update(Job)
                .where(Job.item_id == claim.item_id)
                .values(
                    callback_error=f"{kind} event {claim.message_id} after {claim.attempts} "
                    f"attempt(s): {outcome.error or 'failed'}"[:2000]
                )
            )
    state: str = values.get("state", PENDING)
    return state


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


def job_untracked(db: Database, item_id: str) -> bool:
    """True when the item's job was untracked: its callbacks are to stop."""
    with db.session() as s:
        tracked = s.scalar(select(Job.tracked).where(Job.item_id == item_id))
    return tracked is False


def tenant_secret(db: Database, tenant_id: str) -> str | None:
    """The signing secret of the token that owns the event; None when the token is gone."""
    with db.session() as s:
        return s.scalar(select(Tenant.signing_secret).where(Tenant.id == tenant_id))


def drop_item(db: Database, item_id: str) -> None:
    """`drop_pending` in a transaction of its own."""
    with db.session() as s:
        drop_pending(s, item_id)


def pending_count(session: Session, item_id: str | None = None) -> int:
    """How many deliveries still wait (for diagnostics and tests)."""
    query = select(func.count()).select_from(CallbackDelivery).where(CallbackDelivery.state == PENDING)
    if item_id is not None:
        query = query.where(and_(CallbackDelivery.item_id == item_id))
    return int(session.scalar(query) or 0)
