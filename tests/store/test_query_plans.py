"""The everyday queries read the active set or one page through an index, never the history.

Each test runs the real code path (admission's count, the scheduler views, a list page, a status
read, a /metrics scrape) against a migrated database holding a history of finished jobs and a few
active ones, records the SELECTs it sends, and asks the database how it would run each one that
reads `jobs` (SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN`): none may scan the table. Both
databases: PostgreSQL as tests/store/test_postgres.py gets it. The counters /metrics reads are kept
by triggers, so the last tests check them against a recount after every kind of change.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, update

from songforge.core import accounts, queue, scheduler, tenants
from songforge.dialects.tempolor_v1.params import parse_music_params
from songforge.dialects.tempolor_v1.routes.music import _list_music
from songforge.dialects.tempolor_v1.views import available_view, executing_view
from songforge.http import metrics
from songforge.store.db import Database
from songforge.store.fast_reads import JobReader
from songforge.store.migrate import upgrade_database
from songforge.store.models import Job, JobCount, JobObservation, Tenant
from store.scale_services import fresh_pg_database

HISTORY = 20_000
USER = "gateway"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'songforge.db'}"
        upgrade_database(url)
        database = Database(url)
        yield database
        database.dispose()
        return
    with fresh_pg_database() as url:
        upgrade_database(url)
        database = Database(url)
        yield database
        database.dispose()


def _history(tenant_id: str, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        t = 1_700_000_000_000 + i * 1000
        rows.append(
            dict(
                item_id=secrets.token_hex(8)[:15], tenant_id=tenant_id, user_id=USER,
                batch_id=secrets.token_hex(8)[:15], kind="song" if i % 2 else "instrumental",
                engine="embedded", state="failed" if i % 10 == 0 else "completed", progress=100,
                stage="completed", request={}, seed=i, title="", material={}, lyrics=None, extra={},
                blobs={}, max_jobs=10, tracked=True, attempts=1, created_ms=t, queued_ms=t,
                started_ms=t + 10, finished_ms=t + 30_000, updated_ms=t + 30_000,
            )
        )  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def seeded(db: Database) -> tuple[Tenant, list[str]]:
    """A tenant with a long history in one account and three requests active (one running)."""
    with db.session() as s:
        tenant_id = tenants.create_token(s, "plans").tenant_id
        account = accounts.upsert_account(s, tenant_id, {"user_id": USER}, 10)
        accounts.upsert_account(s, tenant_id, {"user_id": "other"}, 10)
    rows = _history(tenant_id, HISTORY)
    with db.engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(Job.__table__), rows[i : i + 5000])
    active: list[str] = []
    for _ in range(3):
        with db.session() as s:
            jobs = scheduler.submit(
                s, account=account, request=parse_music_params("instrumental", {"prompt": "x"})
            )
            active += [j.item_id for j in jobs]
    assert queue.claim_next(db, "w-plans") is not None
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    with db.session() as s:
        tenant = s.get(Tenant, tenant_id)
        assert tenant is not None
        s.expunge(tenant)
    return tenant, active


def _statements(
    db: Database, fn: Callable[[], Any], verbs: tuple[str, ...] = ("SELECT",)
) -> list[tuple[str, Any]]:
    """The statements of `verbs` reading `jobs` that `fn` sends, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(verbs) and re.search(r"\b(FROM|UPDATE) jobs\b", statement):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert seen, "the call read nothing from jobs"
    return seen


def _plan(db: Database, statement: str, parameters: Any) -> list[str]:
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            return [str(r[-1]) for r in rows]
        return [str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters).fetchall()]


