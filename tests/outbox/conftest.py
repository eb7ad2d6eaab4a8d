"""The outbox's own table in a temp SQLite file, with one tenant whose secret signs callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from outbox_helpers import SECRET, TENANT_ID

from songforge.clock import now_ms
from songforge.store.db import Database
from songforge.store.models import Base, Tenant


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'cb.db'}")
    Base.metadata.create_all(database.engine)
    with database.session() as s:
        s.add(Tenant(id=TENANT_ID, name="t", token_hash="h" * 64, signing_secret=SECRET, created_ms=now_ms()))
    yield database
    database.dispose()
