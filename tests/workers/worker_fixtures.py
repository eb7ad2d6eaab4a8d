"""Fixtures the deployment tests of workers share: a fresh PostgreSQL database migrated to head and
a Redis database of its own, each per test (tests/store/scale_services starts the services).

A module the test files import rather than a tests/workers/conftest.py: a second conftest would
take the `conftest` name from tests/conftest.py, whose `ServerProcess` test files import.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from songforge.store.migrate import upgrade_database
from store.scale_services import fresh_pg_database, fresh_redis_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        upgrade_database(url)
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    with fresh_redis_url() as url:
        yield url
