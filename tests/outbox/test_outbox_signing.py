"""Standard Webhooks signatures (`songforge.outbox.signing`), checked against an independent HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from outbox_helpers import SECRET

from songforge.outbox import sign, signed_headers, verify_signature


def test_signature_matches_an_independent_computation() -> None:
    body = b'{"status":30,"replyRef":"r1"}'
    header = sign(SECRET, "msg_abc", 1700000000, body)
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, b"msg_abc.1700000000." + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    assert header == "v1," + expected


def test_verify_accepts_good_and_rejects_tampered() -> None:
    body = b'{"a":1}'
    headers = signed_headers(SECRET, "msg_1", body)
    assert verify_signature(SECRET, headers, body)
    assert verify_signature(SECRET, {k.upper(): v for k, v in headers.items()}, body)
    assert not verify_signature(SECRET, headers, b'{"a":2}')
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    assert not verify_signature(other, headers, body)
    assert not verify_signature(SECRET, {**headers, "webhook-id": "msg_2"}, body)
    assert not verify_signature(SECRET, {k: v for k, v in headers.items() if k != "webhook-signature"}, body)
    # Several signatures (key rotation): any valid v1 passes.
    multi = {**headers, "webhook-signature": "v1,bogus " + headers["webhook-signature"]}
    assert verify_signature(SECRET, multi, body)


def test_verify_rejects_stale_timestamps_unless_told_not_to() -> None:
    body = b"{}"
    old = signed_headers(SECRET, "msg_old", body, timestamp=int(time.time()) - 3600)
    assert not verify_signature(SECRET, old, body)
    assert verify_signature(SECRET, old, body, tolerance_s=None)
