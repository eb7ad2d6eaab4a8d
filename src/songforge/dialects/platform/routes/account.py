"""account/billing: what the key's tenant may still spend.

This server bills nothing and keeps no quota, so the balance is `UNLIMITED_BALANCE`, a number
large enough that clients which check it before submitting never stop; 400005 (insufficient
points) therefore never arises. The account's free task slots are reported beside it, since that
is the limit that does apply (400007).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from songforge.core import scheduler
from songforge.dialects.platform.common import Caller, db_of, in_thread, open_api_caller
from songforge.dialects.platform.envelope import EnvelopeRoute, success
from songforge.dialects.platform.jobs import account_for_key
from songforge.store.db import Database
from songforge.store.models import ApiKey

router = APIRouter(route_class=EnvelopeRoute)

UNLIMITED_BALANCE = 999_999_999.0


def _billing(db: Database, caller: Caller) -> dict[str, Any]:
    with db.session() as s:
        key = s.get(ApiKey, caller.key_id)
        assert key is not None
        account = account_for_key(s, key)
        busy = scheduler.busy_slots(s, account.tenant_id, account.user_id)
        return {
            "balance": UNLIMITED_BALANCE,
            "unlimited": True,
            "max_parallel_tasks": account.max_jobs,
            "running_tasks": busy,
        }


@router.post("/account/billing", summary="The key's balance (unlimited on a self-hosted server)")
async def account_billing(request: Request, caller: Caller = Depends(open_api_caller)) -> Any:
    return success(request, await in_thread(_billing, db_of(request), caller))
