"""The job queue in the database: claiming, leases, progress, the final state, and recovery.

Workers claim the next job with a conditional UPDATE (only one claimant can turn a given row from
queued to running), then hold a lease they renew while generating. "Next" is fair across tenants
(`claim_next`): one tenant's backlog of hundreds must not make another tenant's first job wait
behind all of it, so the turn goes to the tenant with the fewest running jobs, then the one served
least recently, and only within a tenant is the queue FIFO. A worker that has only some engines
(a GPU worker in distributed mode) asks for its engines' jobs alone, in the same order. Every later
write is conditional on still holding it, so a worker that was presumed dead cannot overwrite
the outcome of the attempt that replaced it. A job whose lease runs out is queued again, at
most `MAX_ATTEMPTS` times in all, then ends FAILED with the reason.

Every change worth reporting is published (`core.events`) inside the transaction that wrote it,
so the dialects' callbacks are written to the outbox atomically with the change.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import BigInteger, String, bindparam, case, func, select, union_all, update
from sqlalchemy.orm import Session, aliased

from songforge import config
from songforge.clock import now_ms
from songforge.core import events
from songforge.core.states import ACTIVE_JOB_STATES, JobState
from songforge.store.db import Database, rowcount
from songforge.store.models import Job, Tenant, job_is_active

log = logging.getLogger("songforge.queue")

# The lease is renewed by a heartbeat every few seconds; tests shorten it to see a dead worker's
# job come back quickly (SONGFORGE_LEASE_SECONDS).
LEASE_MS = int(config.lease_seconds() * 1000)
MAX_ATTEMPTS = 3
PREFER_MAX = 16  # `claim_next(prefer=...)`: the ids a claim looks at (a wake-up names a request's few)


# The conditional UPDATE every claim goes through, built once: a claim is on the path from a
# request's acceptance to its start, and composing this statement anew cost more than running it.
# No ORM synchronisation (no object of this session holds the row); the row comes back through
# RETURNING where the database has it (SQLite 3.35+, PostgreSQL), else one read by key.
_CLAIM_VALUES: dict[str, Any] = {
    "state": JobState.RUNNING,
    "worker_id": bindparam("claim_worker"),
    "lease_until_ms": bindparam("claim_lease"),
    # Never before the acceptance: a claimant stamps its time and then may wait for the admission's
    # write lock, so its stamp can precede the commit that queued the job by that wait.
    "started_ms": case(
        (Job.queued_ms > bindparam("claim_at", type_=BigInteger), Job.queued_ms),
        else_=bindparam("claim_at", type_=BigInteger),
    ),
    "attempts": Job.attempts + 1,
    "progress": 0,
    "stage": "starting",
    "updated_ms": bindparam("claim_at"),
}
_CLAIM = (
    update(Job)
    .where(Job.item_id == bindparam("claim_item"), Job.state == JobState.QUEUED)
    .values(**_CLAIM_VALUES)
    .execution_options(synchronize_session=False)
)
_CLAIM_RETURNING = _CLAIM.returning(Job).execution_options(populate_existing=True)


def _try_claim(s: Session, item_id: str, worker_id: str, t: int) -> Job | None:
    """The conditional UPDATE every claim goes through: only a still-queued row is taken."""
    params = {"claim_item": item_id, "claim_worker": worker_id, "claim_lease": t + LEASE_MS, "claim_at": t}
    job: Job | None
    if s.get_bind().dialect.update_returning:
        job = s.execute(_CLAIM_RETURNING, params).scalars().first()
    else:
        job = s.get(Job, item_id, populate_existing=True) if rowcount(s.execute(_CLAIM, params)) else None
    if job is None:
        return None
    events.publish_job_changed(s, job, is_final=False)
    s.expunge(job)
    return job


# The claim path's reads, built once like `_CLAIM` (bound values: the tenants, the engines, the
# preferred jobs).
_RUNNING_BY_TENANT = (
    # job_is_active(): lets the planner read ix_jobs_active (active rows only) instead of
    # walking every job in tenant order for the GROUP BY (SQLite did: issue 17).
    select(Job.tenant_id, func.count().label("n"))
    .where(job_is_active(), Job.state == JobState.RUNNING)
    .group_by(Job.tenant_id)
)
_SERVED = select(Tenant.id, Tenant.served_ms).where(Tenant.id.in_(bindparam("tenants", expanding=True)))


def tenant_turns(s: Session, tenant_ids: set[str]) -> dict[str, tuple[int, int]]:
    """Each tenant's place in the fair order, as a sort key: (running jobs, last served; 0 never)."""
    running: dict[str, int] = {tenant_id: int(n) for tenant_id, n in s.execute(_RUNNING_BY_TENANT)}
    served: dict[str, int] = {
        tenant_id: int(ms or 0) for tenant_id, ms in s.execute(_SERVED, {"tenants": sorted(tenant_ids)})
    }
    return {t: (running.get(t, 0), served.get(t, 0)) for t in tenant_ids}


