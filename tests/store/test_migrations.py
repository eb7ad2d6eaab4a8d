"""`alembic upgrade head` on an empty database must produce exactly the schema models.py says."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from songforge.store.migrate import current_revision, upgrade_database
from songforge.store.models import Base


def test_upgrade_head_creates_every_table_and_matches_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'songforge.db'}"
    upgrade_database(url)
    engine = create_engine(url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert diff == [], f"models.py and the migrations disagree: {diff}"
    finally:
        engine.dispose()
    assert current_revision(url) is not None
    upgrade_database(url)  # idempotent


def test_db_upgrade_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "songforge", "db", "upgrade", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "revision" in result.stdout
    assert (tmp_path / "d" / "songforge.db").is_file()
