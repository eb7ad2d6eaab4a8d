"""The Redis (Dramatiq) job queue against a real Redis: dispatch after commit, idempotent
deliveries, lease/timeout/lost-message maintenance, and a real worker running a real job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.core import accounts, queue, scheduler, tenants
from songforge.dialects.tempolor_v1.params import parse_music_params
from songforge.store.db import Database
from songforge.store.migrate import upgrade_database
from songforge.store.models import Job
from songforge.workers import distributed
from songforge.workers.context import WorkerContext
from store.scale_services import fresh_redis_url


@pytest.fixture
def redis_url() -> Iterator[str]:
    with fresh_redis_url() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    s = Settings(data_dir=tmp_path / "data", queue_url=redis_url)
    s.data_dir.mkdir(parents=True)
    upgrade_database(s.db_url)
    return s


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.db_url)
    yield database
    database.dispose()


@pytest.fixture
def account(db: Database) -> Any:
    with db.session() as s:
        tenant_id = tenants.create_token(s, "t").tenant_id
        return accounts.upsert_account(s, tenant_id, {"user_id": "u1"}, 10)


def _submit(db: Database, account: Any) -> list[Job]:
    with db.session() as s:
        return scheduler.submit(
            s, account=account, request=parse_music_params("instrumental", {"prompt": "x"})
        )


def test_jobs_are_sent_after_commit_and_never_for_a_rollback(
    db: Database, account: Any, redis_url: str
) -> None:
    dispatcher = distributed.dispatch_on_commit(db, redis_url)
    jobs = _submit(db, account)
    assert dispatcher.waiting() == 2
    with pytest.raises(RuntimeError), db.session() as s:
        scheduler.submit(s, account=account, request=parse_music_params("instrumental", {"prompt": "y"}))
        raise RuntimeError("the request failed after the insert")
    assert dispatcher.waiting() == 2
    with db.session() as s:
        assert s.query(Job).count() == 2  # the rolled-back request left nothing behind either
    assert {j.item_id for j in jobs} == {j.item_id for j in _queued_ids(db)}
    dispatcher.close()


def _queued_ids(db: Database) -> list[Job]:
    with db.session() as s:
        return list(s.query(Job).filter(Job.state == "queued"))


def test_a_duplicate_delivery_does_nothing(settings: Settings, db: Database, account: Any) -> None:
    worker = distributed.DistributedWorker(settings, "dup", callbacks=False)
    try:
        job = _submit(db, account)[0]
        assert queue.claim(db, job.item_id, "first") is not None
        assert queue.complete(db, job.item_id, "first", {"title": "done once"})
        worker._run_job(job.item_id)  # a second delivery of the same id
        worker._run_job("no-such-job")
        with db.session() as s:
            row = s.get(Job, job.item_id)
            assert row is not None
            assert (row.state, row.worker_id, row.attempts, row.title) == (
                "completed",
                "first",
                1,
                "done once",
            )
    finally:
        worker.stop()


def test_maintenance_requeues_resends_times_out_and_sweeps(
    settings: Settings, db: Database, account: Any
) -> None:
    dispatcher = distributed.Dispatcher(settings.queue_url or "")
    ctx = WorkerContext.from_settings(settings, "maint")
    try:
        dead, hung, lost = (_submit(db, account)[0] for _ in range(3))
        queue.claim(db, dead.item_id, "dead-worker")
        queue.claim(db, hung.item_id, "hung-worker")
        t = now_ms()
        with db.session() as s:
            s.execute(update(Job).where(Job.item_id == dead.item_id).values(lease_until_ms=t - 1))
            s.execute(
                update(Job)
                .where(Job.item_id == hung.item_id)
                .values(started_ms=t - settings.job_timeout_seconds * 1000 - 1, lease_until_ms=t + 60_000)
            )
            # A job whose message was lost: queued in the database long ago, nothing in Redis.
            s.execute(
                update(Job)
                .where(Job.item_id == lost.item_id)
                .values(queued_ms=t - 60_000, updated_ms=t - 60_000)
            )
        counts = distributed.maintenance_round(ctx, dispatcher)
        assert counts["requeued"] == 1 and counts["timed_out"] == 1
        assert counts["resent"] == 0  # the requeued job's message is waiting, so nothing looks lost yet
        assert dispatcher.waiting() == 1
        with db.session() as s:
            assert s.get(Job, dead.item_id).state == "queued"  # type: ignore[union-attr]
            timed_out = s.get(Job, hung.item_id)
            assert timed_out is not None and timed_out.state == "failed"
            assert timed_out.error == f"Generation timed out after {settings.job_timeout_seconds} s"
        dispatcher.broker.flush_all()
        time.sleep(distributed.MAINTENANCE_SECONDS)  # the sweep lock of the last round lapses
        counts = distributed.maintenance_round(ctx, dispatcher)
        assert counts["resent"] == 1 and dispatcher.waiting() == 1  # the lost one (dead's is fresh)
        assert distributed.maintenance_round(ctx, dispatcher)["resent"] == 0  # one sweep per round
    finally:
        dispatcher.close()
        ctx.db.dispose()


@pytest.mark.slow
def test_a_worker_runs_a_dispatched_job_and_hands_back_on_stop(
    settings: Settings, db: Database, account: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGFORGE_MAX_SECONDS_OVERRIDE", "4")
    dispatcher = distributed.dispatch_on_commit(db, settings.queue_url or "")
    worker = distributed.DistributedWorker(settings, "w-test", callbacks=False)
    worker.start()
    try:
        jobs = _submit(db, account)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with db.session() as s:
                states = {s.get(Job, j.item_id).state for j in jobs}  # type: ignore[union-attr]
            if states <= {"completed", "failed"}:
                break
            time.sleep(0.2)
        with db.session() as s:
            errors = [s.get(Job, j.item_id).error for j in jobs]  # type: ignore[union-attr]
        assert states == {"completed"}, errors
        with db.session() as s:
            for j in jobs:
                row = s.get(Job, j.item_id)
                assert row is not None and row.worker_id == "w-test" and row.attempts == 1
                assert (settings.blob_dir / row.blobs["wav"]).is_file()
        # A graceful stop mid-job puts the job back, without using up an attempt.
        more = _submit(db, account)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.current is None:
            time.sleep(0.05)
        assert worker.current is not None
    finally:
        worker.stop()
        dispatcher.close()
    with db.session() as s:
        rows = [s.get(Job, j.item_id) for j in more]
        held = [r for r in rows if r is not None and r.state == "queued" and r.attempts == 0]
        assert held, [(r.state, r.attempts) for r in rows if r is not None]


def test_a_delivery_claims_fairly_across_tenants_and_keeps_every_message(
    settings: Settings, db: Database, account: Any
) -> None:
    """A message of the backlogged tenant runs the other tenant's first job when it is that
    tenant's turn, and the message's own job is sent again rather than stranded."""
    worker = distributed.DistributedWorker(settings, "fair", callbacks=False)
    try:
        backlog = [j for _ in range(3) for j in _submit(db, account)]
        with db.session() as s:
            other_tenant = tenants.create_token(s, "other").tenant_id
            other = accounts.upsert_account(s, other_tenant, {"user_id": "u"}, 10)
        theirs = _submit(db, other)
        # a batch's variations share their queue time: the queue orders them by id
        head, nxt = sorted(backlog[:2], key=lambda j: j.item_id)
        first = worker._claim(head.item_id)
        assert first is not None and first.item_id == head.item_id
        assert worker.dispatcher.waiting() == 0
        second = worker._claim(nxt.item_id)  # the backlog's next message: the other tenant's turn
        assert second is not None and second.tenant_id == other.tenant_id
        assert second.item_id in {j.item_id for j in theirs}
        assert worker.dispatcher.waiting() == 1  # nxt was sent again
        assert worker._claim(second.item_id) is None  # its own message: a duplicate now
    finally:
        worker.stop()


def test_a_killed_workers_job_is_requeued_without_waiting_for_its_lease(
    settings: Settings, db: Database, account: Any
) -> None:
    """Its named queue connection closes with the process: the next look after `ABSENT_SECONDS`
    requeues its job, lease or not; a live worker's job and an unannounced holder's are left alone."""
    import signal
    import subprocess
    import sys

    from songforge.workers.presence import ABSENT_SECONDS, DeathWatch, Presence

    url = settings.queue_url or ""
    script = (
        "import sys, time; from songforge.workers.presence import Presence\n"
        "Presence(sys.argv[1], 'doomed').start(); print('up', flush=True); time.sleep(120)"
    )
    child = subprocess.Popen([sys.executable, "-c", script, url], stdout=subprocess.PIPE)
    alive = Presence(url, "alive")
    alive.start()
    t = [0.0]
    watch = DeathWatch(url, clock=lambda: t[0])
    dispatcher = distributed.Dispatcher(url)
    ctx = WorkerContext.from_settings(settings, "maint")
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"up"
        doomed, kept, legacy = (_submit(db, account)[0] for _ in range(3))
        for job, holder in ((doomed, "doomed"), (kept, "alive"), (legacy, "legacy")):
            assert queue.claim(db, job.item_id, holder) is not None
        assert distributed.maintenance_round(ctx, dispatcher, watch)["dead_workers"] == 0  # all connected
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert distributed.maintenance_round(ctx, dispatcher, watch)["dead_workers"] == 0  # absent once
        t[0] += ABSENT_SECONDS
        counts = distributed.maintenance_round(ctx, dispatcher, watch)
        assert counts["dead_workers"] == 1 and counts["requeued"] == 1, counts
        assert dispatcher.waiting() == 1  # sent out again
        with db.session() as s:
            states = {j.item_id: s.get(Job, j.item_id).state for j in (doomed, kept, legacy)}  # type: ignore[union-attr]
        assert states == {doomed.item_id: "queued", kept.item_id: "running", legacy.item_id: "running"}
        t[0] += ABSENT_SECONDS
        assert distributed.maintenance_round(ctx, dispatcher, watch)["dead_workers"] == 0  # forgotten
        # A graceful leave is not a death.
        alive.leave()
        t[0] += 2 * ABSENT_SECONDS
        assert distributed.maintenance_round(ctx, dispatcher, watch)["dead_workers"] == 0
    finally:
        child.kill()
        alive.leave()
        watch.close()
        dispatcher.close()
        ctx.db.dispose()


def test_a_watch_that_cannot_reach_the_queue_concludes_nothing() -> None:
    """An unreachable broker is not a room full of dead workers, and the round goes on."""
    from songforge.workers.presence import DeathWatch
    from store.scale_services import free_port

    watch = DeathWatch(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert watch.dead() == [] and watch.enabled
    finally:
        watch.close()
