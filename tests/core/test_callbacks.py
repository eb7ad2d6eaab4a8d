"""The callback outbox against a real SQLite file and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.errors import InvalidInput
from songforge.outbox import (
    CallbackTargetError,
    claim_due,
    drop_pending,
    enqueue,
    guard,
    run_delivery_loop,
    sender,
    sign,
    signed_headers,
    store,
    validate_callback_url,
    verify_signature,
)
from songforge.store.db import Database
from songforge.store.models import Base, CallbackDelivery, Job, Tenant

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


# ----------------------------------------------------------------------------- guard


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://[::ffff:169.254.169.254]/",
        "https://169.254.1.1:8443/x",
    ],
)
def test_link_local_is_refused_even_when_private_allowed(url: str) -> None:
    with pytest.raises(ValueError, match="link-local"):
        validate_callback_url(url, allow_private=True)
    with pytest.raises(ValueError):
        validate_callback_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://[::1]/x",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://0.0.0.0/",
        "http://100.100.100.200/",
    ],
)
def test_private_and_loopback_need_permission(url: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        validate_callback_url(url, allow_private=False)
    validate_callback_url(url, allow_private=True)


def test_public_address_is_accepted() -> None:
    validate_callback_url("https://93.184.215.14/hook?x=1", allow_private=False)
    validate_callback_url("http://8.8.8.8:8080/", allow_private=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://127.0.0.1/", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("http:///nohost", "host"),
        ("", "non-empty"),
        ("http://example.com/" + "a" * 1100, "1024"),
        ("http://host.invalid/x", "cannot be resolved"),
        ("http://127.0.0.1:99999/", "valid URL"),
    ],
)
def test_bad_urls_get_clear_messages(url: str, message: str) -> None:
    with pytest.raises(CallbackTargetError, match=message):
        validate_callback_url(url, allow_private=True)


def test_messages_name_no_field_until_the_caller_names_one() -> None:
    with pytest.raises(CallbackTargetError) as refused:
        validate_callback_url("ftp://example.com/x", allow_private=True)
    assert isinstance(refused.value, InvalidInput)
    assert str(refused.value) == "callback URL must use http or https"
    assert refused.value.for_field("replyUrl") == "replyUrl must use http or https"
    assert not refused.value.unresolvable
    with pytest.raises(CallbackTargetError) as unresolved:
        validate_callback_url("http://host.invalid/x", allow_private=True)
    assert unresolved.value.unresolvable  # the only refusal worth asking DNS again about
    assert unresolved.value.for_field("url") == "url host 'host.invalid' cannot be resolved"


# ----------------------------------------------------------------------------- signing


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


# ----------------------------------------------------------------------------- outbox


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'cb.db'}")
    Base.metadata.create_all(database.engine)
    with database.session() as s:
        s.add(Tenant(id="111", name="t", token_hash="h" * 64, signing_secret=SECRET, created_ms=now_ms()))
    yield database
    database.dispose()


def _add_job(db: Database, item_id: str, tracked: bool = True) -> None:
    now = now_ms()
    with db.session() as s:
        s.add(
            Job(
                item_id=item_id,
                tenant_id="111",
                user_id="u",
                batch_id="b",
                kind="song",
                tracked=tracked,
                created_ms=now,
                queued_ms=now,
                updated_ms=now,
            )
        )


def _enqueue(db: Database, item_id: str, url: str, n: int, final_last: bool = True) -> None:
    with db.session() as s:
        for i in range(n):
            enqueue(
                s,
                tenant_id="111",
                job_id=f"user:111-tempolor:u-job:{item_id}",
                item_id=item_id,
                url=url,
                payload={"itemId": item_id, "progress": i, "replyRef": "ref"},
                is_final=final_last and i == n - 1,
            )


def test_enqueue_numbers_events_per_item(db: Database) -> None:
    _enqueue(db, "a", "http://127.0.0.1:9/", 3)
    _enqueue(db, "b", "http://127.0.0.1:9/", 2)
    with db.session() as s:
        rows = s.scalars(select(CallbackDelivery).order_by(CallbackDelivery.id)).all()
        assert [(r.item_id, r.seq) for r in rows] == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2)]
        assert len({r.message_id for r in rows}) == 5
        assert all(r.message_id.startswith("msg_") for r in rows)
        assert [r.is_final for r in rows] == [False, False, True, False, True]


def test_only_the_head_of_each_item_is_claimed(db: Database) -> None:
    _enqueue(db, "a", "http://127.0.0.1:9/", 3)
    _enqueue(db, "b", "http://127.0.0.1:9/", 2)
    first = claim_due(db)
    assert sorted((c.item_id, c.payload["progress"]) for c in first) == [("a", 0), ("b", 0)]
    # Heads are claimed (in flight): nothing else of those items may go meanwhile.
    assert claim_due(db) == []


def test_concurrent_claimers_never_share_a_row(tmp_path: Path, db: Database) -> None:
    for i in range(60):
        _enqueue(db, f"item{i}", "http://127.0.0.1:9/", 1)
    # Separate Database objects: separate connection pools, like separate processes.
    dbs = [Database(db.url) for _ in range(4)]
    results: list[list[int]] = [[] for _ in dbs]
    barrier = threading.Barrier(len(dbs))

    def worker(k: int) -> None:
        barrier.wait()
        for _ in range(10):
            results[k].extend(c.id for c in claim_due(dbs[k], limit=8))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(dbs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = [i for r in results for i in r]
    assert len(all_ids) == len(set(all_ids)) == 60
    for d in dbs:
        d.dispose()


def test_expired_claim_is_claimed_again_and_counts_attempts(db: Database) -> None:
    _enqueue(db, "a", "http://127.0.0.1:9/", 1)
    (c1,) = claim_due(db)
    assert c1.attempts == 1
    assert claim_due(db) == []
    (c2,) = claim_due(db, now=now_ms() + store.CLAIM_MS + 1)
    assert c2.id == c1.id and c2.attempts == 2


def test_drop_pending_stops_an_item(db: Database) -> None:
    _enqueue(db, "a", "http://127.0.0.1:9/", 3)
    _enqueue(db, "b", "http://127.0.0.1:9/", 1)
    with db.session() as s:
        assert drop_pending(s, "a") == 3
    assert [c.item_id for c in claim_due(db)] == ["b"]


# ----------------------------------------------------------------------------- delivery


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script."""

    def __init__(self, statuses: list[int] | None = None, delay_s: float = 0.0) -> None:
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.statuses = list(statuses or [])
        self.delay_s = delay_s
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, self.path))
                time.sleep(receiver.delay_s)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "7")
                self.end_headers()
                try:
                    self.wfile.write(b"success")
                except OSError:
                    pass  # the sender timed out and hung up: that is what the timeout test wants

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Receiver:
    r = Receiver()
    yield r
    r.close()