def _heads(engines: bool) -> Any:
    """The head of line of each tenant (of the bound `engines` when `engines`): within a tenant
    by `queued_ms`, then the claimant's own preferred job (`prefer_first`), its other preferred
    ones (`prefer_rest`), then `created_ms`, `item_id`."""
    queued = [Job.state == JobState.QUEUED]
    if engines:
        queued.append(Job.engine.in_(bindparam("engines", expanding=True)))
    preference = case(
        (Job.item_id == bindparam("prefer_first"), 0),
        (Job.item_id.in_(bindparam("prefer_rest", expanding=True)), 1),
        else_=2,
    )
    order = (Job.queued_ms, preference, Job.created_ms, Job.item_id)
    ranked = (
        select(
            Job.item_id,
            Job.tenant_id,
            Job.queued_ms,
            Job.created_ms,
            func.row_number().over(partition_by=Job.tenant_id, order_by=order).label("n"),
        )
        .where(*queued)
        .subquery()
    )
    return select(ranked.c.item_id, ranked.c.tenant_id, ranked.c.queued_ms, ranked.c.created_ms).where(
        ranked.c.n == 1
    )


def _turns(engines: bool) -> Any:
    """Each tenant's head of line (`_heads`) with what decides whose turn it is, in one statement
    (on PostgreSQL each statement of a claim was a round trip and a wake-up): the tenant's running
    jobs (`_RUNNING_BY_TENANT`, over the active rows only) and its `served_ms`."""
    heads = _heads(engines).subquery("heads")
    running = _RUNNING_BY_TENANT.subquery("running")
    return select(
        heads.c.item_id,
        heads.c.tenant_id,
        heads.c.queued_ms,
        heads.c.created_ms,
        func.coalesce(running.c.n, 0).label("running"),
        func.coalesce(Tenant.served_ms, 0).label("served"),
    ).select_from(
        heads.outerjoin(running, running.c.tenant_id == heads.c.tenant_id).outerjoin(
            Tenant, Tenant.id == heads.c.tenant_id
        )
    )


_TURNS = {False: _turns(False), True: _turns(True)}


