"""PostgreSQL: the same migrations as SQLite, and the cross-process invariants held by the database.

"Replicas" here are separate `Database` objects (separate engines and connection pools) used from
separate threads at once, which is what separate API or worker processes look like to PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select

from songforge.core import accounts, queue, scheduler, tenants
from songforge.dialects.tempolor_v1.params import parse_music_params
from songforge.outbox import store as outbox_store
from songforge.store.db import Database, normalize_url
from songforge.store.fast_reads import JobReader
from songforge.store.migrate import current_revision
from songforge.store.models import Base, CallbackDelivery, Job
from store.scale_services import fresh_pg_database

REPLICAS = 6


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh database migrated by the CLI, twice at once (replicas starting together)."""
    with fresh_pg_database() as url:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "songforge", "db", "upgrade", "--database-url", url],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert all("revision" in o for o in outputs)
        yield url


@pytest.fixture
def replicas(pg_url: str) -> Iterator[list[Database]]:
    dbs = [Database(pg_url) for _ in range(REPLICAS)]
    yield dbs
    for db in dbs:
        db.dispose()


def _race(fns: list[Callable[[], Any]]) -> list[Any]:
    """Runs every fn at the same moment, each in its own thread; returns results or exceptions."""
    barrier = threading.Barrier(len(fns))
    results: list[Any] = [None] * len(fns)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fns[i]()
        except Exception as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_migrations_on_postgres_match_the_models(pg_url: str) -> None:
    engine = create_engine(normalize_url(pg_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models.py and the migrations disagree on PostgreSQL: {diff}"
    assert current_revision(pg_url) is not None


def _account(db: Database, user: str, max_jobs: int):  # type: ignore[no-untyped-def]
    with db.session() as s:
        tenant_id = tenants.create_token(s, "pg").tenant_id
        return accounts.upsert_account(s, tenant_id, {"user_id": user}, max_jobs)


def _submit(db: Database, account: Any) -> list[Job]:
    with db.session() as s:
        return scheduler.submit(
            s, account=account, request=parse_music_params("instrumental", {"prompt": "x"})
        )


def test_max_jobs_holds_across_replicas(replicas: list[Database]) -> None:
    account = _account(replicas[0], "u1", 2)
    fns = [lambda db=db: _submit(db, account) for db in replicas for _ in range(2)]
    results = _race(fns)
    accepted = [r for r in results if isinstance(r, list)]
    busy = [r for r in results if isinstance(r, scheduler.AccountBusy)]
    assert len(accepted) == 2 and len(busy) == len(fns) - 2, results
    with replicas[0].session() as s:
        assert scheduler.busy_slots(s, account.tenant_id, "u1") == 2


def test_a_job_is_claimed_once_across_replicas(replicas: list[Database]) -> None:
    account = _account(replicas[0], "u2", 10)
    job = _submit(replicas[0], account)[0]
    results = _race(
        [lambda db=db, i=i: queue.claim(db, job.item_id, f"w{i}") for i, db in enumerate(replicas)]
    )
    winners = [r for r in results if isinstance(r, Job)]
    assert len(winners) == 1 and all(r is None for r in results if not isinstance(r, Job)), results
    # The loser of the race cannot finish the job; the winner can, once.
    others = [f"w{i}" for i in range(REPLICAS) if f"w{i}" != winners[0].worker_id]
    assert not queue.complete(replicas[1], job.item_id, others[0], {"title": "x"})
    assert queue.complete(replicas[1], job.item_id, winners[0].worker_id, {"title": "x"})
    assert not queue.complete(replicas[2], job.item_id, winners[0].worker_id, {"title": "y"})


def test_claim_next_hands_each_job_to_one_worker(replicas: list[Database]) -> None:
    account = _account(replicas[0], "u3", 10)
    with replicas[0].session() as s:
        s.execute(Job.__table__.update().where(Job.state == "queued").values(state="failed"))
    submitted = {j.item_id for _ in range(3) for j in _submit(replicas[0], account)}

    def drain(db: Database, wid: str) -> list[str]:
        got = []
        while (job := queue.claim_next(db, wid)) is not None:
            got.append(job.item_id)
        return got

    results = _race([lambda db=db, i=i: drain(db, f"d{i}") for i, db in enumerate(replicas)])
    claimed = [item for r in results for item in r]
    assert sorted(claimed) == sorted(submitted)


def test_callback_attempts_are_claimed_once_across_replicas(replicas: list[Database]) -> None:
    with replicas[0].session() as s:
        tenant_id = tenants.create_token(s, "cb").tenant_id
        for i in range(20):
            outbox_store.enqueue(
                s,
                tenant_id=tenant_id,
                job_id=f"job-{i}",
                item_id=f"cbitem{i}",
                url="http://127.0.0.1:9/hook",
                payload={"i": i},
                is_final=True,
            )
    results = _race([lambda db=db: outbox_store.claim_due(db, limit=20) for db in replicas])
    ids = [c.id for r in results for c in r if r and not isinstance(r, Exception)]
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(ids) == len(set(ids)) == 20
    with replicas[0].session() as s:
        attempts = s.scalar(
            select(func.sum(CallbackDelivery.attempts)).where(CallbackDelivery.tenant_id == tenant_id)
        )
    assert attempts == 20


def test_status_reads_use_the_orm_path_on_postgres(replicas: list[Database]) -> None:
    account = _account(replicas[0], "u4", 10)
    job = _submit(replicas[0], account)[0]
    reader = JobReader(replicas[1])
    got = reader.get(account.tenant_id, job.item_id)
    assert got is not None and got.item_id == job.item_id and got.request["prompt"] == "x"
    assert reader.get("another-tenant", job.item_id) is None


def test_a_pooled_connection_that_died_while_idle_is_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkouts ping only a connection that idled (`PING_AFTER_IDLE_S`, 0 here so that any pause
    counts): a backend killed meanwhile (a server restart, an idle timeout) costs no request."""
    from sqlalchemy import text

    from songforge.store import db as db_module

    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)
    db = Database(pg_url)
    try:
        with db.session() as s:
            first = s.scalar(text("select pg_backend_pid()"))
        admin = create_engine(normalize_url(pg_url))
        with admin.connect() as c:
            assert c.scalar(text("select pg_terminate_backend(:pid)"), {"pid": first}) is True
        admin.dispose()
        with db.session() as s:
            second = s.scalar(text("select pg_backend_pid()"))
        assert second is not None and second != first
    finally:
        db.dispose()
