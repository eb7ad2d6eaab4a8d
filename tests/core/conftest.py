"""A migrated SQLite database in a temp dir, for tests of the domain modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from songforge.config import Settings
from songforge.core import accounts, tenants
from songforge.store.db import Database
from songforge.store.migrate import upgrade_database


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def db(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True)
    upgrade_database(settings.db_url)
    database = Database(settings.db_url)
    yield database
    database.dispose()


@pytest.fixture
def tenant_id(db: Database) -> str:
    with db.session() as s:
        return tenants.create_token(s, "t").tenant_id


@pytest.fixture
def account(db: Database, tenant_id: str):  # type: ignore[no-untyped-def]
    with db.session() as s:
        return accounts.upsert_account(s, tenant_id, {"user_id": "u1"}, 2)
