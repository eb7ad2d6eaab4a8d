"""The queue (`songforge.core.queue`): FIFO exclusive claims, leases, late writes refused, recovery."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from songforge.clock import now_ms
from songforge.core import queue
from songforge.store.db import Database
from songforge.store.models import Account, Job

# The `submit` fixture (conftest): admits one instrumental request for an account.
Submit = Callable[..., list[Job]]


def test_claim_is_fifo_and_exclusive(db: Database, account: Account, submit: Submit) -> None:
    a = submit(account)
    b = submit(account)
    order = [queue.claim_next(db, f"w{i}") for i in range(5)]
    got = [j.item_id for j in order if j is not None]
    assert len(got) == 4 and len(set(got)) == 4
    assert set(got[:2]) == {j.item_id for j in a} and set(got[2:]) == {j.item_id for j in b}
    assert order[4] is None


def test_lease_loss_requeues_then_fails_with_reason(db: Database, account: Account, submit: Submit) -> None:
    (job, _) = submit(account)
    for attempt in range(1, queue.MAX_ATTEMPTS + 1):
        claimed = None
        while claimed is None or claimed.item_id != job.item_id:
            claimed = queue.claim_next(db, f"w{attempt}")
            if claimed is not None and claimed.item_id != job.item_id:
                queue.fail(db, claimed.item_id, claimed.worker_id, "not under test")
        assert claimed.attempts == attempt
        # the worker dies: its lease runs out
        counts = queue.reap_expired(db, now=now_ms() + queue.LEASE_MS + 1)
        expected = "requeued" if attempt < queue.MAX_ATTEMPTS else "failed"
        assert counts[expected] == 1
        # the dead worker's late writes are refused
        assert not queue.set_progress(db, job.item_id, f"w{attempt}", 50, "rendering", notify=False)
        assert not queue.complete(db, job.item_id, f"w{attempt}", {})
    with db.session() as s:
        final = s.get(Job, job.item_id)
        assert final.state == "failed" and "attempts" in (final.error or "")


def test_recover_orphans_at_startup(db: Database, account: Account, submit: Submit) -> None:
    jobs = submit(account)
    old = queue.claim_next(db, "wOLD-0-1")
    assert old is not None
    counts = queue.recover_orphans(db, live_prefix="wNEW")
    assert counts["requeued"] == 1
    with db.session() as s:
        again = s.get(Job, old.item_id)
        assert again.state == "queued" and again.worker_id is None and again.progress == 0
    # a job on its last attempt ends FAILED with the reason instead
    with db.session() as s:
        s.execute(update(Job).where(Job.item_id == jobs[1].item_id).values(attempts=queue.MAX_ATTEMPTS - 1))
    while (c := queue.claim_next(db, "wOLD-0-2")) is not None and c.item_id != jobs[1].item_id:
        pass
    queue.recover_orphans(db, live_prefix="wNEW")
    with db.session() as s:
        failed = s.get(Job, jobs[1].item_id)
        assert failed.state == "failed" and "restarted" in (failed.error or "")


def test_progress_and_complete_need_the_lease(db: Database, account: Account, submit: Submit) -> None:
    submit(account)
    job = queue.claim_next(db, "w1")
    assert queue.set_progress(db, job.item_id, "w1", 40, "rendering", notify=False)
    assert not queue.set_progress(db, job.item_id, "w2", 60, "rendering", notify=False)
    assert queue.complete(db, job.item_id, "w1", {"title": "T", "blobs": {"wav": "k"}})
    with db.session() as s:
        done = s.get(Job, job.item_id)
        assert (done.state, done.progress, done.title, done.blobs) == ("completed", 100, "T", {"wav": "k"})
    assert not queue.fail(db, job.item_id, "w1", "too late")
