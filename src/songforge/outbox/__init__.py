"""Callbacks as a persistent outbox: written with the change they report, sent in order, signed,
retried, SSRF-guarded. Knows no dialect: a dialect decides what to send and where, the outbox
makes sure it arrives.

    guard     where a callback (or any outbound request) may go; CallbackTargetError
    signing   Standard Webhooks headers and their verification; message ids
    store     the table: enqueue in the caller's transaction, claim, record outcomes
    sender    the HTTP side: one attempt, and the loop that drains the table
"""

from __future__ import annotations

from songforge.outbox.guard import (
    MAX_URL_LENGTH,
    CallbackTargetError,
    checked_addresses,
    pinned_request,
    validate_callback_url,
)
from songforge.outbox.sender import deliver, make_client, run_delivery_loop, send_once
from songforge.outbox.signing import new_message_id, sign, signed_headers, verify_signature
from songforge.outbox.store import (
    DROPPED,
    FAILED,
    MAX_ATTEMPTS,
    PENDING,
    SENT,
    SUPERSEDED,
    Claimed,
    Outcome,
    claim_due,
    drop_pending,
    enqueue,
    pending_count,
    record_outcome,
    retry_delays,
)

__all__ = [
    "DROPPED",
    "FAILED",
    "MAX_ATTEMPTS",
    "MAX_URL_LENGTH",
    "PENDING",
    "SENT",
    "SUPERSEDED",
    "CallbackTargetError",
    "Claimed",
    "Outcome",
    "checked_addresses",
    "claim_due",
    "deliver",
    "drop_pending",
    "enqueue",
    "make_client",
    "new_message_id",
    "pending_count",
    "pinned_request",
    "record_outcome",
    "retry_delays",
    "run_delivery_loop",
    "send_once",
    "sign",
    "signed_headers",
    "validate_callback_url",
    "verify_signature",
]