def _assert_indexed(
    db: Database, fn: Callable[[], Any], index: str | None = None, verbs: tuple[str, ...] = ("SELECT",)
) -> None:
    """No statement of `fn` scans `jobs`; with `index`, every one uses that index."""
    for statement, parameters in _statements(db, fn, verbs):
        plan = _plan(db, statement, parameters)
        text = "\n".join(plan)
        if db.is_sqlite:
            # A scan of ix_jobs_active reads the active set only: it holds no other rows.
            scans = [line for line in plan if re.match(r"SCAN jobs\b", line)]
            assert all("USING INDEX ix_jobs_active" in line for line in scans), (statement, text)
            used = "SEARCH jobs USING (COVERING )?(INDEX|INTEGER PRIMARY KEY)"
            used += "|SCAN jobs USING INDEX ix_jobs_active"
            assert re.search(used, text), (statement, text)
        else:
            assert "Seq Scan on jobs" not in text, (statement, text)
            assert re.search(r"Index (Only )?Scan( Backward)? using \w+ on jobs", text), (statement, text)
        if index is not None:
            assert index in text, (statement, text)


def test_admission_counts_only_the_active_set(db: Database, seeded: tuple[Tenant, list[str]]) -> None:
    tenant, _ = seeded

    def count() -> None:
        with db.session() as s:
            assert scheduler.busy_slots(s, tenant.id, USER) == 3

    _assert_indexed(db, count, "ix_jobs_active")

    def refused() -> None:
        with db.session() as s:
            account = accounts.get_account(s, tenant.id, USER)
            request = parse_music_params("instrumental", {"prompt": "x", "maxJobs": 3})
            with pytest.raises(scheduler.AccountBusy):
                scheduler.submit(s, account=account, request=request)
            s.rollback()

    _assert_indexed(db, refused)


def test_whose_turn_it_is_reads_only_the_active_set(db: Database, seeded: tuple[Tenant, list[str]]) -> None:
    """A worker's claim looks for the next job in one statement (heads of line, running counts,
    `served_ms`), over the queued and running rows only, however long the history."""
    _, active = seeded

    def peek() -> None:
        with db.session() as s:
            turn = queue._next_in_turn(s)
            assert turn is not None and turn in active
            s.rollback()

    statements = _statements(db, peek)
    assert len(statements) == 1, statements
    _assert_indexed(db, peek)


def test_scheduler_views_read_only_active_jobs(db: Database, seeded: tuple[Tenant, list[str]]) -> None:
    tenant, active = seeded

    def executing() -> None:
        with db.session() as s:
            assert len(executing_view(s, tenant.id)) == len(active)

    def available() -> None:
        with db.session() as s:
            view = available_view(s, tenant.id)
            assert {a["user_id"]: a["executing"] for a in view["available"]} == {USER: 3, "other": 0}

    _assert_indexed(db, executing)
    _assert_indexed(db, available)


def test_list_pages_follow_the_cursor_index(db: Database, seeded: tuple[Tenant, list[str]]) -> None:
    tenant, _ = seeded
    pages: list[dict[str, Any]] = []

    def first() -> None:
        pages.append(_list_music(tenant, db, USER, "instrumental", None))

    _assert_indexed(db, first, "ix_jobs_list")
    assert pages[0]["hasNext"] and len(pages[0]["records"]) == 20
    _assert_indexed(
        db, lambda: _list_music(tenant, db, USER, "instrumental", pages[0]["cursor"]), "ix_jobs_list"
    )


def test_status_read_is_a_key_lookup(db: Database, seeded: tuple[Tenant, list[str]]) -> None:
    tenant, active = seeded
    if db.is_sqlite:  # the fast path reads through its own sqlite3 connection
        reader = JobReader(db)
        plan = (
            reader._conn()
            .execute(
                "EXPLAIN QUERY PLAN " + "SELECT item_id FROM jobs WHERE item_id = ? AND tenant_id = ?",
                (active[0], tenant.id),
            )
            .fetchall()
        )
        assert any("sqlite_autoindex_jobs_1" in str(r[-1]) for r in plan), plan
        return
    _assert_indexed(db, lambda: JobReader(db).get(tenant.id, active[0]), "jobs_pkey")


