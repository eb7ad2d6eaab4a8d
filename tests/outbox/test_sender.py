"""Sending (`songforge.outbox.sender`): the delivery loop against a real SQLite file and a real
HTTP receiver on 127.0.0.1: order, signatures, retries, supersession, refusals, timeouts."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from outbox_helpers import SECRET, add_job, enqueue_events
from sqlalchemy import select

from songforge.config import Settings
from songforge.outbox import run_delivery_loop, sender, store, verify_signature
from songforge.store.db import Database
from songforge.store.models import CallbackDelivery


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
def receiver() -> Iterator[Receiver]:
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
        add_job(db, "a")
        enqueue_events(db, "a", recv.url, 2)
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
        add_job(db, "a")
        enqueue_events(db, "a", recv.url, 3)
        done = lambda: all(s[2] != "pending" for s in _states(db))  # noqa: E731
        asyncio.run(_run_until(db, _settings(tmp_path), done))
    finally:
        recv.close()
    progress = [json.loads(body)["progress"] for _h, body, _p in recv.requests]
    # 0 fails while 1 and 2 wait: 0 is superseded; 1 fails while 2 waits: superseded too;
    # 2 is final: retried until it is delivered. Never out of order.
    assert progress == [0, 1, 2, 2]
    assert [s[2] for s in _states(db)] == ["superseded", "superseded", "sent"]


def test_other_4xx_are_given_up(tmp_path: Path, db: Database) -> None:
    # (issue 21) Redirects are retried now, never followed: test_sender_redirects.py.
    recv = Receiver(statuses=[404])
    try:
        add_job(db, "a")
        enqueue_events(db, "a", recv.url, 1)
        asyncio.run(
            _run_until(
                db,
                _settings(tmp_path),
                lambda: len(recv.requests) >= 1 and all(s[2] != "pending" for s in _states(db)),
            )
        )
    finally:
        recv.close()
    assert [(s[2], s[3]) for s in _states(db)] == [("failed", 1)]
    assert len(recv.requests) == 1


def test_unreachable_receiver_is_retried_until_attempts_run_out(tmp_path: Path, db: Database) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connection refused
    add_job(db, "a")
    enqueue_events(db, "a", f"http://127.0.0.1:{port}/", 1)
    asyncio.run(_run_until(db, _settings(tmp_path, scale=0.0003), lambda: _states(db)[0][2] != "pending"))
    assert _states(db) == [("a", 1, "failed", store.MAX_ATTEMPTS)]
    assert store.MAX_ATTEMPTS >= 6
    assert sum(store.RETRY_DELAYS_S) >= 3000  # spread over about an hour


def test_untracked_job_gets_no_further_callbacks(tmp_path: Path, db: Database, receiver: Receiver) -> None:
    add_job(db, "a", tracked=False)
    enqueue_events(db, "a", receiver.url, 2)
    asyncio.run(_run_until(db, _settings(tmp_path), lambda: _states(db)[0][2] != "pending"))
    assert receiver.requests == []
    assert [s[2] for s in _states(db)] == ["dropped", "dropped"]


def test_private_target_refused_at_send_time(tmp_path: Path, db: Database, receiver: Receiver) -> None:
    """The check runs again when sending: a target that became forbidden is never contacted."""
    add_job(db, "a")
    enqueue_events(db, "a", receiver.url, 1)
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
        add_job(db, "a")
        enqueue_events(db, "a", recv.url, 1)
        asyncio.run(_run_until(db, _settings(tmp_path), lambda: len(recv.requests) >= 2, timeout=10))
    finally:
        recv.close()
    with db.session() as s:
        row = s.scalars(select(CallbackDelivery)).one()
        assert row.attempts >= 2 and "timeout" in (row.last_error or "")


def test_a_live_sender_keeps_its_claim_through_a_long_attempt(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Short claims are renewed while the send runs: a second delivery loop (another process)
    never sends the same event while the first is still waiting for the receiver."""
    monkeypatch.setattr(store, "CLAIM_MS", 600)
    monkeypatch.setattr(store, "RENEW_EVERY_MS", 200)
    monkeypatch.setattr(store, "CLAIM_MARGIN_MS", 150)
    recv = Receiver(delay_s=1.5)  # well past the claim, within the send timeout
    other = Database(db.url)
    try:
        add_job(db, "a")
        enqueue_events(db, "a", recv.url, 1)
        settings = _settings(tmp_path)

        async def both() -> None:
            stop = asyncio.Event()
            loops = [asyncio.create_task(run_delivery_loop(d, settings, stop)) for d in (db, other)]
            deadline = time.monotonic() + 10
            while _states(db)[0][2] != "sent" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.8)  # a second (duplicate) send would have begun by now
            stop.set()
            await asyncio.wait_for(asyncio.gather(*loops), timeout=15)

        asyncio.run(both())
    finally:
        recv.close()
        other.dispose()
    assert len(recv.requests) == 1
    assert [s[2:] for s in _states(db)] == [("sent", 1)]
