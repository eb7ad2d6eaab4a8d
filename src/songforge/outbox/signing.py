"""Signing callbacks the Standard Webhooks way (https://www.standardwebhooks.com).

Why this scheme rather than one of our own: receivers can verify with any Standard Webhooks
library, and receivers that ignore the headers are unaffected. Each request carries
`webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>` over
"{id}.{timestamp}.{body}", keyed by the tenant's `whsec_...` secret. The id is fixed when the
event is written, so a retry carries the same id and a receiver can drop duplicates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping

__all__ = [
    "SIGNATURE_TOLERANCE_S",
    "new_message_id",
    "sign",
    "signed_headers",
    "verify_signature",
]

SIGNATURE_TOLERANCE_S = 300


def new_message_id() -> str:
    """A `webhook-id`: unique per event, kept across that event's retries."""
    return f"msg_{uuid.uuid4().hex}"


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
