"""A throwaway PostgreSQL database for a benchmark run: created on 127.0.0.1:5432, dropped afterwards.

Shared by the benchmarks that measure on PostgreSQL (`queue_latency.py`, `history.py`, `claim_cost.py`);
they run as scripts, so this module is imported from their own directory.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def throwaway_pg(prefix: str) -> Iterator[str]:
    """The URL of a new, empty database named `prefix` plus a random suffix; dropped (with any
    connections still open to it) when the block ends."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
