"""GET /models: a read-only route of our own, which models are served right now and by which engine.

Why a route and not a field of an existing answer: the spec's /scheduler/available and /accounts
answers have fixed shapes that clients (and our tests) read exactly, and model availability is a
fact of the deployment's workers, not of an account's slots. The studio (which speaks only
/v1/tempolor) reads it so that its model picker offers only what can be made now
(`songforge.core.availability`). It names engines and models, never workers or hosts: tenants see
what they may ask for, operators see the workers in /metrics and `songforge engines`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from songforge import config
from songforge.core.availability import models_served
from songforge.dialects.tempolor_v1.schemas import doc
from songforge.engines.registry import engine_ready
from songforge.http.deps import current_tenant, get_db, resolve_account
from songforge.http.errors import ApiError
from songforge.store.db import Database
from songforge.store.models import Account, Tenant

router = APIRouter(tags=["models"])


class ModelState(BaseModel):
    model: str = Field(examples=["v4.8"])
    kind: str = Field(examples=["song"], description="song | instrumental")
    available: bool
    engine: str | None = Field(description="The engine that makes it now; null when none can")
    engines: list[str] = Field(description="The engines that may make it, first ready one first")
    default: bool = Field(description="What a request of its kind that names no model gets")
    reason: str | None = Field(None, description="Why it is not available, in words; null when it is")


class ModelsAnswer(BaseModel):
    user_id: str | None = Field(description="The account asked about; null: none (the default engine)")
    engine: str = Field(description="The account's engine: what makes the models without a route")
    models: list[ModelState]


@router.get(
    "/models",
    response_model=None,
    responses=doc(ModelsAnswer, 401, 404),
    summary="Models served right now, and by which engine (a Songforge addition)",
)
def get_models(
    user_id: str | None = Query(None, description="The account; may be left out when the token has one"),
    tenant: Tenant = Depends(current_tenant),
    db: Database = Depends(get_db),
) -> dict[str, Any]:
    with db.session() as s:
        account: Account | None
        if user_id is not None and user_id.strip():
            account = resolve_account(s, tenant.id, user_id)
        else:
            only = list(s.scalars(select(Account).where(Account.tenant_id == tenant.id).limit(2)))
            account = only[0] if len(only) == 1 else None
        engine = account.engine if account is not None else config.DEFAULT_ENGINE
        try:
            served = models_served(s, engine, engine_ready)
        except ValueError as exc:
            raise ApiError(500, f"The server's model routes are not valid: {exc}") from None
    return {
        "user_id": account.user_id if account is not None else None,
        "engine": engine,
        "models": [
            {
                "model": m.model,
                "kind": m.kind,
                "available": m.available,
                "engine": m.engine,
                "engines": list(m.engines),
                "default": m.default,
                "reason": m.reason(),
            }
            for m in served
        ],
    }
