"""A migrated SQLite database in a temp dir, for tests of the domain modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from songforge.config import Settings
from songforge.core import accounts, scheduler, tenants
from songforge.core.jobs import JobRequest
from songforge.store.db import Database
from songforge.store.migrate import upgrade_database
from songforge.store.models import Account, Job


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
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
def account(db: Database, tenant_id: str) -> Account:
    with db.session() as s:
        return accounts.upsert_account(s, tenant_id, {"user_id": "u1"}, 2)


@pytest.fixture
def submit(db: Database) -> Callable[..., list[Job]]:
    """`submit(account, max_jobs=None)`: admits one instrumental request (two variations) for
    `account`, as a dialect would after validating it, and returns its jobs."""

    def admit(account: Account, max_jobs: int | None = None) -> list[Job]:
        request = JobRequest(kind="instrumental", prompt="x", model="i4", max_jobs=max_jobs)
        with db.session() as s:
            return scheduler.submit(s, account=account, request=request)

    return admit
