from __future__ import annotations

import pytest

from songforge.core import accounts, tenants
from songforge.errors import InvalidInput
from songforge.store.db import Database
from songforge.store.models import Tenant


def test_token_is_stored_only_as_hash(db: Database) -> None:
    with db.session() as s:
        created = tenants.create_token(s, "me")
    assert created.token.startswith(f"sf_{created.prefix}_")
    assert created.signing_secret.startswith("whsec_")
    with db.session() as s:
        row = s.get(Tenant, created.tenant_id)
        assert row is not None
        assert row.token_hash == tenants.hash_token(created.token)
        assert created.token not in (row.token_hash, row.token_prefix, row.name)
        assert tenants.find_tenant_by_token(s, created.token).id == created.tenant_id
        assert tenants.find_tenant_by_token(s, created.token + "x") is None


def test_revoke_by_prefix_and_refuse_ambiguity(db: Database) -> None:
    with db.session() as s:
        a = tenants.create_token(s, "a")
        tenants.create_token(s, "b")
    with db.session() as s, pytest.raises(LookupError):
        tenants.revoke_token(s, "")
    with db.session() as s:
        tenants.revoke_token(s, a.prefix)
    with db.session() as s:
        assert tenants.find_tenant_by_token(s, a.token) is None
    with db.session() as s, pytest.raises(LookupError):
        tenants.revoke_token(s, a.prefix)  # already revoked


def test_account_user_id_sources_and_update(db: Database, tenant_id: str) -> None:
    with db.session() as s:
        assert accounts.upsert_account(s, tenant_id, {"user_id": "42", "ucid": "7"}, None).user_id == "42"
        assert accounts.upsert_account(s, tenant_id, {"ucid": "7"}, 5).user_id == "7"
        generated = accounts.upsert_account(s, tenant_id, {}, None)
        assert generated.user_id.isdigit() and generated.max_jobs == 10
    with db.session() as s:
        again = accounts.upsert_account(s, tenant_id, {"ucid": "7", "lang": "fr"}, None)
        assert again.max_jobs == 5  # an update without maxJobs keeps the limit
        assert again.request_params == {"ucid": "7", "lang": "fr"}
        assert len(accounts.list_accounts(s, tenant_id)) == 3


@pytest.mark.parametrize(
    ("params", "max_jobs", "needle"),
    [
        (None, None, "Parameter requestParams is required"),
        ("text", None, "requestParams must be an object"),
        ({}, 0, "maxJobs must be between 1 and 100"),
        ({}, 101, "maxJobs must be between 1 and 100"),
        ({}, "x", "maxJobs must be an integer"),
        ({"engine": "suno"}, None, "requestParams.engine must be one of: embedded"),
        ({"user_id": "a/b"}, None, "requestParams.user_id must be"),
    ],
)
def test_account_errors(db: Database, tenant_id: str, params: object, max_jobs: object, needle: str) -> None:
    with db.session() as s, pytest.raises(InvalidInput) as info:
        accounts.upsert_account(s, tenant_id, params, max_jobs)
    assert needle in str(info.value)


def test_delete_is_scoped_to_tenant(db: Database, tenant_id: str) -> None:
    with db.session() as s:
        other = tenants.create_token(s, "other").tenant_id
        accounts.upsert_account(s, tenant_id, {"user_id": "u"}, None)
    with db.session() as s:
        assert not accounts.delete_account(s, other, "u")
        assert accounts.delete_account(s, tenant_id, "u")
        assert not accounts.delete_account(s, tenant_id, "u")
