"""Admission (maxJobs, atomically in the database) and the queue's lease/recovery rules."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update

from songforge.clock import now_ms
from songforge.core import queue, scheduler
from songforge.core.jobs import JobRequest
from songforge.errors import Busy
from songforge.store.db import Database
from songforge.store.models import Account, Job


def _submit(db: Database, account: Account, max_jobs: int | None = None) -> list[Job]:
    request = JobRequest(kind="instrumental", prompt="x", model="i4", max_jobs=max_jobs)
    with db.session() as s:
        return scheduler.submit(s, account=account, request=request)


def test_one_request_is_one_slot_of_two_variations(db: Database, account: Account) -> None:
    jobs = _submit(db, account)
    assert len(jobs) == 2 and jobs[0].batch_id == jobs[1].batch_id
    assert jobs[0].seed != jobs[1].seed or jobs[0].item_id != jobs[1].item_id
    with db.session() as s:
        assert scheduler.busy_slots(s, account.tenant_id, "u1") == 1


def test_429_when_account_is_full_and_per_request_override(db: Database, account: Account) -> None:
    _submit(db, account)
    _submit(db, account)
    with pytest.raises(scheduler.AccountBusy) as info:
        _submit(db, account)
    busy = info.value
    assert isinstance(busy, Busy)
    assert busy.running == 2 and busy.limit == 2 and busy.retry_after >= 30
    assert len(busy.holders) == 4 and {h.user_id for h in busy.holders} == {"u1"}
    assert all(h.tenant_id == account.tenant_id and h.started_ms > 0 for h in busy.holders)
    # A request may ask for a larger limit than the account's.
    assert len(_submit(db, account, max_jobs=3)) == 2
    with pytest.raises(scheduler.AccountBusy) as info:
        _submit(db, account, max_jobs=3)
    assert (info.value.running, info.value.limit) == (3, 3)


def test_concurrent_submissions_never_exceed_max_jobs(db: Database, account: Account) -> None:
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            _submit(db, account)
            results.append("ok")
        except scheduler.AccountBusy:
            results.append("busy")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == account.max_jobs == 2
    assert results.count("busy") == 6


def test_untrack_frees_the_slot_but_the_job_still_runs(db: Database, account: Account) -> None:
    first = _submit(db, account)
    _submit(db, account)
    with db.session() as s:
        assert scheduler.untrack(s, account.tenant_id, first[0].item_id)
        assert scheduler.untrack(s, account.tenant_id, first[1].item_id)
        assert not scheduler.untrack(s, account.tenant_id, first[1].item_id)
        assert not scheduler.untrack(s, "someone-else", first[0].item_id)
    _submit(db, account)  # the freed slot is usable
    # Untracked jobs still run, first in line (FIFO across requests; a request's two variations
    # share their queue time, so either may be first).
    claimed = queue.claim_next(db, "w-test")
    assert claimed is not None and claimed.item_id in {first[0].item_id, first[1].item_id}
    claimed2 = queue.claim_next(db, "w-test")
    assert claimed2 is not None and {claimed.item_id, claimed2.item_id} == {j.item_id for j in first}


def test_claim_is_fifo_and_exclusive(db: Database, account: Account) -> None:
    a = _submit(db, account)
    b = _submit(db, account)
    order = [queue.claim_next(db, f"w{i}") for i in range(5)]
    got = [j.item_id for j in order if j is not None]
    assert len(got) == 4 and len(set(got)) == 4
    assert set(got[:2]) == {j.item_id for j in a} and set(got[2:]) == {j.item_id for j in b}
    assert order[4] is None


def test_queued_position_and_progress_are_truthful(db: Database, account: Account) -> None:
    _submit(db, account)
    with db.session() as s:
        active = scheduler.active_jobs(s, account.tenant_id)
        positions = scheduler.queue_positions(s)
    assert [positions[j.item_id] for j in active] == [1, 2]
    assert all(j.state == "queued" and j.progress == 0 for j in active)


def test_lease_loss_requeues_then_fails_with_reason(db: Database, account: Account) -> None:
    (job, _) = _submit(db, account)
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


def test_recover_orphans_at_startup(db: Database, account: Account) -> None:
    jobs = _submit(db, account)
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


def test_progress_and_complete_need_the_lease(db: Database, account: Account) -> None:
    _submit(db, account)
    job = queue.claim_next(db, "w1")
    assert queue.set_progress(db, job.item_id, "w1", 40, "rendering", notify=False)
    assert not queue.set_progress(db, job.item_id, "w2", 60, "rendering", notify=False)
    assert queue.complete(db, job.item_id, "w1", {"title": "T", "blobs": {"wav": "k"}})
    with db.session() as s:
        done = s.get(Job, job.item_id)
        assert (done.state, done.progress, done.title, done.blobs) == ("completed", 100, "T", {"wav": "k"})
    assert not queue.fail(db, job.item_id, "w1", "too late")