def test_metrics_scrape_reads_no_history(db: Database, seeded: tuple[Tenant, list[str]]) -> None:
    body: list[bytes] = []
    _assert_indexed(db, lambda: body.append(metrics.render(db)))
    text = body[0].decode()
    assert f'songforge_jobs{{engine="embedded",state="completed"}} {float(HISTORY - HISTORY // 10)}' in text
    assert 'songforge_jobs{engine="embedded",state="queued"} 5.0' in text
    assert 'songforge_jobs{engine="embedded",state="running"} 1.0' in text
    assert f'songforge_generation_seconds_count{{engine="embedded"}} {float(HISTORY)}' in text
    assert 'songforge_generation_seconds_bucket{engine="embedded",le="20.0"} 0.0' in text
    assert f'songforge_generation_seconds_bucket{{engine="embedded",le="30.0"}} {float(HISTORY)}' in text
    assert f'songforge_queue_wait_seconds_count{{engine="embedded"}} {float(HISTORY + 1)}' in text


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'c.db'}"
        else:
            url = stack.enter_context(fresh_pg_database())
        upgrade_database(url)
        database = Database(url)
        stack.callback(database.dispose)
        yield database


def test_counters_follow_every_state_change(fresh_db: Database) -> None:
    """Admission, claim, completion, failure, requeue and deletion, on a fresh database."""
    db = fresh_db
    with db.session() as s:
        tenant_id = tenants.create_token(s, "c").tenant_id
        account = accounts.upsert_account(s, tenant_id, {"user_id": "u"}, 10)
    for _ in range(3):
        with db.session() as s:
            scheduler.submit(s, account=account, request=parse_music_params("instrumental", {"prompt": "x"}))
    jobs = [queue.claim_next(db, f"w{i}") for i in range(4)]
    assert all(jobs)
    assert queue.complete(db, jobs[0].item_id, "w0", {"title": "a"})
    assert queue.fail(db, jobs[1].item_id, "w1", "boom")
    assert queue.fail(db, jobs[2].item_id, None, "gone")
    queue.hand_back(db, Job.worker_id == "w3")
    with db.session() as s:
        s.delete(s.get(Job, jobs[1].item_id))
    with db.session() as s:
        counts = {st: int(n) for st, n in s.execute(select(JobCount.state, JobCount.n)) if n}
        gen = s.scalar(select(func.sum(JobObservation.n)).where(JobObservation.metric == "generation"))
        wait = s.scalar(select(func.sum(JobObservation.n)).where(JobObservation.metric == "queue_wait"))
        finished = Job.state.in_(["completed", "failed"])
        live = dict(s.execute(select(Job.state, func.count()).where(finished).group_by(Job.state)).all())
    assert counts == {"completed": 1, "failed": 1} == {k: int(v) for k, v in live.items()}
    assert gen == 3  # one per job that finished after starting; deleting a job keeps its observation
    assert wait == 4  # one per claim
    text = metrics.render(db).decode()
    assert 'songforge_jobs{engine="embedded",state="failed"} 1.0' in text
    assert 'songforge_jobs{engine="embedded",state="queued"} 3.0' in text
    assert 'songforge_queue_wait_seconds_count{engine="embedded"} 4.0' in text


def test_a_claim_is_one_indexed_update_over_the_active_set(
    db: Database, seeded: tuple[Tenant, list[str]]
) -> None:
    """The claim chooses and takes the job in one UPDATE (the turn's read is its subquery), and
    records the tenant's turn in another; neither scans the history. The job goes back to the
    queue afterwards; the claims stay counted in the queue-wait histogram, so this test comes
    after the one that checks those counters."""
    _, active = seeded
    claimed: list[Job] = []

    def claim() -> None:
        job = queue.claim_next(db, "w-plans-claim")
        assert job is not None and job.item_id in active
        claimed.append(job)

    def hand_back() -> None:
        with db.session() as s:
            s.execute(
                update(Job)
                .where(Job.item_id == claimed[-1].item_id)
                .values(state="queued", worker_id=None, lease_until_ms=None, started_ms=None,
                        attempts=Job.attempts - 1, stage="queued")
            )  # fmt: skip

    verbs = ("SELECT", "UPDATE")
    statements = _statements(db, claim, verbs)
    hand_back()
    if db.dialect != "sqlite" or db.engine.dialect.update_returning:
        assert [st.split()[0].upper() for st, _ in statements] == ["UPDATE", "UPDATE"], statements
    _assert_indexed(db, claim, verbs=verbs)
    hand_back()
