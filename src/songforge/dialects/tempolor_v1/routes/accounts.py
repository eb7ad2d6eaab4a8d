"""/accounts: create-or-update, list, read and delete a tenant's accounts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from songforge.core import accounts as core
from songforge.dialects.tempolor_v1.common import read_body
from songforge.dialects.tempolor_v1.errors import parameter_message
from songforge.dialects.tempolor_v1.schemas import AccountRequest, AccountView, body_doc, doc, errors
from songforge.dialects.tempolor_v1.views import account_view
from songforge.errors import InvalidField, InvalidInput
from songforge.http.body import BadBody, NotJson, parse_json
from songforge.http.deps import current_tenant, get_db
from songforge.http.errors import ApiError
from songforge.store.db import Database
from songforge.store.models import Tenant

router = APIRouter(tags=["accounts"])

NOT_FOUND = "Configuration not found. To create configuration use POST accounts."


@router.post(
    "/accounts",
    response_model=None,
    responses=doc(AccountView, 400, 401, 429),
    openapi_extra=body_doc(AccountRequest),
    summary="Create or update an account",
)
async def post_account(
    request: Request, tenant: Tenant = Depends(current_tenant), db: Database = Depends(get_db)
) -> dict[str, Any]:
    body = await read_body(request)
    params = body.get("requestParams")
    if isinstance(params, str):  # multipart clients send the object as a JSON string
        try:
            params = parse_json(params, "requestParams") if params.strip() else None
        except NotJson:
            raise ApiError(400, "Parameter requestParams must be a JSON object") from None
        except BadBody as exc:
            raise ApiError(400, str(exc)) from None
    try:
        with db.session() as s:
            account = core.upsert_account(s, tenant.id, params, body.get("maxJobs"))
            return account_view(account)
    except InvalidField as exc:
        raise ApiError(400, parameter_message(exc)) from None
    except InvalidInput as exc:
        raise ApiError(400, str(exc)) from None
    except core.TooManyAccounts as exc:
        raise ApiError(429, f"Too many accounts: at most {exc.limit} per token. Delete one first") from None


@router.get(
    "/accounts", response_model=None, responses=doc(dict[str, AccountView], 401, 404), summary="List accounts"
)
def get_accounts(tenant: Tenant = Depends(current_tenant), db: Database = Depends(get_db)) -> dict[str, Any]:
    with db.session() as s:
        found = core.list_accounts(s, tenant.id)
        if not found:
            raise ApiError(404, "No accounts configured. To create configuration use POST accounts.")
        return {a.user_id: account_view(a) for a in found}


@router.get(
    "/accounts/{user_id}",
    response_model=None,
    responses=doc(AccountView, 401, 404),
    summary="Get one account",
)
def get_account(
    user_id: str, tenant: Tenant = Depends(current_tenant), db: Database = Depends(get_db)
) -> dict[str, Any]:
    with db.session() as s:
        account = core.get_account(s, tenant.id, user_id)
        if account is None:
            raise ApiError(404, NOT_FOUND)
        return account_view(account)


@router.delete(
    "/accounts/{user_id}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 404),
    summary="Delete an account",
)
def delete_account(
    user_id: str, tenant: Tenant = Depends(current_tenant), db: Database = Depends(get_db)
) -> Response:
    with db.session() as s:
        if not core.delete_account(s, tenant.id, user_id):
            raise ApiError(404, NOT_FOUND)
    return Response(status_code=204)
