"""Migration 0003 repairs rows stored before the edge refused lone UTF-16 surrogates: every lone
surrogate, in keys and values at any depth, becomes U+FFFD, paired ones and everything else are kept,
and the repaired rows serve again (a record, a list page and `GET /accounts` answered 500 forever)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select

from songforge.clock import now_ms
from songforge.config import Settings
from songforge.core import accounts, tenants
from songforge.server import create_app
from songforge.store.db import Database
from songforge.store.migrate import alembic_config, current_revision, upgrade_database
from songforge.store.models import Account, CallbackDelivery

POISON = {"user_id": "u1", "note": "a\ud800b", "deep": [{"x\udfff": ["ok", "\udc00"]}], "emoji": "\U0001f3b9"}


def test_lone_surrogates_are_repaired_and_the_rows_serve_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, workers=0)
    data.mkdir()
    # The rows are written through today's models (at head), then the schema is taken back to 0002,
    # as a database of that time would hold them, so that 0003 meets them on its way up.
    upgrade_database(settings.db_url)
    db = Database(settings.db_url)
    with db.session() as s:
        token = tenants.create_token(s, "t")
        accounts.upsert_account(s, token.tenant_id, {"user_id": "u1"}, 2)
    with db.session() as s:  # what the old edge let through: the JSON column keeps the \\ud800 escapes
        account = s.scalar(select(Account))
        assert account is not None
        account.request_params = POISON
        now = now_ms()
        s.add(
            CallbackDelivery(
                message_id="m1", tenant_id=token.tenant_id, job_id="j", item_id="i", url="http://x/",
                payload={"replyRef": "\ud83d"}, next_attempt_ms=now, created_ms=now, updated_ms=now,
            )
        )  # fmt: skip
    db.dispose()
    command.downgrade(alembic_config(settings.db_url), "0002_openapi_keys")

    with caplog.at_level(logging.WARNING, logger="songforge.migrations"):
        upgrade_database(settings.db_url, "0003_repair_lone_surrogates")
    assert current_revision(settings.db_url) == "0003_repair_lone_surrogates"
    assert sum("repaired lone UTF-16 surrogates" in r.getMessage() for r in caplog.records) == 2

    db = Database(settings.db_url)
    with db.session() as s:
        params = s.scalar(select(Account)).request_params  # type: ignore[union-attr]
        payload = s.scalar(select(CallbackDelivery)).payload  # type: ignore[union-attr]
    db.dispose()
    assert params == {
        "user_id": "u1", "note": "a\ufffdb", "deep": [{"x\ufffd": ["ok", "\ufffd"]}], "emoji": "\U0001f3b9"
    }  # fmt: skip
    assert payload == {"replyRef": "\ufffd"}
    json.dumps(params, ensure_ascii=False).encode("utf-8")  # encodable again

    upgrade_database(settings.db_url)
    app = create_app(settings, run_workers=False, run_background=False)
    with TestClient(app) as client:
        r = client.get("/v1/tempolor/accounts", headers={"Authorization": f"Bearer {token.token}"})
        assert r.status_code == 200 and r.json()["u1"]["requestParams"]["note"] == "a\ufffdb"
