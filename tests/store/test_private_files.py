"""The data dir is 0700 and the SQLite database with its -wal and -shm files and the link-signing
secret are 0600 (they hold every tenant's webhook secret), for a new data dir and, repaired at start,
for one an older version left world-readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from songforge.config import Settings
from songforge.core.tenants import create_token
from songforge.http import signing
from songforge.server import create_app


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _start(data: Path) -> None:
    settings = Settings(data_dir=data, workers=0)
    app = create_app(settings, run_workers=False, run_background=False)
    with TestClient(app) as client:
        with app.state.db.session() as s:
            create_token(s, "t")
        signing.server_secret(data)
        assert client.get("/healthz").status_code == 200
        # While the server runs, SQLite keeps its -wal and -shm beside the database.
        files = {p.name: _mode(p) for p in data.iterdir() if p.is_file()}
        assert _mode(data) == 0o700
        assert {"songforge.db", "songforge.db-wal", "songforge.db-shm"} <= set(files)
        assert all(m == 0o600 for m in files.values()), files


@pytest.fixture(autouse=True)
def _usual_umask():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_data_dir_is_private(tmp_path: Path) -> None:
    _start(tmp_path / "data")


def test_an_old_world_readable_data_dir_is_repaired_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _start(data)
    os.chmod(data, 0o755)
    for p in data.iterdir():
        if p.is_file():
            os.chmod(p, 0o644)
    _start(data)
