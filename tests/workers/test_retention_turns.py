"""Retention in a deployment of `songforge worker` processes, on PostgreSQL: the hour's prune is taken
by exactly one process (`retention.claim_turn`), and old finished jobs lose their rows and files.

In process: racing claims on separate connections, and two DistributedWorkers' prune rounds at once.
End to end: two real `songforge worker` processes (PostgreSQL, Redis, S3 on moto) started with
SONGFORGE_RETENTION_DAYS=30 delete the old jobs once, by one of them.
"""

# ruff: noqa: F811 - `pg_url` and `redis_url` are fixtures imported from worker_fixtures
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from worker_fixtures import pg_url, redis_url  # noqa: F401 (fixtures)

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.store.blobs import BlobStore
from songforge.store.db import Database
from songforge.store.factory import open_blob_store
from songforge.store.models import Job, MaintenanceRun, Tenant
from songforge.workers import distributed, retention
from songforge_server import ROOT
from store.scale_services import S3_ENV, make_bucket, moto_s3

DAY_MS = 86_400_000
# (state, age in days): the first two are past a 30-day retention period, the rest are kept.
JOBS = [("completed", 40), ("failed", 45), ("completed", 2), ("running", 40), ("queued", 40)]
OLD = {"completed-40", "failed-45"}


def _add_history(db: Database, blobs: BlobStore, tag: str = "") -> set[str]:
    now = now_ms()
    with db.session() as s:
        if s.get(Tenant, "t1") is None:
            s.add(Tenant(id="t1", name="t", token_hash="h" * 64, signing_secret="s", created_ms=now))
            s.flush()
        for state, age in JOBS:
            item_id, at = f"{state}-{age}{tag}", now - age * DAY_MS
            s.add(
                Job(
                    item_id=item_id, tenant_id="t1", user_id="u", batch_id="b", kind="instrumental",
                    state=state, blobs={"wav": f"jobs/{item_id}/audio.wav"}, created_ms=at, queued_ms=at,
                    started_ms=None if state == "queued" else at,
                    finished_ms=at if state in ("completed", "failed") else None, updated_ms=at,
                )
            )  # fmt: skip
    for state, age in JOBS:
        blobs.put_bytes(f"jobs/{state}-{age}{tag}/audio.wav", b"x" * 64)
    return {f"{state}-{age}{tag}" for state, age in JOBS}


def _job_ids(db: Database) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(Job.item_id)))


def test_racing_processes_take_the_turn_once_per_interval(pg_url: str) -> None:
    dbs = [Database(pg_url) for _ in range(8)]  # one connection pool each, as separate processes have
    try:
        for d in dbs:  # connect first, so the race below is between UPDATEs, not connection set-ups
            with d.session() as s:
                s.get(MaintenanceRun, retention.PRUNE_TASK)
        start = threading.Barrier(len(dbs))
        won: list[str] = []

        def race(i: int) -> None:
            start.wait()
            if retention.claim_turn(dbs[i], retention.PRUNE_TASK, 3_600_000, f"p{i}"):
                won.append(f"p{i}")

        threads = [threading.Thread(target=race, args=(i,)) for i in range(len(dbs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1, won
        with dbs[0].session() as s:
            row = s.get(MaintenanceRun, retention.PRUNE_TASK)
            assert row is not None and row.holder == won[0]
            last = row.last_ms
        # Within the interval nobody gets it again; once it has passed, one process does.
        hour, task = 3_600_000, retention.PRUNE_TASK
        assert not retention.claim_turn(dbs[1], task, hour, "late", now=last + hour - 1)
        assert retention.claim_turn(dbs[2], task, hour, "next", now=last + hour)
        assert not retention.claim_turn(dbs[3], task, hour, "again", now=last + hour + 1)
        # A task without a row yet: the first insert takes it, a second process does not.
        assert retention.claim_turn(dbs[4], "other-task", 60_000, "a")
        assert not retention.claim_turn(dbs[5], "other-task", 60_000, "b")
    finally:
        for d in dbs:
            d.dispose()


def test_two_workers_prune_once_and_old_jobs_go(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    def settings(name: str) -> Settings:
        # Both workers share one blob directory here, as a deployment shares its S3 bucket.
        s = Settings(data_dir=tmp_path / name, database_url=pg_url, queue_url=redis_url, retention_days=30)
        s.data_dir.mkdir()
        return s

    shared = settings("shared")
    workers = [distributed.DistributedWorker(settings(n), n, callbacks=False) for n in ("w1", "w2")]
    for w in workers:
        w.ctx.blobs = open_blob_store(shared)
    db = Database(pg_url)
    try:
        everything = _add_history(db, open_blob_store(shared))
        start = threading.Barrier(2)
        results: dict[str, int | None] = {}

        def round_(w: distributed.DistributedWorker) -> None:
            start.wait()
            results[w.worker_id] = w.prune_round()

        threads = [threading.Thread(target=round_, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pruners = [name for name, n in results.items() if n is not None]
        assert len(pruners) == 1, results
        assert results[pruners[0]] == len(OLD)
        assert _job_ids(db) == everything - OLD
        for item_id in everything:
            assert (shared.blob_dir / "jobs" / item_id / "audio.wav").is_file() == (item_id not in OLD)
        # More old history now: neither worker prunes again within the hour.
        later = _add_history(db, open_blob_store(shared), tag="-later")
        assert [w.prune_round() for w in workers] == [None, None]
        assert later <= _job_ids(db)
    finally:
        for w in workers:
            w.stop()
        db.dispose()


@pytest.mark.slow
def test_songforge_worker_processes_prune_on_their_own(
    pg_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)  # the test's own S3 client below, and the workers' (inherited)
    with moto_s3(tmp_path) as endpoint:
        make_bucket(endpoint, "retention")
        store = ("--blob-store", "s3://retention/songs", "--s3-endpoint", endpoint)
        shared = Settings(
            data_dir=tmp_path / "test", database_url=pg_url, blob_store=store[1], s3_endpoint=endpoint
        )
        db = Database(pg_url)
        blobs = open_blob_store(shared)
        everything = _add_history(db, blobs)
        env = {**os.environ, "SONGFORGE_RETENTION_DAYS": "30"}
        procs: list[subprocess.Popen[bytes]] = []
        logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2")}
        try:
            for name, log_path in logs.items():
                where = ["--data-dir", str(tmp_path / name), "--database-url", pg_url, "--queue", redis_url]
                args = [sys.executable, "-m", "songforge", "worker", "--id", name, *where, *store]
                with open(log_path, "wb") as log:
                    procs.append(
                        subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
                    )
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and _job_ids(db) & OLD:
                assert all(p.poll() is None for p in procs), {
                    n: p.read_text()[-3000:] for n, p in logs.items()
                }
                time.sleep(0.2)
            assert _job_ids(db) == everything - OLD
            time.sleep(3)  # both workers have been up for a while: the other one had its chance too
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        texts = {name: path.read_text() for name, path in logs.items()}
        pruned = [name for name, text in texts.items() if "retention: deleted 2 finished job(s)" in text]
        assert len(pruned) == 1, {n: t[-3000:] for n, t in texts.items()}
        with db.session() as s:
            row = s.get(MaintenanceRun, retention.PRUNE_TASK)
            assert row is not None and row.holder == pruned[0]
        for item_id in everything:
            assert blobs.exists(f"jobs/{item_id}/audio.wav") == (item_id not in OLD)
        db.dispose()
