"""The /v1/tempolor shapes of accounts and of the scheduler: account bodies, GET /scheduler/,
GET /scheduler/available and the 429 a busy account gets.

Why here and not in core: these are the spec's field names (`maxJobs`, `updatedUTC`,
`runningJobs`, mm:ss `elapsed`); the domain hands over rows and numbers (`Account`,
`scheduler.AccountBusy`, `scheduler.Capacity`) and another dialect shapes them its own way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from songforge.clock import elapsed_mmss, iso_utc, now_ms
from songforge.core import scheduler
from songforge.core.states import JobState
from songforge.dialects.tempolor_v1.ids import make_id
from songforge.store.models import Account

__all__ = ["account_view", "available_view", "busy_body", "executing_view"]


def account_view(account: Account) -> dict[str, Any]:
    return {
        "user_id": account.user_id,
        "updated": account.updated_ms,
        "updatedUTC": iso_utc(account.updated_ms),
        "maxJobs": account.max_jobs,
        "requestParams": account.request_params or {},
    }


def busy_body(busy: scheduler.AccountBusy) -> dict[str, Any]:
    """The 429 body: the jobs holding the account's slots, grouped by account. A tenant at its
    queued-jobs cap gets the same shape, its error saying so, with no holders listed."""
    if isinstance(busy, scheduler.TenantQueueFull):
        error = f"Too many jobs queued: {busy.running} of at most {busy.limit} for this token"
        return {"error": error, "runningJobs": {}, "code": 429}
    running: dict[str, list[dict[str, Any]]] = {}
    for holder in busy.holders:
        entry: dict[str, Any] = {
            "user_id": holder.user_id,
            "job_id": make_id(holder.tenant_id, holder.user_id, holder.item_id),
            "started": holder.started_ms,
        }
        if holder.reply_url:
            entry["replyUrl"] = holder.reply_url
        if holder.reply_ref:
            entry["replyRef"] = holder.reply_ref
        running.setdefault(holder.user_id, []).append(entry)
    return {"error": f"Account is busy executing {busy.running} jobs", "runningJobs": running, "code": 429}


def executing_view(session: Session, tenant_id: str) -> list[dict[str, Any]]:
    """GET /scheduler/: the tenant's tracked unfinished jobs. Queued ones say so and where they
    stand in line, since `started` alone would suggest they are already being generated."""
    now = now_ms()
    jobs = scheduler.active_jobs(session, tenant_id)
    positions = scheduler.queue_positions(session) if any(j.state == JobState.QUEUED for j in jobs) else {}
    out = []
    for job in jobs:
        started = scheduler.started_ms(job)
        entry: dict[str, Any] = {
            "job_id": make_id(job.tenant_id, job.user_id, job.item_id),
            "started": iso_utc(started),
            "elapsed": elapsed_mmss(started, now),
        }
        if job.reply_url:
            entry["replyUrl"] = job.reply_url
        if job.reply_ref:
            entry["replyRef"] = job.reply_ref
        entry["state"] = job.state
        entry["progress"] = job.progress
        if job.state == JobState.QUEUED:
            entry["queuePosition"] = positions.get(job.item_id, 0)
        out.append(entry)
    return out


def available_view(session: Session, tenant_id: str) -> dict[str, Any]:
    """GET /scheduler/available: accounts with the most free slots first."""
    available: list[dict[str, Any]] = [
        {"user_id": c.user_id, "maxJobs": c.max_jobs, "executing": c.busy, "available": c.free}
        for c in scheduler.capacities(session, tenant_id)
    ]
    available.sort(key=lambda a: (-a["available"], a["user_id"]))
    return {"executing": executing_view(session, tenant_id), "available": available}
