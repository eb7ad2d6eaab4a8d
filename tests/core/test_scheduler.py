"""Admission (`songforge.core.scheduler`): maxJobs slots taken atomically in the database, the busy
signal and what holds the slots, untracking, queue positions."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from songforge.core import queue, scheduler
from songforge.errors import Busy
from songforge.store.db import Database
from songforge.store.models import Account, Job

# The `submit` fixture (conftest): admits one instrumental request for an account.
Submit = Callable[..., list[Job]]


def test_one_request_is_one_slot_of_two_variations(db: Database, account: Account, submit: Submit) -> None:
    jobs = submit(account)
    assert len(jobs) == 2 and jobs[0].batch_id == jobs[1].batch_id
    assert jobs[0].seed != jobs[1].seed or jobs[0].item_id != jobs[1].item_id
    with db.session() as s:
        assert scheduler.busy_slots(s, account.tenant_id, "u1") == 1


def test_429_when_account_is_full_and_per_request_override(
    db: Database, account: Account, submit: Submit
) -> None:
    submit(account)
    submit(account)
    with pytest.raises(scheduler.AccountBusy) as info:
        submit(account)
    busy = info.value
    assert isinstance(busy, Busy)
    assert busy.running == 2 and busy.limit == 2 and busy.retry_after >= 30
    assert len(busy.holders) == 4 and {h.user_id for h in busy.holders} == {"u1"}
    assert all(h.tenant_id == account.tenant_id and h.started_ms > 0 for h in busy.holders)
    # A request may ask for a larger limit than the account's.
    assert len(submit(account, max_jobs=3)) == 2
    with pytest.raises(scheduler.AccountBusy) as info:
        submit(account, max_jobs=3)
    assert (info.value.running, info.value.limit) == (3, 3)


def test_concurrent_submissions_never_exceed_max_jobs(db: Database, account: Account, submit: Submit) -> None:
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            submit(account)
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


def test_untrack_frees_the_slot_but_the_job_still_runs(
    db: Database, account: Account, submit: Submit
) -> None:
    first = submit(account)
    submit(account)
    with db.session() as s:
        assert scheduler.untrack(s, account.tenant_id, first[0].item_id)
        assert scheduler.untrack(s, account.tenant_id, first[1].item_id)
        assert not scheduler.untrack(s, account.tenant_id, first[1].item_id)
        assert not scheduler.untrack(s, "someone-else", first[0].item_id)
    submit(account)  # the freed slot is usable
    # Untracked jobs still run, first in line (FIFO across requests; a request's two variations
    # share their queue time, so either may be first).
    claimed = queue.claim_next(db, "w-test")
    assert claimed is not None and claimed.item_id in {first[0].item_id, first[1].item_id}
    claimed2 = queue.claim_next(db, "w-test")
    assert claimed2 is not None and {claimed.item_id, claimed2.item_id} == {j.item_id for j in first}


def test_queued_position_and_progress_are_truthful(db: Database, account: Account, submit: Submit) -> None:
    submit(account)
    with db.session() as s:
        active = scheduler.active_jobs(s, account.tenant_id)
        positions = scheduler.queue_positions(s)
    assert [positions[j.item_id] for j in active] == [1, 2]
    assert all(j.state == "queued" and j.progress == 0 for j in active)
