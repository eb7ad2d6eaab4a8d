"""/scheduler: what is executing, capacity per account, and untracking a job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from songforge.core import scheduler as core
from songforge.dialects.tempolor_v1.common import parse_job_id
from songforge.dialects.tempolor_v1.schemas import Available, ExecutingJob, doc, errors
from songforge.dialects.tempolor_v1.views import available_view, executing_view
from songforge.http.deps import current_tenant, get_db
from songforge.http.errors import ApiError
from songforge.http.offload import off_loop
from songforge.store.db import Database
from songforge.store.models import Tenant

router = APIRouter(tags=["scheduler"])


@router.get(
    "/scheduler/",
    response_model=None,
    responses=doc(list[ExecutingJob], 401),
    summary="Jobs executing or waiting for a worker (in queue order)",
)
async def get_scheduler(
    tenant: Tenant = Depends(current_tenant), db: Database = Depends(get_db)
) -> JSONResponse:
    # Polled: a thread of our own at once and the view's dict rendered as it is (it holds only JSON
    # types), not walked again by FastAPI's encoder (see `_read`).
    return JSONResponse(await off_loop(_read, executing_view, db, tenant.id))


def _read(view: Callable[[Session, str], Any], db: Database, tenant_id: str) -> Any:
    """`view` in a read session. Why not FastAPI's sync route and its encoder: the thread hop through
    anyio waits a turn of the loop first (`http.offload`), and `jsonable_encoder` took twice as long
    as building a list page of 20 records did."""
    with db.session() as s:
        return view(s, tenant_id)


router.add_api_route(
    "/scheduler", get_scheduler, methods=["GET"], response_model=None, include_in_schema=False
)


@router.get(
    "/scheduler/available",
    response_model=None,
    responses=doc(Available, 401),
    summary="Executing jobs and free slots per account",
)
async def get_available(
    tenant: Tenant = Depends(current_tenant), db: Database = Depends(get_db)
) -> JSONResponse:
    return JSONResponse(await off_loop(_read, available_view, db, tenant.id))


@router.delete(
    "/scheduler/{job_id}",
    status_code=204,
    response_class=Response,
    responses=errors(400, 401, 404),
    summary="Stop tracking a job (frees its slot, stops callbacks; generation still finishes)",
)
def delete_scheduled(
    job_id: str, tenant: Tenant = Depends(current_tenant), db: Database = Depends(get_db)
) -> Response:
    item_id = parse_job_id(job_id)
    with db.session() as s:
        from songforge.dialects.tempolor_v1.records import job_id_of
        from songforge.store.models import Job

        job = s.get(Job, item_id)
        if (
            job is None
            or job.tenant_id != tenant.id
            or job_id_of(job) != job_id
            or not core.untrack(s, tenant.id, item_id)
        ):
            raise ApiError(404, "Unable to locate running job_id")
    return Response(status_code=204)
