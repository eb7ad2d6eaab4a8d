"""Admission: per-account maxJobs, the busy signal, what holds the slots, untracking.

A request takes one slot of its account's `maxJobs` for as long as any of its variations is
unfinished and tracked. The check and the insert happen in one write transaction that the
database serializes (SQLite: BEGIN IMMEDIATE; PostgreSQL: a row lock on the account), so two
servers or two threads can never both take the last slot. Nothing is counted in memory.

A full account raises `AccountBusy`, which carries numbers and the jobs holding the slots; each
dialect renders its own refusal from them (/v1/tempolor: a 429 body; the platform: an envelope).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from songforge import config
from songforge.clock import now_ms
from songforge.core.ids import new_item_id
from songforge.core.jobs import JobRequest
from songforge.core.queue import tenant_turns
from songforge.core.states import ACTIVE_JOB_STATES, JobState
from songforge.errors import Busy
from songforge.store.db import hold_write_gate, rowcount
from songforge.store.models import Account, Job, job_is_active

VARIATIONS = 2
ACTIVE_STATES = ACTIVE_JOB_STATES  # a job in these holds a slot while it is tracked
RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class SlotHolder:
    """A tracked, unfinished job: what holds a slot, as a busy account reports it."""

    item_id: str
    tenant_id: str
    user_id: str
    started_ms: int  # when it started, or when it was queued if no worker has it yet
    reply_url: str | None = None
    reply_ref: str | None = None


class AccountBusy(Busy):
    """The account has no free slot. `running` is the number of busy slots (one per request, not
    per variation), `limit` the limit that applied, `holders` the jobs holding them (oldest first)."""

    def __init__(
        self, running: int, limit: int, holders: Sequence[SlotHolder], retry_after: int = RETRY_AFTER_SECONDS
    ) -> None:
        super().__init__(f"account is at its limit: {running} of {limit} slots busy")
        self.running = running
        self.limit = limit
        self.holders = tuple(holders)
        self.retry_after = retry_after


class TenantQueueFull(AccountBusy):
    """The tenant has `running` jobs queued (over all its accounts) and may have at most `limit`
    (`config.tenant_limits().max_queued`): many accounts each within its maxJobs still make one
    backlog. Rendered like a busy account, without holders (there may be thousands)."""

    def __init__(self, queued: int, limit: int) -> None:
        super().__init__(queued, limit, ())
        self.args = (f"tenant has {queued} jobs queued, the limit is {limit}",)


def tenant_queued(session: Session, tenant_id: str) -> int:
    """The tenant's queued jobs, read through the active set (`ix_jobs_active`)."""
    return int(
        session.scalar(
            select(func.count()).where(
                Job.tenant_id == tenant_id, job_is_active(), Job.state == JobState.QUEUED
            )
        )
        or 0
    )


def lock_for_write(session: Session, account_id: int | None = None) -> None:
    """Starts a write transaction before anything is read, so the count that follows cannot
    go stale before our insert commits."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        conn = session.connection()
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            hold_write_gate(session)  # this process's other admissions: a hand-over, not polling
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif account_id is not None:
        session.execute(select(Account.id).where(Account.id == account_id).with_for_update())


class ActiveJob(NamedTuple):
    """What the scheduler views and a busy account's refusal show of an unfinished job."""

    item_id: str
    tenant_id: str
    user_id: str
    state: str
    progress: int
    started_ms: int | None
    created_ms: int
    reply_url: str | None
    reply_ref: str | None


_ACTIVE_COLUMNS = tuple(getattr(Job, name) for name in ActiveJob._fields)


def active_jobs(session: Session, tenant_id: str, user_id: str | None = None) -> list[ActiveJob]:
    """The tenant's (or one account's) tracked unfinished jobs, in queue order.

    Columns, not ORM rows: a refusal of a full account (every 429) reads all of that account's
    active jobs under the write lock, and loading them as `Job`s decoded eight JSON columns each and
    left as many objects for the rollback to expire: 15 ms of CPU for an account of 100 jobs, three
    times an acceptance."""
    q = select(*_ACTIVE_COLUMNS).where(Job.tenant_id == tenant_id, job_is_active(), Job.tracked.is_(True))
    if user_id is not None:
        q = q.where(Job.user_id == user_id)
    rows = session.execute(q.order_by(Job.queued_ms, Job.created_ms, Job.item_id))
    return [ActiveJob(*row) for row in rows]


