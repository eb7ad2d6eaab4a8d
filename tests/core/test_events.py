"""Events: the queue publishes job changes in the writing transaction, the dialects' subscribers
(registered by `songforge.wiring.install`, as every process does) write their callbacks there.
Runs against a migrated SQLite file; the subscribers are the real ones."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from songforge import wiring
from songforge.clock import now_ms
from songforge.core import events, queue
from songforge.core.events import Hub, Subscriber
from songforge.store.db import Database
from songforge.store.models import CallbackDelivery, Job, StemsTask


class Recorder(Subscriber):
    """Implements one hook only; the other is the protocol's no-op default."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def job_changed(self, session: Session, job: Job, *, is_final: bool) -> None:
        self.log.append(f"{self.name}:{job.item_id}:{is_final}")


def test_hub_calls_subscribers_in_order_and_subscribing_twice_changes_nothing() -> None:
    calls: list[str] = []
    hub, first, second = Hub(), Recorder("a", calls), Recorder("b", calls)
    for subscriber in (first, second, first):
        hub.subscribe(subscriber)
    assert hub.subscribers == (first, second)
    job = Job(item_id="j1")
    hub.job_changed(None, job, is_final=True)  # type: ignore[arg-type]
    hub.stems_finished(None, StemsTask(item_id="s1"))  # type: ignore[arg-type]
    assert calls == ["a:j1:True", "b:j1:True"]


def test_publishing_with_no_subscriber_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    hub = Hub()
    with caplog.at_level(logging.WARNING, logger="songforge.events"):
        hub.job_changed(None, Job(item_id="j1"), is_final=False)  # type: ignore[arg-type]
        hub.stems_finished(None, StemsTask(item_id="s1"))  # type: ignore[arg-type]
    warnings = [r for r in caplog.records if r.name == "songforge.events"]
    assert len(warnings) == 1 and "songforge.wiring.install()" in warnings[0].getMessage()


def test_install_is_idempotent_and_registers_every_dialect() -> None:
    wiring.install()
    before = events.subscribers()
    wiring.install()
    assert events.subscribers() == before
    expected = [s for d in wiring.dialects() for s in d.SUBSCRIBERS]
    assert [s for s in before if s in expected] == expected


def _job(db: Database, tenant_id: str, item_id: str, kind: str = "instrumental", **fields: object) -> None:
    t = now_ms()
    with db.session() as s:
        s.add(
            Job(
                item_id=item_id,
                tenant_id=tenant_id,
                user_id="u1",
                batch_id="b1",
                kind=kind,
                created_ms=t,
                queued_ms=t,
                updated_ms=t,
                **fields,
            )
        )


def _outbox(db: Database, item_id: str) -> list[CallbackDelivery]:
    with db.session() as s:
        rows = s.scalars(
            select(CallbackDelivery).where(CallbackDelivery.item_id == item_id).order_by(CallbackDelivery.seq)
        )
        result = list(rows)
        s.expunge_all()
    return result


def test_queue_changes_reach_the_reply_url_in_the_same_transaction(db: Database, tenant_id: str) -> None:
    _job(db, tenant_id, "r1", reply_url="http://127.0.0.1:9/hook", reply_ref="order-7")
    assert queue.claim(db, "r1", "w1") is not None
    assert queue.set_progress(db, "r1", "w1", 50, "rendering", notify=True)
    assert queue.complete(db, "r1", "w1", {"title": "t"})
    rows = _outbox(db, "r1")
    assert [(r.seq, r.is_final) for r in rows] == [(1, False), (2, False), (3, True)]
    assert all(r.url == "http://127.0.0.1:9/hook" and r.ack_body is None for r in rows)
    assert all(r.payload["replyRef"] == "order-7" for r in rows)
    assert rows[-1].payload["itemId"] == "r1"


def test_untracked_and_callbackless_jobs_write_nothing(db: Database, tenant_id: str) -> None:
    _job(db, tenant_id, "n1")
    _job(db, tenant_id, "n2", reply_url="http://127.0.0.1:9/hook", tracked=False)
    for item_id in ("n1", "n2"):
        assert queue.fail(db, item_id, None, "stopped")
        assert _outbox(db, item_id) == []


def test_platform_jobs_and_stems_get_the_platform_callbacks(db: Database, tenant_id: str) -> None:
    meta = {"callback_url": "http://127.0.0.1:9/cb", "base_url": "http://x", "file_token": "tok"}
    _job(db, tenant_id, "p1", request={"openapi": meta})
    assert queue.claim(db, "p1", "w1") is not None
    assert _outbox(db, "p1") == []  # the platform reports no progress
    assert queue.fail(db, "p1", "w1", "boom")
    (row,) = _outbox(db, "p1")
    assert row.ack_body == "success" and row.is_final and set(row.payload) == {"instrumentals"}

    t = now_ms()
    with db.session() as s:
        task = StemsTask(
            item_id="s1",
            tenant_id=tenant_id,
            user_id="u1",
            state="failed",
            source_key="uploads/s1/mix.wav",
            openapi=meta,
            created_ms=t,
            updated_ms=t,
        )
        s.add(task)
        s.flush()
        events.publish_stems_finished(s, task)
    (stems,) = _outbox(db, "s1")
    assert stems.ack_body == "success" and set(stems.payload) == {"stems"}