def _claim_in_turn(engines: bool, unless: Any = None) -> Any:
    """The claim of the job whose turn it is, as one UPDATE: `_next_in_turn`'s choice (the same
    order) as its scalar subquery, the row back through RETURNING. On PostgreSQL the read and the
    claim were two round trips; on SQLite the choice is now made under the write lock the UPDATE
    takes, so no other process can take that row in between. On PostgreSQL another worker can
    still claim it first (READ COMMITTED re-checks only the row's own condition): the UPDATE then
    matches nothing and `claim_next` looks again. `unless`: a condition under which nothing is
    claimed (see `claim_next`)."""
    turns = _turns(engines).subquery("turns")
    choice = (
        select(turns.c.item_id)
        .order_by(turns.c.running, turns.c.served, turns.c.queued_ms, turns.c.created_ms, turns.c.item_id)
        .limit(1)
        .scalar_subquery()
    )
    conditions = [Job.item_id == choice, Job.state == JobState.QUEUED]
    if unless is not None:
        conditions.append(~unless)
    return (
        update(Job)
        .where(*conditions)
        .values(**_CLAIM_VALUES)
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


# Built once per shape (`unless` is a module-level expression of the caller's, so few shapes).
_CLAIMS: dict[tuple[bool, int], tuple[Any, Any]] = {}


def _claim_statement(engines: bool, unless: Any) -> Any:
    key = (engines, id(unless))
    if key not in _CLAIMS:
        _CLAIMS[key] = (unless, _claim_in_turn(engines, unless))
    return _CLAIMS[key][1]


def _waiting(engines: bool) -> Any:
    """Whether a job (of the bound `engines`) is queued: one indexed probe (`ix_jobs_state`)."""
    queued = [Job.state == JobState.QUEUED]
    if engines:
        queued.append(Job.engine.in_(bindparam("engines", expanding=True)))
    return select(Job.item_id).where(*queued).limit(1).exists()


_WAITING = {False: _waiting(False), True: _waiting(True)}


def _served_after() -> Any:
    """The claimed job's tenant was served now: strictly after every tenant with a job still
    queued (and after itself), so claims within one millisecond still rotate. One subquery,
    evaluated once: the latest of those turns plus one, or now."""
    other = aliased(Tenant)
    tenant = bindparam("served_tenant", type_=String)
    waiting = union_all(
        select(Job.tenant_id).where(job_is_active(), Job.state == JobState.QUEUED), select(tenant)
    )
    turns = union_all(
        select((other.served_ms + 1).label("at")).where(other.id.in_(waiting)),
        select(bindparam("served_at", type_=BigInteger).label("at")),
    ).subquery("turns")
    return (
        update(Tenant)
        .where(Tenant.id == tenant)
        .values(served_ms=select(func.max(turns.c.at)).scalar_subquery())
        .execution_options(synchronize_session=False)
    )


_SERVED_AFTER = _served_after()


def _turn_params(engines: Collection[str] | None, prefer: Sequence[str]) -> dict[str, Any]:
    """The bound values of `_TURNS` and of the claims built on it: the preferred jobs, the engines."""
    named = list(prefer[:PREFER_MAX])
    params: dict[str, Any] = {"prefer_first": named[0] if named else "", "prefer_rest": named[1:]}
    if engines is not None:
        params["engines"] = sorted(engines)
    return params


def _next_in_turn(
    s: Session, engines: Collection[str] | None = None, prefer: Sequence[str] = ()
) -> str | None:
    """The job whose turn it is, or None when none is queued (of `engines`, when given). `prefer`:
    job ids this claimant was woken for, its own first; among a tenant's jobs queued in the same
    millisecond (one request's variations) they go first, so two workers woken for one request's
    two variations each take their own instead of both racing for the first (the loser would pay
    a second round, and on SQLite the wait for the winner's write lock). The fair order between
    tenants, and FIFO by `queued_ms` within one, are unchanged.

    Reads only the queued and running rows (`ix_jobs_state`), in one statement (`_TURNS`): one head
    of line per tenant, the running count per tenant (of every engine: a tenant's load is its
    load), and the candidates' `tenants.served_ms`."""
    heads = s.execute(_TURNS[engines is not None], _turn_params(engines, prefer)).all()
    if not heads:
        return None
    best = min(heads, key=lambda h: (h.running, h.served, h.queued_ms, h.created_ms, h.item_id))
    return str(best.item_id)


def claim_next(
    db: Database,
    worker_id: str,
    now: int | None = None,
    engines: Collection[str] | None = None,
    prefer: Sequence[str] = (),
    unless: Any = None,
) -> Job | None:
    """Takes the next job in fair order (see the module notes) or returns None when none is queued.
    With `engines`, only a job of one of them: a worker never takes a job it has no engine for.
    `prefer`: the jobs this worker was woken for, a tie-break within one tenant (`_next_in_turn`).
    `unless`: a SQL condition (a module-level expression, built once) under which nothing is
    claimed and None returned: a local worker's uploads go first, and asking in the claim itself
    saves an idle worker's wake-up one statement (`workers.local.run_one`)."""
    if engines is not None and not engines:
        return None
    params = _turn_params(engines, prefer)
    for _ in range(8):
        with db.session() as s:
            if not s.get_bind().dialect.update_returning:
                # SQLite before 3.35 (no UPDATE ... RETURNING): the turn's read, then the conditional claim.
                if unless is not None and s.scalar(select(unless)):
                    return None
                item_id = _next_in_turn(s, engines, prefer)
                if item_id is None:
                    return None
                t = now if now is not None else now_ms()
                job = _try_claim(s, item_id, worker_id, t)
                if job is None:
                    continue  # another process took it first
                s.execute(_SERVED_AFTER, {"served_tenant": job.tenant_id, "served_at": t})
                return job
            t = now if now is not None else now_ms()
            claim = {**params, "claim_worker": worker_id, "claim_lease": t + LEASE_MS, "claim_at": t}
            job = s.execute(_claim_statement(engines is not None, unless), claim).scalars().first()
            if job is None:
                probe = [_WAITING[engines is not None]] + ([unless] if unless is not None else [])
                waiting = s.execute(select(*probe), params).first()
                if waiting is None or not waiting[0] or any(waiting[1:]):
                    return None  # nothing queued, or `unless` held
                continue  # another worker took the chosen row first: look again
            events.publish_job_changed(s, job, is_final=False)
            s.execute(_SERVED_AFTER, {"served_tenant": job.tenant_id, "served_at": t})
            s.expunge(job)
            return cast(Job, job)
    return None


def claim(db: Database, item_id: str, worker_id: str, now: int | None = None) -> Job | None:
    """Takes job `item_id` if it is still queued. The distributed queue delivers job ids at least
    once: a second delivery, or one for a job that finished or was deleted meanwhile, finds the row
    no longer queued and returns None, so it can never produce a second result."""
    with db.session() as s:
        return _try_claim(s, item_id, worker_id, now if now is not None else now_ms())


def hand_back(db: Database, owner: Any) -> list[str]:
    """Puts the running jobs matching `owner` (a condition on Job.worker_id) back in the queue
    without counting the interrupted attempt: a graceful stop should not use up a job's retries.
    Returns their ids."""
    with db.session() as s:
        where = (Job.state == JobState.RUNNING, owner)
        ids = list(s.scalars(select(Job.item_id).where(*where)))
        if ids:
            s.execute(
                update(Job)
                .where(Job.item_id.in_(ids), *where)
                .values(
                    state=JobState.QUEUED,
                    worker_id=None,
                    lease_until_ms=None,
                    progress=0,
                    stage=JobState.QUEUED,
                    attempts=Job.attempts - 1,
                    updated_ms=now_ms(),
                )
            )
    return ids


def renew_lease(db: Database, item_id: str, worker_id: str) -> bool:
    t = now_ms()
    with db.session() as s:
        return bool(
            rowcount(
                s.execute(
                    update(Job)
                    .where(Job.item_id == item_id, Job.worker_id == worker_id, Job.state == JobState.RUNNING)
                    .values(lease_until_ms=t + LEASE_MS)
                )
            )
        )


def set_progress(
    db: Database, item_id: str, worker_id: str, progress: int, stage: str, *, notify: bool
) -> bool:
    """Records progress (and renews the lease). False when this worker no longer owns the job."""
    t = now_ms()
    with db.session() as s:
        ok = rowcount(
            s.execute(
                update(Job)
                .where(Job.item_id == item_id, Job.worker_id == worker_id, Job.state == JobState.RUNNING)
                .values(
                    progress=max(0, min(99, progress)),
                    stage=stage[:32],
                    lease_until_ms=t + LEASE_MS,
                    updated_ms=t,
                )
            )
        )
        if ok and notify:
            job = s.get(Job, item_id, populate_existing=True)
            if job is not None:
                events.publish_job_changed(s, job, is_final=False)
        return bool(ok)


def complete(db: Database, item_id: str, worker_id: str, fields: dict[str, Any]) -> bool:
    """Marks the job COMPLETED with its results in one transaction. False when the job was
    deleted or taken over meanwhile; the caller then removes the files it wrote."""
    t = now_ms()
    with db.session() as s:
        ok = rowcount(
            s.execute(
                update(Job)
                .where(Job.item_id == item_id, Job.worker_id == worker_id, Job.state == JobState.RUNNING)
                .values(
                    state=JobState.COMPLETED,
                    progress=100,
                    stage=JobState.COMPLETED,
                    error=None,
                    lease_until_ms=None,
                    finished_ms=t,
                    updated_ms=t,
                    **fields,
                )
            )
        )
        if ok:
            job = s.get(Job, item_id, populate_existing=True)
            if job is not None:
                events.publish_job_changed(s, job, is_final=True)
        return bool(ok)


def fail(db: Database, item_id: str, worker_id: str | None, reason: str) -> bool:
    """Marks the job FAILED with `reason`. With worker_id None, fails it whoever holds it."""
    t = now_ms()
    with db.session() as s:
        cond = [Job.item_id == item_id, Job.state.in_(ACTIVE_JOB_STATES)]
        if worker_id is not None:
            cond.append(Job.worker_id == worker_id)
        ok = rowcount(
            s.execute(
                update(Job)
                .where(*cond)
                .values(
                    state=JobState.FAILED,
                    stage=JobState.FAILED,
                    error=reason[:2000],
                    lease_until_ms=None,
                    finished_ms=t,
                    updated_ms=t,
                )
            )
        )
        if ok:
            job = s.get(Job, item_id, populate_existing=True)
            if job is not None:
                events.publish_job_changed(s, job, is_final=True)
        return bool(ok)


def _recover(s: Session, job: Job, t: int, why: str) -> str:
    if job.attempts < MAX_ATTEMPTS:
        ok = rowcount(
            s.execute(
                update(Job)
                .where(
                    Job.item_id == job.item_id, Job.state == JobState.RUNNING, Job.worker_id == job.worker_id
                )
                .values(
                    state=JobState.QUEUED,
                    worker_id=None,
                    lease_until_ms=None,
                    progress=0,
                    stage=JobState.QUEUED,
                    updated_ms=t,
                    extra={
                        **(job.extra or {}),
                        "requeued": (job.extra or {}).get("requeued", 0) + 1,
                        "last_requeue": why,
                    },
                )
            )
        )
        return "requeued" if ok else "skipped"
    reason = f"Generation stopped: {why}, {job.attempts} attempts made"
    ok = rowcount(
        s.execute(
            update(Job)
            .where(Job.item_id == job.item_id, Job.state == JobState.RUNNING, Job.worker_id == job.worker_id)
            .values(
                state=JobState.FAILED,
                stage=JobState.FAILED,
                error=reason,
                lease_until_ms=None,
                finished_ms=t,
                updated_ms=t,
            )
        )
    )
    if ok:
        fresh = s.get(Job, job.item_id, populate_existing=True)
        if fresh is not None:
            events.publish_job_changed(s, fresh, is_final=True)
        return "failed"
    return "skipped"


def reap_expired(db: Database, now: int | None = None, requeued: list[str] | None = None) -> dict[str, int]:
    """Requeues (or fails) running jobs whose worker stopped renewing its lease. The ids of
    requeued jobs are appended to `requeued` (a distributed queue sends them out again)."""
    t = now if now is not None else now_ms()
    with db.session() as s:
        stale = list(s.scalars(select(Job).where(Job.state == JobState.RUNNING, Job.lease_until_ms < t)))
    return _recover_each(db, stale, t, "the worker stopped responding", requeued)


def _recover_each(
    db: Database, jobs: list[Job], t: int, why: str, requeued: list[str] | None = None
) -> dict[str, int]:
    """`_recover` for each of `jobs`, one transaction each; the outcomes counted, the requeued
    ids appended to `requeued`."""
    counts = {"requeued": 0, "failed": 0, "skipped": 0}
    for job in jobs:
        with db.session() as s:
            outcome = _recover(s, job, t, why)
        counts[outcome] += 1
        if outcome == "requeued" and requeued is not None:
            requeued.append(job.item_id)
    return counts


def recover_worker(
    db: Database, worker_id: str, why: str = "the worker process died", requeued: list[str] | None = None
) -> dict[str, int]:
    """The running jobs of a worker its supervisor saw die are requeued (or failed) at once, by
    the lease rules but without waiting for the lease to run out: that wait was dead time holding
    the account's slot. The attempt counts, so a job that kills its worker every time ends FAILED.
    The ids of requeued jobs are appended to `requeued`."""
    with db.session() as s:
        held = list(s.scalars(select(Job).where(Job.state == JobState.RUNNING, Job.worker_id == worker_id)))
    return _recover_each(db, held, now_ms(), why, requeued)


def timeout_reason(timeout_ms: int) -> str:
    return f"Generation timed out after {timeout_ms // 1000} s"


def fail_overdue(db: Database, timeout_ms: int, now: int | None = None) -> int:
    """Fails running jobs that started more than `timeout_ms` ago. Their worker may still renew
    the lease (a hung engine call does not stop the heartbeat thread), so the lease alone cannot
    catch them; once FAILED here, that worker's later writes are refused and its files dropped."""
    t = now if now is not None else now_ms()
    with db.session() as s:
        overdue = list(
            s.execute(
                select(Job.item_id, Job.worker_id).where(
                    Job.state == JobState.RUNNING, Job.started_ms < t - timeout_ms
                )
            )
        )
    failed = 0
    for item_id, worker_id in overdue:
        if worker_id is not None and fail(db, item_id, worker_id, timeout_reason(timeout_ms)):
            failed += 1
    return failed


def recover_orphans(db: Database, live_prefix: str) -> dict[str, int]:
    """At server start: jobs still marked running by workers of an earlier boot (the server
    was stopped or killed mid-job) are requeued or failed without waiting for their leases."""
    with db.session() as s:
        orphans = [
            j
            for j in s.scalars(select(Job).where(Job.state == JobState.RUNNING))
            if not (j.worker_id or "").startswith(live_prefix)
        ]
    return _recover_each(db, orphans, now_ms(), "the server restarted while generating")
