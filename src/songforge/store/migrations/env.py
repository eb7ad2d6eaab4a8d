"""Alembic environment: the target metadata is songforge.store.models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from songforge.store.models import Base

# Several API replicas start at once and each runs the upgrade: on PostgreSQL they queue up on
# this advisory lock, so the first migrates and the others find the schema already at head.
_PG_MIGRATION_LOCK = 0x50F6F0D6

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            # (added by the Open API engineer) SQLAlchemy 2 autobegins a transaction on the PRAGMA;
            # without this commit Alembic joins it and the whole upgrade, alembic_version
            # included, is rolled back when the connection closes.
            connection.commit()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK})")
            connection.commit()
        # SQLite needs batch mode to alter tables; it is harmless elsewhere.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK})")
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
