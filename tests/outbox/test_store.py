"""The outbox table (`songforge.outbox.store`): per-item order, exclusive claims, dropping."""

from __future__ import annotations

import threading
from pathlib import Path

from outbox_helpers import enqueue_events
from sqlalchemy import select

from songforge.clock import now_ms
from songforge.outbox import claim_due, drop_pending, store
from songforge.store.db import Database
from songforge.store.models import CallbackDelivery


def test_enqueue_numbers_events_per_item(db: Database) -> None:
    enqueue_events(db, "a", "http://127.0.0.1:9/", 3)
    enqueue_events(db, "b", "http://127.0.0.1:9/", 2)
    with db.session() as s:
        rows = s.scalars(select(CallbackDelivery).order_by(CallbackDelivery.id)).all()
        assert [(r.item_id, r.seq) for r in rows] == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2)]
        assert len({r.message_id for r in rows}) == 5
        assert all(r.message_id.startswith("msg_") for r in rows)
        assert [r.is_final for r in rows] == [False, False, True, False, True]


def test_only_the_head_of_each_item_is_claimed(db: Database) -> None:
    enqueue_events(db, "a", "http://127.0.0.1:9/", 3)
    enqueue_events(db, "b", "http://127.0.0.1:9/", 2)
    first = claim_due(db)
    assert sorted((c.item_id, c.payload["progress"]) for c in first) == [("a", 0), ("b", 0)]
    # Heads are claimed (in flight): nothing else of those items may go meanwhile.
    assert claim_due(db) == []


def test_concurrent_claimers_never_share_a_row(tmp_path: Path, db: Database) -> None:
    for i in range(60):
        enqueue_events(db, f"item{i}", "http://127.0.0.1:9/", 1)
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
    enqueue_events(db, "a", "http://127.0.0.1:9/", 1)
    (c1,) = claim_due(db)
    assert c1.attempts == 1
    assert claim_due(db) == []
    (c2,) = claim_due(db, now=now_ms() + store.CLAIM_MS + 1)
    assert c2.id == c1.id and c2.attempts == 2


def test_drop_pending_stops_an_item(db: Database) -> None:
    enqueue_events(db, "a", "http://127.0.0.1:9/", 3)
    enqueue_events(db, "b", "http://127.0.0.1:9/", 1)
    with db.session() as s:
        assert drop_pending(s, "a") == 3
    assert [c.item_id for c in claim_due(db)] == ["b"]


def test_a_dead_senders_claim_lapses_within_ten_seconds(db: Database) -> None:
    """A sender that died mid-delivery never renews: its event is claimable again well within
    10 s (one delivery-loop tick after CLAIM_MS), not after the longest possible attempt."""
    enqueue_events(db, "a", "http://127.0.0.1:9/", 1)
    start = now_ms()
    (c1,) = claim_due(db, now=start)
    assert claim_due(db, now=start + store.CLAIM_MS - 1) == []
    (c2,) = claim_due(db, now=start + 9_000)
    assert c2.id == c1.id and c2.attempts == 2


def test_a_renewed_claim_holds_and_a_lapsed_one_cannot_be_renewed(db: Database) -> None:
    enqueue_events(db, "a", "http://127.0.0.1:9/", 1)
    start = now_ms()
    (c1,) = claim_due(db, now=start)
    renewed = store.renew_claim(db, c1, now=start + store.RENEW_EVERY_MS)
    assert renewed is not None and renewed.claimed_until_ms > c1.claimed_until_ms
    # Past the first claim's expiry the row is still held, because its sender is alive.
    assert claim_due(db, now=c1.claimed_until_ms + 1) == []
    # The stale token no longer renews: only the latest holder may.
    assert store.renew_claim(db, c1, now=start + store.RENEW_EVERY_MS) is None
    # Once the renewed claim lapses another sender takes the row, and the old holder cannot renew.
    (c2,) = claim_due(db, now=renewed.claimed_until_ms + 1)
    assert c2.id == c1.id
    assert store.renew_claim(db, renewed, now=renewed.claimed_until_ms + 2) is None
    assert store.record_outcome(db, c2, store.Outcome(ok=True, retry=False, status=200), ()) == "sent"
