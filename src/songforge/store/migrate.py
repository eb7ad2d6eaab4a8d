"""Schema migrations with Alembic, run by `songforge db upgrade` and at server start.

The Alembic environment ships inside the package, so an installed server migrates itself
without an alembic.ini in the working directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from songforge.store.db import normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Alembic announces every plugin it loads at INFO; the upgrades themselves stay visible.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def alembic_config(database_url: str) -> Config:
    database_url = normalize_url(database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config interpolates %-signs; URLs with escaped passwords need them doubled.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def _ensure_sqlite_dir(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        from songforge.store.private import private_sqlite_files

        private_sqlite_files(database_url)  # 0600 before Alembic's first connection creates it


def upgrade_database(database_url: str, revision: str = "head") -> None:
    _ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
