"""Tenants and their API tokens (`songforge.core.tenants`): hashed at rest, revoked by prefix."""

from __future__ import annotations

import pytest

from songforge.core import tenants
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
