"""SQLite admissions of one process queue at `Database`'s write gate (`store.db.hold_write_gate`):
the next starts when the holder's transaction ends, however it ends, instead of polling SQLite's
lock through the busy handler's sleeps."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from songforge.store.db import Database, hold_write_gate
from songforge.store.migrate import upgrade_database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'songforge.db'}"
    upgrade_database(url)
    return Database(url)


def test_the_next_writer_enters_when_the_holder_ends(db: Database) -> None:
    order: list[str] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait(10)
        with db.session() as s:
            hold_write_gate(s)
            order.append("second in")

    t = threading.Thread(target=second)
    t.start()
    with db.session() as s:
        hold_write_gate(s)
        hold_write_gate(s)  # held already: a no-op, not a deadlock
        holding.set()
        time.sleep(0.2)  # the second is waiting at the gate meanwhile
        order.append("first commits")
    t.join(10)
    assert order == ["first commits", "second in"]


def test_a_rolled_back_or_failed_transaction_opens_the_gate(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        hold_write_gate(s)
        raise RuntimeError("admission refused")
    with db.session() as s:
        hold_write_gate(s)
        s.rollback()  # the route's 429 path rolls back inside the session
        hold_write_gate(s)  # a new transaction of the same session takes it again
    done = threading.Event()

    def other() -> None:
        with db.session() as s:
            hold_write_gate(s)
        done.set()

    threading.Thread(target=other).start()
    assert done.wait(10)


def test_postgres_style_databases_have_no_gate(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    session = Database(url)._factory()  # no connection is made
    hold_write_gate(session)  # nothing to hold: returns at once
    assert not session.info


def test_a_session_closed_mid_transaction_opens_the_gate(db: Database) -> None:
    s = db._factory()
    s.connection()  # a transaction begun
    hold_write_gate(s)
    s.close()  # abandoned: neither committed nor rolled back by the caller
    with db.session() as other:
        started = time.monotonic()
        hold_write_gate(other)
        assert time.monotonic() - started < 0.5


def test_a_second_session_of_the_holders_thread_waits_only_the_timeout(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import songforge.store.db as store_db

    monkeypatch.setattr(store_db, "GATE_TIMEOUT_S", 0.3)
    with db.session() as first:
        hold_write_gate(first)
        with db.session() as second:
            started = time.monotonic()
            hold_write_gate(second)  # would deadlock without the timeout
            assert 0.25 < time.monotonic() - started < 5
            assert not second.info.get("songforge_write_gate_held")
