"""Server-side failures still answer in the envelope: a broken database gives 400001 with the
request_id in the log, never an HTML page or a bare 500. Runs the real app in-process on a real
SQLite file; the failure is real (a table is gone), not simulated."""

from __future__ import annotations

import logging
import sqlite3

from fastapi.testclient import TestClient

from songforge.config import Settings
from songforge.core.tenants import create_token
from songforge.dialects.platform.keys import create_key
from songforge.server import create_app


def test_internal_error_is_an_envelope(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, workers=0)
    app = create_app(settings, run_workers=False, run_background=False)
    with TestClient(app) as client:
        with app.state.db.session() as s:
            key = create_key(s, create_token(s, "t").tenant_id).key
        headers = {"Authorization": key}
        ok = client.post("/open-apis/v1/song/query", json={"item_ids": ["x"]}, headers=headers).json()
        assert ok["status"] == 400008
        conn = sqlite3.connect(tmp_path / "songforge.db")
        conn.execute("DROP TABLE jobs")
        conn.commit()
        conn.close()
        with caplog.at_level(logging.ERROR, logger="songforge.openapi"):
            r = client.post("/open-apis/v1/song/query", json={"item_ids": ["x"]}, headers=headers)
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == 400001
        assert body["message"] == "Internal server error, please try again later~"
        assert body["request_id"] in caplog.text
