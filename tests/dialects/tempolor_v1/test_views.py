"""The /v1/tempolor shapes of accounts and the scheduler, built from what the domain hands over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from songforge.core import accounts, scheduler, tenants
from songforge.core.jobs import JobRequest
from songforge.dialects.tempolor_v1.ids import make_id
from songforge.dialects.tempolor_v1.views import account_view, available_view, busy_body, executing_view
from songforge.store.db import Database
from songforge.store.migrate import upgrade_database
from songforge.store.models import Account


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'views.db'}"
    upgrade_database(url)
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def account(db: Database) -> Account:
    with db.session() as s:
        tenant_id = tenants.create_token(s, "t").tenant_id
        return accounts.upsert_account(s, tenant_id, {"user_id": "u1"}, 2)


def _submit(db: Database, account: Account, **fields: object) -> None:
    request = JobRequest(kind="instrumental", prompt="x", model="i4", **fields)  # type: ignore[arg-type]
    with db.session() as s:
        scheduler.submit(s, account=account, request=request)


def test_account_view_has_the_spec_fields(account: Account) -> None:
    view = account_view(account)
    assert set(view) == {"user_id", "updated", "updatedUTC", "maxJobs", "requestParams"}
    assert view["updatedUTC"].endswith("Z")
    assert (view["user_id"], view["maxJobs"], view["requestParams"]) == ("u1", 2, {"user_id": "u1"})


def test_busy_body_lists_the_slot_holders_by_account(db: Database, account: Account) -> None:
    _submit(db, account, reply_url="https://example.com/hook", reply_ref="r1")
    _submit(db, account)
    with db.session() as s, pytest.raises(scheduler.AccountBusy) as info:
        scheduler.submit(s, account=account, request=JobRequest(kind="instrumental", prompt="x", model="i4"))
    body = busy_body(info.value)
    assert body["error"] == "Account is busy executing 2 jobs" and body["code"] == 429
    assert list(body) == ["error", "runningJobs", "code"]
    entries = body["runningJobs"]["u1"]
    assert len(entries) == 4 and all({"user_id", "job_id", "started"} <= set(e) for e in entries)
    holders = {make_id(h.tenant_id, h.user_id, h.item_id) for h in info.value.holders}
    assert {e["job_id"] for e in entries} == holders
    with_reply = [e for e in entries if "replyUrl" in e]
    assert len(with_reply) == 2 and all(e["replyRef"] == "r1" for e in with_reply)


def test_executing_view_says_where_queued_jobs_stand(db: Database, account: Account) -> None:
    _submit(db, account)
    with db.session() as s:
        view = executing_view(s, account.tenant_id)
        available = available_view(s, account.tenant_id)
    assert [v["queuePosition"] for v in view] == [1, 2]
    assert all(v["state"] == "queued" and v["progress"] == 0 and v["elapsed"][2] == ":" for v in view)
    assert available["available"] == [{"user_id": "u1", "maxJobs": 2, "executing": 1, "available": 1}]
    assert available["executing"] == view