def _settings(tmp_path: Path, allow_private: bool = True, scale: float = 0.005) -> Settings:
    s = Settings(data_dir=tmp_path, allow_private_callbacks=allow_private)
    s.callback_retry_scale = scale  # type: ignore[attr-defined]
    return s


async def _run_until(db: Database, settings: Settings, done, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(run_delivery_loop(db, settings, stop))
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=15)


def _states(db: Database) -> list[tuple[str, int, str, int]]:
    with db.session() as s:
        rows = s.scalars(select(CallbackDelivery).order_by(CallbackDelivery.item_id, CallbackDelivery.seq))
        return [(r.item_id, r.seq, r.state, r.attempts) for r in rows]


def test_events_arrive_in_order_signed_and_retried(tmp_path: Path, db: Database) -> None:
    recv = Receiver(statuses=[200, 500, 429, 200])
    try:
        _add_job(db, "a")
        _enqueue(db, "a", recv.url, 2)
        asyncio.run(_run_until(db, _settings(tmp_path), lambda: all(s[2] == "sent" for s in _states(db))))
    finally:
        recv.close()
    assert [s[2:] for s in _states(db)] == [("sent", 1), ("sent", 3)]
    progress = [json.loads(body)["progress"] for _h, body, _p in recv.requests]
    # The final event got 500, then 429, then went through on its third attempt.
    assert progress == [0, 1, 1, 1]
    ids = [h["webhook-id"] for h, _b, _p in recv.requests]
    assert ids[0] != ids[1] and ids[1] == ids[2] == ids[3]  # a retry keeps its message id
    for headers, body, path in recv.requests:
        assert verify_signature(SECRET, headers, body)
        assert json.loads(body)["replyRef"] == "ref"
        assert path == "/hook?token=abc"
        assert headers["host"].startswith("127.0.0.1:")
        assert headers["content-type"] == "application/json"


