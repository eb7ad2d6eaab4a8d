"""Accounts: the per-tenant configurations that requests act for (the hosted service's
TemPolor web accounts; here, a name plus limits and the engine that serves it).

Broken rules raise `InvalidField` naming the value the domain's way (`request_params`, its key
`engine`, `max_jobs`): each dialect words the refusal with its own parameter names.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from songforge import config
from songforge.clock import now_ms
from songforge.config import DEFAULT_ENGINE, ENGINE_NAMES
from songforge.errors import Busy, InvalidField
from songforge.store.db import rowcount
from songforge.store.models import Account

__all__ = [
    "DEFAULT_MAX_JOBS",
    "TooManyAccounts",
    "MAX_JOBS_RANGE",
    "as_int",
    "delete_account",
    "get_account",
    "list_accounts",
    "parse_max_jobs",
    "upsert_account",
]

DEFAULT_MAX_JOBS = 10
MAX_JOBS_RANGE = (1, 100)
_USER_ID_MAX = 128


class TooManyAccounts(Busy):
    """The tenant already has `limit` accounts (`config.tenant_limits().max_accounts`): each one
    adds its own maxJobs, so unbounded accounts would make the per-account limit meaningless."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"tenant has {limit} accounts, the most allowed; delete one first")
        self.limit = limit


def parse_max_jobs(value: Any) -> int | None:
    """None when absent; otherwise an int in 1..100, or InvalidField("max_jobs", ...)."""
    if value is None or value == "":
        return None
    lo, hi = MAX_JOBS_RANGE
    number = as_int(value)
    if number is None:
        raise InvalidField("max_jobs", f"must be an integer between {lo} and {hi}")
    if not lo <= number <= hi:
        raise InvalidField("max_jobs", f"must be between {lo} and {hi}")
    return number


def as_int(value: Any) -> int | None:
    """An integer from JSON (int, integral float) or form data (decimal string); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None
    return None


def _user_id_from(params: dict[str, Any]) -> str:
    for key in ("user_id", "ucid"):
        value = params.get(key)
        if value is not None and str(value).strip():
            user_id = str(value).strip()
            if len(user_id) > _USER_ID_MAX or not all(c.isalnum() or c in "._@+-" for c in user_id):
                raise InvalidField(
                    "request_params", f"must be at most {_USER_ID_MAX} letters, digits or ._@+-", key=key
                )
            return user_id
    return str(10**8 + secrets.randbelow(9 * 10**8))


def upsert_account(session: Session, tenant_id: str, request_params: Any, max_jobs: Any) -> Account:
    """Creates the account or updates it in place (create-or-update). Raises InvalidField naming
    the value (`request_params`, with the key inside it, or `max_jobs`) and the rule it breaks."""
    if request_params is None:
        raise InvalidField("request_params", "is required")
    if not isinstance(request_params, dict):
        raise InvalidField("request_params", "must be an object")
    limit = parse_max_jobs(max_jobs)
    engine = request_params.get("engine", DEFAULT_ENGINE)
    if engine is None or engine == "":
        engine = DEFAULT_ENGINE
    if not isinstance(engine, str) or engine not in ENGINE_NAMES:
        raise InvalidField(
            "request_params", f"must be one of: {', '.join(ENGINE_NAMES)} (got {engine!r})", key="engine"
        )
    user_id = _user_id_from(request_params)
    account = session.scalar(
        select(Account).where(Account.tenant_id == tenant_id, Account.user_id == user_id)
    )
    now = now_ms()
    if account is None:
        cap = config.tenant_limits().max_accounts
        held = session.scalar(select(func.count()).where(Account.tenant_id == tenant_id)) or 0
        if held >= cap:
            raise TooManyAccounts(cap)
        account = Account(
            tenant_id=tenant_id,
            user_id=user_id,
            max_jobs=limit if limit is not None else DEFAULT_MAX_JOBS,
            engine=engine,
            request_params=request_params,
            updated_ms=now,
        )
        session.add(account)
    else:
        if limit is not None:
            account.max_jobs = limit
        account.engine = engine
        account.request_params = request_params
        account.updated_ms = now
    session.flush()
    return account


def list_accounts(session: Session, tenant_id: str) -> list[Account]:
    return list(
        session.scalars(select(Account).where(Account.tenant_id == tenant_id).order_by(Account.user_id))
    )


def get_account(session: Session, tenant_id: str, user_id: str) -> Account | None:
    return session.scalar(select(Account).where(Account.tenant_id == tenant_id, Account.user_id == user_id))


def delete_account(session: Session, tenant_id: str, user_id: str) -> bool:
    result = session.execute(
        delete(Account).where(Account.tenant_id == tenant_id, Account.user_id == user_id)
    )
    return bool(rowcount(result))
