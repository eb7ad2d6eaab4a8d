"""Engine and session factory. SQLite gets WAL and a busy timeout so API and worker
processes can share one file; PostgreSQL gets a pre-pinged pool through psycopg 3.

Commit hooks exist for the distributed queue: a job must be handed to the message broker only
after the row that describes it is committed (a worker that receives the message first would
find nothing to claim), so the broker send hangs off the session's after-commit event instead
of being sprinkled over every route that submits work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

CommitHook = Callable[[list[str]], None]
EngineCommitHook = Callable[[dict[str, str]], None]  # item id -> the engine that makes it
_NEW_JOBS = "songforge_new_queued_jobs"
_GATE = "songforge_write_gate"
_HELD = "songforge_write_gate_held"
GATE_TIMEOUT_S = 2.0  # the longest an admission waits at the gate before falling back to SQLite's lock


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the pinned driver); SQLAlchemy alone would pick
    psycopg2, which is not installed."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """A pooled connection is pinged before use only when it sat idle for `PING_AFTER_IDLE_S`.

    `pool_pre_ping` pings at every checkout: one more round trip for every transaction, and a worker's
    claim is three transactions' worth of round trips long, each a wake-up of a low-priority process
    on a busy machine. A connection used a moment ago is as alive as a ping would show; one that
    sat idle (long enough for the server to restart under it) is pinged, and a failed ping makes
    the pool replace it (`DisconnectionError`), as pre-ping did."""
    last_use = "songforge_last_use"

    def note_use(_dbapi_conn: Any, record: Any, *_args: Any) -> None:
        record.info[last_use] = time.monotonic()

    def ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(last_use, float("-inf")) <= PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure means this connection is unusable
            raise DisconnectionError("connection failed its ping after idling") from exc

    event.listen(engine, "connect", note_use)
    event.listen(engine, "checkin", note_use)
    event.listen(engine, "checkout", ping_if_idle)


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            from songforge.store.private import private_sqlite_files

            private_sqlite_files(self.url)  # tenants' secrets live here: 0600 before SQLite opens it
        self.dialect = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_recycle=1800)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            _ping_when_idle(self.engine)
        # SQLite: this process's admissions queue at this gate for the file's write lock
        # (`hold_write_gate`); every session of this database knows it through its `info`.
        info = {_GATE: threading.Lock()} if self.is_sqlite else {}
        self._factory = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._commit_hooks: list[CommitHook] = []
        self._engine_hooks: list[EngineCommitHook] = []
        if self.is_sqlite:
            # Every end of a session's outermost transaction (commit, rollback, or a close that
            # abandons it) opens the gate.
            event.listen(self._factory, "after_transaction_end", _end_of_transaction)

    def on_jobs_queued(self, hook: CommitHook) -> None:
        """Calls `hook(item_ids)` after each commit that inserted queued music jobs."""
        self._listen()
        self._commit_hooks.append(hook)

    def on_jobs_queued_by_engine(self, hook: EngineCommitHook) -> None:
        """Calls `hook({item_id: engine})` after each commit that inserted queued music jobs: the
        distributed queue sends each to its engine's queue without reading the rows again."""
        self._listen()
        self._engine_hooks.append(hook)

    def _listen(self) -> None:
        if not self._commit_hooks and not self._engine_hooks:
            event.listen(self._factory, "after_flush", _collect_new_jobs)
            event.listen(self._factory, "after_commit", self._run_hooks)
            event.listen(self._factory, "after_rollback", _forget_new_jobs)

    def _run_hooks(self, session: Session) -> None:
        new: dict[str, str] | None = session.info.pop(_NEW_JOBS, None)
        if not new:
            return
        for hook in self._commit_hooks:
            hook(list(new))
        for engine_hook in self._engine_hooks:
            engine_hook(dict(new))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any exception."""
        with self._factory() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise
            finally:
                _open_gate(s)

    def read(self, statement: Any) -> Any:
        """The first row of one read-only `statement`, outside any transaction: a lone read needs
        no BEGIN and COMMIT, which on PostgreSQL are two of its three round trips."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return conn.execute(statement).first()

    def dispose(self) -> None:
        self.engine.dispose()


def hold_write_gate(session: Session) -> None:
    """SQLite: waits for this process's other write transactions that called this to end, then
    holds the gate until this one ends (commit or rollback). SQLite has one writer per file, and a
    connection that finds the lock taken polls for it, sleeping 1, 2, 5, 10 ... 100 ms between tries:
    two requests of one server admitting at once used to wait out those sleeps, far longer than the
    few milliseconds the holder needed. Through the gate the next one starts when the holder ends.
    A no-op on a session that holds it already, or on PostgreSQL (row locks, which wake waiters)."""
    gate = session.info.get(_GATE)
    if gate is not None and not session.info.get(_HELD) and gate.acquire(timeout=GATE_TIMEOUT_S):
        session.info[_HELD] = True
    # Not acquired in time (a holder stuck, or a second session in the holder's own thread): this
    # transaction goes on without the gate and waits on SQLite's own lock, as it did before.


def _end_of_transaction(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        _open_gate(session)


def _open_gate(session: Session, *_args: Any) -> None:
    if session.info.pop(_HELD, False):
        session.info[_GATE].release()


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows an UPDATE or DELETE matched: the conditional claims decide who won by it. `Session.execute`
    is typed to return a plain `Result`, which has no `rowcount`; for DML it is a `CursorResult`."""
    return cast("CursorResult[*tuple[Any, ...]]", result).rowcount


def _collect_new_jobs(session: Session, _flush_context: Any) -> None:
    from songforge.store.models import Job

    # "queued" is core.states.JobState.QUEUED, spelled out: store imports no core; "embedded" is the
    # column's default, for a row inserted without an engine.
    new = {
        o.item_id: o.engine or "embedded" for o in session.new if isinstance(o, Job) and o.state == "queued"
    }
    if new:
        session.info.setdefault(_NEW_JOBS, {}).update(new)


def _forget_new_jobs(session: Session) -> None:
    session.info.pop(_NEW_JOBS, None)