def test_failed_progress_event_is_superseded_by_a_newer_one(tmp_path: Path, db: Database) -> None:
    recv = Receiver(statuses=[500, 503, 500, 200])
    try:
        _add_job(db, "a")
        _enqueue(db, "a", recv.url, 3)
        done = lambda: all(s[2] != "pending" for s in _states(db))  # noqa: E731
        asyncio.run(_run_until(db, _settings(tmp_path), done))
    finally:
        recv.close()
    progress = [json.loads(body)["progress"] for _h, body, _p in recv.requests]
    # 0 fails while 1 and 2 wait: 0 is superseded; 1 fails while 2 waits: superseded too;
    # 2 is final: retried until it is delivered. Never out of order.
    assert progress == [0, 1, 2, 2]
    assert [s[2] for s in _states(db)] == ["superseded", "superseded", "sent"]


def test_other_4xx_and_redirects_are_given_up(tmp_path: Path, db: Database) -> None:
    recv = Receiver(statuses=[404, 302])
    try:
        _add_job(db, "a")
        _add_job(db, "b")
        _enqueue(db, "a", recv.url, 1)
        _enqueue(db, "b", recv.url, 1)
        asyncio.run(
            _run_until(
                db,
                _settings(tmp_path),
                lambda: len(recv.requests) >= 2 and all(s[2] != "pending" for s in _states(db)),
            )
        )
    finally:
        recv.close()
    assert [(s[2], s[3]) for s in _states(db)] == [("failed", 1), ("failed", 1)]
    assert len(recv.requests) == 2  # the redirect was not followed


def test_unreachable_receiver_is_retried_until_attempts_run_out(tmp_path: Path, db: Database) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connection refused
    _add_job(db, "a")
    _enqueue(db, "a", f"http://127.0.0.1:{port}/", 1)
    asyncio.run(_run_until(db, _settings(tmp_path, scale=0.0003), lambda: _states(db)[0][2] != "pending"))
    assert _states(db) == [("a", 1, "failed", store.MAX_ATTEMPTS)]
    assert store.MAX_ATTEMPTS >= 6
    assert sum(store.RETRY_DELAYS_S) >= 3000  # spread over about an hour


def test_untracked_job_gets_no_further_callbacks(tmp_path: Path, db: Database, receiver: Receiver) -> None:
    _add_job(db, "a", tracked=False)
    _enqueue(db, "a", receiver.url, 2)
    asyncio.run(_run_until(db, _settings(tmp_path), lambda: _states(db)[0][2] != "pending"))
    assert receiver.requests == []
    assert [s[2] for s in _states(db)] == ["dropped", "dropped"]


def test_private_target_refused_at_send_time(tmp_path: Path, db: Database, receiver: Receiver) -> None:
    """The check runs again when sending: a target that became forbidden is never contacted."""
    _add_job(db, "a")
    _enqueue(db, "a", receiver.url, 1)
    settings = _settings(tmp_path, allow_private=False)
    asyncio.run(_run_until(db, settings, lambda: _states(db)[0][2] != "pending"))
    assert receiver.requests == []
    with db.session() as s:
        row = s.scalars(select(CallbackDelivery)).one()
        assert row.state == "failed" and "not allowed" in (row.last_error or "")


def test_slow_receiver_times_out_and_is_retried(tmp_path: Path, db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sender, "SEND_TIMEOUT_S", 0.3)
    recv = Receiver(delay_s=0.6)
    try:
        _add_job(db, "a")
        _enqueue(db, "a", recv.url, 1)
        asyncio.run(_run_until(db, _settings(tmp_path), lambda: len(recv.requests) >= 2, timeout=10))
    finally:
        recv.close()
    with db.session() as s:
        row = s.scalars(select(CallbackDelivery)).one()
        assert row.attempts >= 2 and "timeout" in (row.last_error or "")


def test_pinned_request_keeps_host_and_sni() -> None:
    target = "https://user@hooks.example.com:8443/p?q=1"
    url, headers, ext = guard.pinned_request(target, "93.184.215.14")
    assert url == "https://93.184.215.14:8443/p?q=1"
    assert headers == {"host": "hooks.example.com:8443"}
    assert ext == {"sni_hostname": "hooks.example.com"}
    url6, _h, _e = guard.pinned_request("http://h.example/", "2001:db8::1")
    assert url6 == "http://[2001:db8::1]/"
    assert httpx.URL(url6).host == "2001:db8::1"
