"""Fair claims across tenants (`core.queue.claim_next`): a tenant's backlog never starves another
tenant's first job, and within one tenant the queue stays FIFO."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from songforge.clock import now_ms
from songforge.core import accounts, queue, scheduler, tenants
from songforge.core.jobs import JobRequest
from songforge.store.db import Database
from songforge.store.models import Account, Job

BACKLOG = 756


def _tenant(db: Database, name: str) -> str:
    with db.session() as s:
        tenant_id = tenants.create_token(s, name).tenant_id
        accounts.upsert_account(s, tenant_id, {"user_id": "u"}, 100)
        return tenant_id


def _queue(db: Database, tenant_id: str, n: int, t0: int) -> list[str]:
    """`n` queued jobs for the tenant, queued one millisecond apart from `t0` (bulk, as admission
    would leave them over time)."""
    rows = []
    for i in range(n):
        t = t0 + i
        rows.append(
            dict(
                item_id=f"{tenant_id}x{i:05d}", tenant_id=tenant_id, user_id="u", batch_id=f"{tenant_id}b{i}",
                kind="instrumental", engine="embedded", state="queued", progress=0, stage="queued",
                request={}, seed=i, title="", material={}, lyrics=None, extra={}, blobs={}, max_jobs=100,
                tracked=True, attempts=0, created_ms=t, queued_ms=t, updated_ms=t,
            )
        )  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(insert(Job.__table__), rows)
    return [r["item_id"] for r in rows]


def test_second_tenant_is_served_next_not_after_the_backlog(db: Database) -> None:
    """One worker claiming one job at a time: the second tenant's first job is the second claim."""
    t0 = now_ms() - 10_000_000
    big = _tenant(db, "big")
    small = _tenant(db, "small")
    backlog = _queue(db, big, BACKLOG, t0)
    (first_small,) = _queue(db, small, 1, t0 + BACKLOG + 5)
    claimed = []
    for _ in range(3):
        job = queue.claim_next(db, "w1")
        assert job is not None
        claimed.append(job.item_id)
        assert queue.complete(db, job.item_id, "w1", {})
    assert claimed == [backlog[0], first_small, backlog[1]]


def test_round_robin_between_backlogs_and_fifo_within_each(db: Database) -> None:
    t0 = now_ms() - 10_000_000
    a, b, c = (_tenant(db, n) for n in "abc")
    qa = _queue(db, a, 6, t0)
    qb = _queue(db, b, 3, t0 + 100)
    qc = _queue(db, c, 2, t0 + 200)
    with db.session() as s:
        positions = scheduler.queue_positions(s)
    order = []
    while (job := queue.claim_next(db, "w1")) is not None:
        order.append(job.item_id)
        queue.complete(db, job.item_id, "w1", {})
    assert sorted(order) == sorted(qa + qb + qc)
    # FIFO within every tenant
    for q in (qa, qb, qc):
        assert [i for i in order if i in q] == q
    # turns: a, b, c, a, b, c, a, b, then a's remaining three
    assert order[:8] == [qa[0], qb[0], qc[0], qa[1], qb[1], qc[1], qa[2], qb[2]]
    # the queue positions GET /scheduler/ reports are the order the jobs were claimed in
    assert sorted(positions, key=positions.__getitem__) == order


def test_fewest_running_goes_first(db: Database) -> None:
    """Several workers: a tenant already holding workers waits while another has none."""
    t0 = now_ms() - 10_000_000
    big = _tenant(db, "big")
    small = _tenant(db, "small")
    backlog = _queue(db, big, 20, t0)
    mine = _queue(db, small, 3, t0 + 1000)
    running = [queue.claim_next(db, f"w{i}") for i in range(4)]
    got = [j.item_id for j in running if j is not None]
    # two each: whoever holds fewer running jobs is served, whatever the queue order says
    assert got == [backlog[0], mine[0], backlog[1], mine[1]]


def test_a_claim_prefers_the_variation_it_was_woken_for_without_jumping_the_order(db: Database) -> None:
    """`prefer` (the jobs a worker was woken for) breaks the tie among one request's variations
    only: two workers woken for a request's two variations each take their own, but a preferred
    job never passes an older job of its tenant, nor another tenant whose turn it is."""
    t0 = now_ms() - 10_000_000
    a = _tenant(db, "a")
    with db.session() as s:
        account = s.scalars(select(Account).where(Account.tenant_id == a)).one()
        request = JobRequest(kind="instrumental", prompt="x", model="i4")
        jobs = scheduler.submit(s, account=account, request=request)
        first, second = sorted(j.item_id for j in jobs)  # the order claims take them in by default
    job = queue.claim_next(db, "w1", prefer=[second, first])
    assert job is not None and job.item_id == second  # without the preference: `first` (item id order)
    other = queue.claim_next(db, "w2", prefer=[second])  # a stale preference: the next one in line
    assert other is not None and other.item_id == first

    older, newer = _queue(db, a, 2, t0)
    b = _tenant(db, "b")
    (b_job,) = _queue(db, b, 1, t0 + 10)
    # tenant a has 2 running now: b's turn, whatever a's workers prefer; then a's older job first
    taken = [queue.claim_next(db, f"w{i}", prefer=[newer]) for i in range(3)]
    assert [j.item_id if j else None for j in taken] == [b_job, older, newer]


def test_claims_without_update_returning(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the database has no UPDATE ... RETURNING (SQLite before 3.35), a claim reads the row
    it took by key: the same job, and still only one claimant wins it."""
    monkeypatch.setattr(db.engine.dialect, "update_returning", False)
    t0 = now_ms() - 10_000_000
    (item_id,) = _queue(db, _tenant(db, "old"), 1, t0)
    job = queue.claim_next(db, "w1")
    assert job is not None and job.item_id == item_id
    assert job.state == "running" and job.worker_id == "w1" and job.attempts == 1
    assert queue.claim(db, item_id, "w2") is None
