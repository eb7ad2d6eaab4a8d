"""Per-tenant caps (`config.tenant_limits`): accounts per tenant and queued jobs per tenant, over
all its accounts, each refused with its own error (dialects render them as 429s)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from songforge.core import accounts, scheduler
from songforge.store.db import Database
from songforge.store.models import Account, Job

Submit = Callable[..., list[Job]]


def test_queued_cap_counts_every_account_of_the_tenant(
    db: Database, tenant_id: str, submit: Submit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGFORGE_MAX_QUEUED_PER_TENANT", "5")
    with db.session() as s:
        one = accounts.upsert_account(s, tenant_id, {"user_id": "a"}, 10)
        two = accounts.upsert_account(s, tenant_id, {"user_id": "b"}, 10)
    submit(one)
    submit(two)  # four queued: each account far below its maxJobs
    with pytest.raises(scheduler.TenantQueueFull) as refused:
        submit(one)  # two more would make six
    assert (refused.value.running, refused.value.limit, refused.value.holders) == (4, 5, ())
    assert isinstance(refused.value, scheduler.AccountBusy)  # every dialect's busy path catches it


def test_account_cap_refuses_a_new_account_not_an_update(
    db: Database, tenant_id: str, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGFORGE_MAX_ACCOUNTS_PER_TENANT", "2")
    with db.session() as s:
        accounts.upsert_account(s, tenant_id, {"user_id": "u2"}, 3)
    with pytest.raises(accounts.TooManyAccounts), db.session() as s:
        accounts.upsert_account(s, tenant_id, {"user_id": "u3"}, 3)
    with db.session() as s:
        updated = accounts.upsert_account(s, tenant_id, {"user_id": "u2"}, 7)  # still allowed
        assert updated.max_jobs == 7
        assert len(accounts.list_accounts(s, tenant_id)) == 2
