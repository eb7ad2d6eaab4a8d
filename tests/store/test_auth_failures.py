"""Failed sign-ins counted once for every API process (`songforge.store.auth_failures`), on SQLite
and PostgreSQL: one address's count is shared by separate `Database` objects (what separate
processes look like to the database), windows restart, ended windows are deleted, and two guards
over one database block an address together (`songforge.http.auth_guard`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from songforge.http.auth_guard import AuthGuard, database_counter
from songforge.store.auth_failures import ADDRESS_MAX, count_failure
from songforge.store.db import Database
from songforge.store.migrate import upgrade_database
from songforge.store.models import AuthFailure
from store.scale_services import fresh_pg_database

WINDOW = 60_000


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'songforge.db'}"
        upgrade_database(url)
        yield url
        return
    with fresh_pg_database() as pg:
        upgrade_database(pg)
        yield pg


def _rows(db: Database) -> dict[str, tuple[int, int]]:
    with db.session() as s:
        return {r.address: (r.window_ms, r.failures) for r in s.scalars(select(AuthFailure))}


def test_one_count_per_address_across_processes_and_windows(url: str) -> None:
    a, b = Database(url), Database(url)
    try:
        assert count_failure(a, "10.0.0.1", WINDOW, now=1_000) == (1_000, 1)
        assert count_failure(b, "10.0.0.1", WINDOW, now=2_000) == (1_000, 2)
        assert count_failure(a, "10.0.0.1", WINDOW, now=60_999) == (1_000, 3)
        assert count_failure(b, "10.0.0.2", WINDOW, now=61_000) == (61_000, 1)  # another address
        # The window has ended: the count starts again, and the first failure of a window deletes
        # every row whose window ended (none yet: 10.0.0.2's began at 61,000).
        assert count_failure(b, "10.0.0.1", WINDOW, now=61_000) == (61_000, 1)
        assert count_failure(a, "10.0.0.3", WINDOW, now=121_000) == (121_000, 1)
        assert _rows(a) == {"10.0.0.3": (121_000, 1)}
        long = "x" * (ADDRESS_MAX + 10)  # a proxy's header can say anything
        assert count_failure(a, long, WINDOW, now=121_500) == (121_500, 1)
        assert long[:ADDRESS_MAX] in _rows(b)
    finally:
        a.dispose()
        b.dispose()


def test_failures_counted_at_once_from_many_threads_are_all_counted(url: str) -> None:
    dbs = [Database(url) for _ in range(4)]
    start = threading.Barrier(len(dbs))

    def fail(db: Database) -> None:
        start.wait(10)
        for _ in range(10):
            count_failure(db, "10.9.9.9", WINDOW)

    threads = [threading.Thread(target=fail, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        with dbs[0].session() as s:
            assert s.scalar(select(func.sum(AuthFailure.failures))) == 40
    finally:
        for db in dbs:
            db.dispose()


def test_two_guards_over_one_database_block_an_address_together(url: str) -> None:
    a, b = Database(url), Database(url)
    try:
        first = AuthGuard(max_failures=5, shared=database_counter(a, 60.0))
        second = AuthGuard(max_failures=5, shared=database_counter(b, 60.0))
        for _ in range(5):
            assert first.retry_after("10.0.0.7", "guess") is None
            first.failed("10.0.0.7")
        assert first.retry_after("10.0.0.7", "guess") is not None
        # The second process has seen nothing yet, so it looks up once; that failure tells it the count.
        assert second.retry_after("10.0.0.7", "guess") is None
        second.failed("10.0.0.7")
        wait = second.retry_after("10.0.0.7", "guess")
        assert wait is not None and 55 <= wait <= 60
        assert second.retry_after("10.0.0.8", "guess") is None  # only that address
    finally:
        a.dispose()
        b.dispose()


def test_a_database_that_cannot_count_leaves_the_count_to_the_process() -> None:
    def broken(_address: str) -> tuple[float, int]:
        raise RuntimeError("database unavailable")

    guard = AuthGuard(max_failures=2, shared=broken)
    guard.failed("10.0.0.9")
    assert guard.retry_after("10.0.0.9", "guess") is None
    guard.failed("10.0.0.9")
    assert guard.retry_after("10.0.0.9", "guess") is not None