def busy_slots(session: Session, tenant_id: str, user_id: str) -> int:
    """Reads only the account's active jobs (`ix_jobs_active`): admission runs under the write
    lock, so its cost must follow the slots in use, never the account's history."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Job.batch_id))).where(
                Job.tenant_id == tenant_id,
                Job.user_id == user_id,
                job_is_active(),
                Job.tracked.is_(True),
            )
        )
        or 0
    )


def started_ms(job: Job | ActiveJob) -> int:
    """When a job started, or was created if no worker has started it yet."""
    return job.started_ms or job.created_ms


def _holder(job: ActiveJob) -> SlotHolder:
    return SlotHolder(job.item_id, job.tenant_id, job.user_id, started_ms(job), job.reply_url, job.reply_ref)


def engine_for(
    account: Account,
    request: JobRequest,
    ready: Callable[[str], bool] | None = None,
    source_engine: str | None = None,
) -> str:
    """The engine that makes `request`: when its model has a route (SONGFORGE_MODEL_ENGINES, and
    SONGFORGE_UPSTREAM_MODELS as `model=tempolor`), the first engine of the route's chain that
    `ready` says can take jobs (`core.availability.Readiness`: ready in this process or on a live
    worker; `acestep|embedded`: ACE-Step while a worker or this process has its weights); the last
    of the chain when none is, so that its refusal names it; else the account's
    (`requestParams.engine`). Without `ready` the chain's first engine.

    An extension (`source_engine`: the engine that made the work it continues) is not routed by
    model: a work made by the upstream is continued by the upstream (only it holds that work), and
    on an upstream account a work of ours is continued by the engine that made it (the upstream
    cannot continue ours). A work made by ACE-Step is continued by ACE-Step (its repaint task
    continues the source's own sound; the embedded engine would splice other instruments on), ready
    or not, so that a refusal names it. Otherwise it stays on the account's engine."""
    if "extend" in request.extra:
        if source_engine == config.UPSTREAM_ENGINE:
            return config.UPSTREAM_ENGINE
        if source_engine == config.ACESTEP_ENGINE:
            return config.ACESTEP_ENGINE
        if account.engine == config.UPSTREAM_ENGINE and source_engine:
            return source_engine
        return account.engine
    chain = config.model_engines().get(config.canonical_model(request.model))
    if chain:
        return next((name for name in chain if ready is None or ready(name)), chain[-1])
    return account.engine


def admit(session: Session, account: Account, *, max_jobs: int | None = None, variations: int = 1) -> int:
    """Takes the account's write lock and checks a new request fits: raises AccountBusy (no free
    slot) or TenantQueueFull; else returns the slot limit that applies. `submit` admits through it;
    so do jobs of other kinds that hold a slot while they run (lyrics written by the upstream).
    The caller inserts its jobs in the same transaction."""
    return _admit(session, account, max_jobs=max_jobs, variations=variations)[0]


def _admit(session: Session, account: Account, *, max_jobs: int | None, variations: int) -> tuple[int, int]:
    """`admit`, also returning the slots busy before this request: (limit, busy)."""
    lock_for_write(session, account.id)
    limit = max_jobs if max_jobs is not None else account.max_jobs
    busy = busy_slots(session, account.tenant_id, account.user_id)
    if busy >= limit:
        active = active_jobs(session, account.tenant_id, account.user_id)
        raise AccountBusy(busy, limit, [_holder(job) for job in active])
    # Under the account's lock only (PostgreSQL), so two accounts of one tenant admitting at the
    # same instant may pass the tenant's cap by a request: a cap against abuse, not an exact count.
    cap = config.tenant_limits().max_queued
    queued = tenant_queued(session, account.tenant_id)
    if queued + variations > cap:
        raise TenantQueueFull(queued, cap)
    return limit, busy


def _new_job_ids(session: Session, count: int) -> list[str]:
    """`count` fresh item ids, checked against the table in one query (random ids: a collision is
    all but impossible, but one would fail the whole request)."""
    while True:
        ids = list(dict.fromkeys(new_item_id() for _ in range(count)))
        if len(ids) == count and not session.scalar(select(func.count()).where(Job.item_id.in_(ids))):
            return ids


def submit(
    session: Session,
    *,
    account: Account,
    request: JobRequest,
    variations: int = VARIATIONS,
    engine: str | None = None,
) -> list[Job]:
    """Queues one request's variations for `account`, or raises AccountBusy. Call in a fresh
    transaction. `engine`: the one the caller chose with `engine_for` (and checked), else chosen here."""
    return submit_counted(session, account=account, request=request, variations=variations, engine=engine)[0]


def submit_counted(
    session: Session,
    *,
    account: Account,
    request: JobRequest,
    variations: int = VARIATIONS,
    engine: str | None = None,
) -> tuple[list[Job], int]:
    """`submit`, also returning the account's busy slots with this request in (what a submit
    answer reports), known from the admission's own count rather than counted again.

    The write lock is held from the admission to the commit, and every worker waits for the
    commit: so only what must be under it is (the counts, the id check, the insert), with the
    acceptance time (`queued_ms`) stamped last, just before the insert."""
    limit, busy = _admit(session, account, max_jobs=request.max_jobs, variations=variations)
    engine = engine if engine is not None else engine_for(account, request)
    batch_id = new_item_id()
    stored = request.to_json()
    item_ids = _new_job_ids(session, variations)
    now = now_ms()
    jobs = []
    for item_id in item_ids:
        job = Job(
            item_id=item_id,
            tenant_id=account.tenant_id,
            user_id=account.user_id,
            batch_id=batch_id,
            kind=request.kind,
            engine=engine,
            state=JobState.QUEUED,
            progress=0,
            stage=JobState.QUEUED,
            request=stored,
            seed=secrets.randbelow(2**31 - 1),
            title="",
            material={},
            lyrics=None,
            extra={},
            blobs={},
            reply_url=request.reply_url,
            reply_ref=request.reply_ref,
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
    return jobs, busy + 1  # a new batch: one more slot


def queue_positions(session: Session) -> dict[str, int]:
    """1-based position of every queued job in the fair order `core.queue.claim_next` takes them
    in: round k holds each tenant's k-th job (FIFO within a tenant), the tenants of a round in turn
    order. Exact for one worker; with several, running counts change as they claim."""
    rows = list(
        session.execute(
            select(Job.item_id, Job.tenant_id)
            .where(Job.state == JobState.QUEUED)
            .order_by(Job.queued_ms, Job.created_ms, Job.item_id)
        )
    )
    turns = tenant_turns(session, {tenant_id for _, tenant_id in rows})
    seen: dict[str, int] = {}
    keyed = []
    for fifo, (item_id, tenant_id) in enumerate(rows):
        nth = seen.get(tenant_id, 0)
        seen[tenant_id] = nth + 1
        keyed.append(((nth, *turns[tenant_id], fifo), item_id))
    keyed.sort()
    return {item_id: i + 1 for i, (_, item_id) in enumerate(keyed)}


@dataclass(frozen=True)
class Capacity:
    """One account's limit and how many of its slots are busy."""

    user_id: str
    max_jobs: int
    busy: int

    @property
    def free(self) -> int:
        return max(0, self.max_jobs - self.busy)


def capacities(session: Session, tenant_id: str) -> list[Capacity]:
    """Every account of the tenant, in no particular order."""
    accounts = list(session.scalars(select(Account).where(Account.tenant_id == tenant_id)))
    return [Capacity(a.user_id, a.max_jobs, busy_slots(session, tenant_id, a.user_id)) for a in accounts]


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
    if not rowcount(result):
        return False
    from songforge.outbox import drop_pending

    drop_pending(session, item_id)
    return True
