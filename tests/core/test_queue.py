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


def test_nothing_is_claimed_while_the_unless_condition_holds(
    db: Database, account: Account, submit: Submit
) -> None:
    """A local worker's uploads go first: its music claim carries `UPLOADS_WAITING`, and while a
    stems split is queued the music job stays queued; once the split is taken, the claim proceeds."""
    from songforge.store.models import StemsTask
    from songforge.workers.uploads_dispatch import UPLOADS_WAITING

    jobs = submit(account)
    t = now_ms()
    with db.session() as s:
        s.add(
            StemsTask(
                item_id="stems1", tenant_id=account.tenant_id, user_id="u1", state="queued",
                source_key="k", created_ms=t, updated_ms=t,
            )
        )  # fmt: skip
    assert queue.claim_next(db, "w1", unless=UPLOADS_WAITING) is None
    with db.session() as s:
        assert {s.get(Job, j.item_id).state for j in jobs} == {"queued"}
        s.execute(update(StemsTask).where(StemsTask.item_id == "stems1").values(state="running"))
    claimed = queue.claim_next(db, "w1", unless=UPLOADS_WAITING)
    assert claimed is not None and claimed.item_id in {j.item_id for j in jobs}
    # Without the condition (a distributed worker has no uploads to do) the claim ignores uploads.
    with db.session() as s:
        s.execute(update(StemsTask).where(StemsTask.item_id == "stems1").values(state="queued"))
    other = queue.claim_next(db, "w2")
    assert other is not None and other.item_id != claimed.item_id


def test_without_update_returning_the_claim_reads_then_updates(
    db: Database, account: Account, submit: Submit
) -> None:
    """SQLite before 3.35 has no UPDATE ... RETURNING: the claim falls back to the turn's read and
    a conditional UPDATE, with the same order, exclusivity and `unless`."""
    from sqlalchemy import false, true

    db.engine.dialect.update_returning = False  # what SQLAlchemy reports for an old SQLite
    a = submit(account)
    b = submit(account)
    assert queue.claim_next(db, "w0", unless=true()) is None
    order = [queue.claim_next(db, f"w{i}", unless=false()) for i in range(5)]
    got = [j.item_id for j in order if j is not None]
    assert len(got) == 4 and len(set(got)) == 4
    assert set(got[:2]) == {j.item_id for j in a} and set(got[2:]) == {j.item_id for j in b}
    assert order[4] is None


def test_a_job_never_starts_before_it_was_accepted(db: Database, account: Account, submit: Submit) -> None:
    """A claimant's clock is read before its UPDATE, which may wait for the admission's commit: the
    recorded start is then the acceptance, not a moment before it (both claim paths)."""
    first, second = submit(account)
    early = first.queued_ms - 5
    claimed = queue.claim_next(db, "w1", now=early)
    assert claimed is not None and claimed.started_ms == claimed.queued_ms
    other = queue.claim(
        db, second.item_id if claimed.item_id == first.item_id else first.item_id, "w2", now=early
    )
    assert other is not None and other.started_ms == other.queued_ms
    late = queue.claim_next(db, "w3", now=first.queued_ms + 7)
    assert late is None
