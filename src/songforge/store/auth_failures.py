"""Failed sign-ins per client address, counted in the database that every API process shares.

Why here and not in each process: a client's attempts land on whichever process accepts its
connection, so per-process counts let an address fail the limit once per process. One upsert per
counted failure (a failure already cost a lookup) keeps the count exact across processes and API
nodes; the check before each lookup stays in memory (`songforge.http.auth_guard`), which learns the
shared count at the address's next failure it sees.

A window starts at an address's first failure and lasts `window_ms`; the failure that starts a new
window also deletes every row whose window has ended, so the table holds only the addresses that
failed within the last window.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite

from songforge.clock import now_ms
from songforge.store.db import Database
from songforge.store.models import AuthFailure

__all__ = ["ADDRESS_MAX", "count_failure"]

ADDRESS_MAX = 64  # the column's width; a longer "address" (a proxy's header) is cut to it


def count_failure(db: Database, address: str, window_ms: int, *, now: int | None = None) -> tuple[int, int]:
    """Counts one failed sign-in from `address`; returns (its window's start in ms, failures in it)."""
    t = now if now is not None else now_ms()
    expired = AuthFailure.window_ms <= t - window_ms
    with db.session() as s:
        insert: Any = (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert
        stmt = insert(AuthFailure).values(address=address[:ADDRESS_MAX], window_ms=t, failures=1)
        row = s.execute(
            stmt.on_conflict_do_update(
                index_elements=[AuthFailure.address],
                set_={
                    "window_ms": case((expired, t), else_=AuthFailure.window_ms),
                    "failures": case((expired, 1), else_=AuthFailure.failures + 1),
                },
            ).returning(AuthFailure.window_ms, AuthFailure.failures)
        ).one()
        start, failures = int(row[0]), int(row[1])
        if failures == 1:
            s.execute(delete(AuthFailure).where(expired))
    return start, failures
