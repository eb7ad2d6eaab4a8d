"""Accounts (`songforge.core.accounts`): where the user id comes from, create-or-update, limits,
and refusals told in the domain's names (`request_params`, `max_jobs`), which each dialect words."""

from __future__ import annotations

import pytest

from songforge.config import ENGINE_NAMES
from songforge.core import accounts, tenants
from songforge.errors import InvalidField, InvalidInput
from songforge.store.db import Database


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


ENGINES = ", ".join(ENGINE_NAMES)
assert ENGINES.startswith("embedded")

# (params, max_jobs) -> the refusal: field, key inside it, rule. The /v1/tempolor wording of each
# is asserted in tests/dialects/tempolor_v1/test_errors.py.
ACCOUNT_ERRORS = [
    (None, None, "request_params", None, "is required"),
    ("text", None, "request_params", None, "must be an object"),
    ({}, 0, "max_jobs", None, "must be between 1 and 100"),
    ({}, 101, "max_jobs", None, "must be between 1 and 100"),
    ({}, "x", "max_jobs", None, "must be an integer between 1 and 100"),
    ({"engine": "suno"}, None, "request_params", "engine", f"must be one of: {ENGINES} (got 'suno')"),
    ({"user_id": "a/b"}, None, "request_params", "user_id", "must be at most 128 letters, digits or ._@+-"),
]


@pytest.mark.parametrize(("params", "max_jobs", "field", "key", "rule"), ACCOUNT_ERRORS)
def test_account_errors(
    db: Database, tenant_id: str, params: object, max_jobs: object, field: str, key: str | None, rule: str
) -> None:
    with db.session() as s, pytest.raises(InvalidField) as info:
        accounts.upsert_account(s, tenant_id, params, max_jobs)
    refused = info.value
    assert isinstance(refused, InvalidInput)
    assert (refused.field, refused.key, refused.rule) == (field, key, rule)
    # The domain's own wording names no dialect's parameter.
    path = f"{field}.{key}" if key else field
    assert str(refused) == f"{path} {rule}"


def test_max_jobs_absent_or_in_range() -> None:
    assert accounts.parse_max_jobs(None) is None and accounts.parse_max_jobs("") is None
    assert accounts.parse_max_jobs("7") == 7 and accounts.parse_max_jobs(100.0) == 100


def test_delete_is_scoped_to_tenant(db: Database, tenant_id: str) -> None:
    with db.session() as s:
        other = tenants.create_token(s, "other").tenant_id
        accounts.upsert_account(s, tenant_id, {"user_id": "u"}, None)
    with db.session() as s:
        assert not accounts.delete_account(s, other, "u")
        assert accounts.delete_account(s, tenant_id, "u")
        assert not accounts.delete_account(s, tenant_id, "u")
