"""Admission and the scheduler views: per-account maxJobs, 429s, executing jobs, untracking.

A request takes one slot of its account's `maxJobs` for as long as any of its variations is
unfinished and tracked. The check and the insert happen in one write transaction that the
database serializes (SQLite: BEGIN IMMEDIATE; PostgreSQL: a row lock on the account), so two
servers or two threads can never both take the last slot. Nothing is counted in memory.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from songforge.core.clock import elapsed_mmss, iso_utc, now_ms
from songforge.core.ids import make_id, new_item_id
from songforge.core.music_params import MusicParams
from songforge.store.models import Account, Job

VARIATIONS = 2
ACTIVE_STATES = ("queued", "running")
RETRY_AFTER_SECONDS = 30


@dataclass
class AccountBusy(Exception):
    """The account has no free slot; carries what the 429 body reports."""

    busy: int
    running_jobs: dict[str, list[dict[str, Any]]]
    retry_after: int = RETRY_AFTER_SECONDS


def lock_for_write(session: Session, account_id: int | None = None) -> None:
    """Starts a write transaction before anything is read, so the count that follows cannot
    go stale before our insert commits."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        conn = session.connection()
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif account_id is not None:
        session.execute(select(Account.id).where(Account.id == account_id).with_for_update())


def _active_jobs(session: Session, tenant_id: str, user_id: str | None = None) -> list[Job]:
    q = select(Job).where(Job.tenant_id == tenant_id, Job.state.in_(ACTIVE_STATES), Job.tracked.is_(True))
    if user_id is not None:
        q = q.where(Job.user_id == user_id)
    return list(session.scalars(q.order_by(Job.queued_ms, Job.created_ms, Job.item_id)))


def busy_slots(session: Session, tenant_id: str, user_id: str) -> int:
    return int(
        session.scalar(
            select(func.count(func.distinct(Job.batch_id))).where(
                Job.tenant_id == tenant_id,
                Job.user_id == user_id,
                Job.state.in_(ACTIVE_STATES),
                Job.tracked.is_(True),
            )
        )
        or 0
    )


def _started(job: Job) -> int:
    return job.started_ms or job.created_ms


def running_jobs_body(jobs: list[Job]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        entry: dict[str, Any] = {
            "user_id": job.user_id,
            "job_id": make_id(job.tenant_id, job.user_id, job.item_id),
            "started": _started(job),
        }
        if job.reply_url:
            entry["replyUrl"] = job.reply_url
        if job.reply_ref:
            entry["replyRef"] = job.reply_ref
        out.setdefault(job.user_id, []).append(entry)
    return out


def submit(
    session: Session,
    *,
    account: Account,
    params: MusicParams,
    request_extra: dict[str, Any] | None = None,
    variations: int = VARIATIONS,
) -> list[Job]:
    """Queues one request's variations, or raises AccountBusy. Call in a fresh transaction."""
    lock_for_write(session, account.id)
    limit = params.max_jobs if params.max_jobs is not None else account.max_jobs
    busy = busy_slots(session, account.tenant_id, account.user_id)
    if busy >= limit:
        active = _active_jobs(session, account.tenant_id, account.user_id)
        raise AccountBusy(busy, running_jobs_body(active))
    now = now_ms()
    batch_id = new_item_id()
    request = params.request_dict()
    if request_extra:
        request.update(request_extra)
    jobs = []
    for _ in range(variations):
        item_id = new_item_id()
        while session.get(Job, item_id) is not None:
            item_id = new_item_id()
        job = Job(
            item_id=item_id,
            tenant_id=account.tenant_id,
            user_id=account.user_id,
            batch_id=batch_id,
            kind=params.kind,
            engine=account.engine,
            state="queued",
            progress=0,
            stage="queued",
            request=request,
            seed=secrets.randbelow(2**31 - 1),
            title="",
            material={},
            lyrics=None,
            extra={},
            blobs={},
            reply_url=params.reply_url,
            reply_ref=params.reply_ref,
            max_jobs=limit,
            tracked=True,
            attempts=0,
            created_ms=now,
            queued_ms=now,
            updated_ms=now,
        )
        session.add(job)
        jobs.append(job)
    session.flush()
    return jobs


def queue_positions(session: Session) -> dict[str, int]:
    """1-based position of every queued job in the machine-wide FIFO."""
    rows = session.execute(
        select(Job.item_id).where(Job.state == "queued").order_by(Job.queued_ms, Job.created_ms, Job.item_id)
    )
    return {item_id: i + 1 for i, (item_id,) in enumerate(rows)}


def executing_view(session: Session, tenant_id: str) -> list[dict[str, Any]]:
    """GET /scheduler/: the tenant's tracked unfinished jobs. Queued ones say so and where they
    stand in line, since `started` alone would suggest they are already being generated."""
    now = now_ms()
    jobs = _active_jobs(session, tenant_id)
    positions = queue_positions(session) if any(j.state == "queued" for j in jobs) else {}
    out = []
    for job in jobs:
        entry: dict[str, Any] = {
            "job_id": make_id(job.tenant_id, job.user_id, job.item_id),
            "started": iso_utc(_started(job)),
            "elapsed": elapsed_mmss(_started(job), now),
        }
        if job.reply_url:
            entry["replyUrl"] = job.reply_url
        if job.reply_ref:
            entry["replyRef"] = job.reply_ref
        entry["state"] = job.state
        entry["progress"] = job.progress
        if job.state == "queued":
            entry["queuePosition"] = positions.get(job.item_id, 0)
        out.append(entry)
    return out


def available_view(session: Session, tenant_id: str) -> dict[str, Any]:
    accounts = list(session.scalars(select(Account).where(Account.tenant_id == tenant_id)))
    available = []
    for account in accounts:
        busy = busy_slots(session, tenant_id, account.user_id)
        available.append(
            {
                "user_id": account.user_id,
                "maxJobs": account.max_jobs,
                "executing": busy,
                "available": max(0, account.max_jobs - busy),
            }
        )
    available.sort(key=lambda a: (-a["available"], a["user_id"]))
    return {"executing": executing_view(session, tenant_id), "available": available}


def untrack(session: Session, tenant_id: str, item_id: str) -> bool:
    """DELETE /scheduler/{job_id}: frees the slot and stops callbacks; generation goes on.
    False when the job is not this tenant's, already finished or already untracked."""
    result = session.execute(
        update(Job)
        .where(
            Job.item_id == item_id,
            Job.tenant_id == tenant_id,
            Job.state.in_(ACTIVE_STATES),
            Job.tracked.is_(True),
        )
        .values(tracked=False, updated_ms=now_ms())
    )
    if not result.rowcount:
        return False
    from songforge.outbox.delivery import drop_pending

    drop_pending(session, item_id)
    return True
