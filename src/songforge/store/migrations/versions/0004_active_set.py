"""The active set's index, and /metrics counters kept by triggers

Revision ID: 0004_active_set
Revises: 0003_repair_lone_surrogates
Create Date: 2026-12-02 12:00:00

Why: admission, the scheduler views and /metrics cost what the history held (issue 17). They now
read only queued and running jobs, through a partial index holding just those rows, and /metrics
reads counters instead of counting every job ever made.

Why triggers keep the counters: a job changes state in many places (admission, claims, requeues,
completion, failure, deletion, pruning, and code still being written); a trigger updates the
counters in the very transaction that changes the row, whichever code path wrote it, so they can
never drift from the rows. Only finished jobs are counted (one counter row touched per job, when
it finishes or is deleted); claims and requeues write only their queue-wait observation, so the
hot queue transitions take no lock on a shared counter row beyond that one.

The bucket bounds are frozen here (a migration must not follow later code); they equal
`songforge.http.metrics.GENERATION_BUCKETS` / `QUEUE_WAIT_BUCKETS` in milliseconds, and a change
there needs a migration that rewrites the triggers. Existing rows are counted once, at upgrade.
A later migration that rebuilds `jobs` on SQLite (Alembic's batch mode copies the table) drops its
triggers with it and must create them again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_active_set"
down_revision: str | None = "0003_repair_lone_surrogates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "state IN ('queued', 'running')"
FINAL = "('completed', 'failed')"
GENERATION_MS = (1000, 2000, 5000, 10000, 20000, 30000, 60000, 120000, 300000, 600000, 1800000)
QUEUE_WAIT_MS = (50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000, 300000, 1800000)
SQLITE_TRIGGERS = ("jobs_stats_insert", "jobs_stats_update", "jobs_stats_delete")


def _bucket(expr: str, bounds: tuple[int, ...]) -> str:
    whens = " ".join(f"WHEN {expr} <= {b} THEN {i}" for i, b in enumerate(bounds))
    return f"CASE {whens} ELSE {len(bounds)} END"


def _gen(row: str) -> str:
    return f"({row}.finished_ms - {row}.started_ms)"


def _wait(row: str) -> str:
    return f"({row}.started_ms - {row}.queued_ms)"


def _observe(metric: str, duration: str, bounds: tuple[int, ...], where: str, pg: bool) -> str:
    """One observation as an upsert. SQLite's INSERT ... SELECT needs its WHERE before ON
    CONFLICT (a parsing rule); PostgreSQL's trigger function tests the condition around it."""
    head = "INSERT INTO job_observations (metric, engine, bucket, n, sum_ms)"
    values = f"'{metric}', NEW.engine, {_bucket(duration, bounds)}, 1, {duration}"
    tail = (
        "ON CONFLICT (metric, engine, bucket) DO UPDATE SET n = job_observations.n + 1, "
        "sum_ms = job_observations.sum_ms + excluded.sum_ms"
    )
    if pg:
        return f"IF {where} THEN {head} VALUES ({values}) {tail}; END IF;"
    return f"{head} SELECT {values} WHERE {where} {tail};"


def _count_new(where: str, pg: bool) -> str:
    head = "INSERT INTO job_counts (engine, state, n)"
    tail = "ON CONFLICT (engine, state) DO UPDATE SET n = job_counts.n + 1"
    if pg:
        return f"IF {where} THEN {head} VALUES (NEW.engine, NEW.state, 1) {tail}; END IF;"
    return f"{head} SELECT NEW.engine, NEW.state, 1 WHERE {where} {tail};"


_UNCOUNT_OLD = "UPDATE job_counts SET n = n - 1 WHERE engine = OLD.engine AND state = OLD.state"
_BOTH_GEN = "NEW.started_ms IS NOT NULL AND NEW.finished_ms IS NOT NULL"
_BOTH_WAIT = "NEW.started_ms IS NOT NULL AND NEW.queued_ms IS NOT NULL"


def _sqlite_triggers() -> list[str]:
    new_final = f"NEW.state IN {FINAL}"
    gen = _observe("generation", _gen("NEW"), GENERATION_MS, f"{new_final} AND {_BOTH_GEN}", False)
    return [
        f"""CREATE TRIGGER jobs_stats_insert AFTER INSERT ON jobs BEGIN
            {_count_new(new_final, False)}
            {gen}
            {_observe("queue_wait", _wait("NEW"), QUEUE_WAIT_MS, _BOTH_WAIT, False)}
        END""",
        f"""CREATE TRIGGER jobs_stats_update AFTER UPDATE OF state ON jobs
            WHEN OLD.state IS NOT NEW.state BEGIN
            {_UNCOUNT_OLD} AND OLD.state IN {FINAL};
            {_count_new(new_final, False)}
            {_observe("generation", _gen("NEW"), GENERATION_MS,
                      f"{new_final} AND OLD.state NOT IN {FINAL} AND {_BOTH_GEN}", False)}
            {_observe("queue_wait", _wait("NEW"), QUEUE_WAIT_MS,
                      f"OLD.state = 'queued' AND NEW.state = 'running' AND {_BOTH_WAIT}", False)}
        END""",
        f"""CREATE TRIGGER jobs_stats_delete AFTER DELETE ON jobs WHEN OLD.state IN {FINAL} BEGIN
            {_UNCOUNT_OLD};
        END""",
    ]  # fmt: skip


def _pg_function() -> str:
    # OLD is NULL on INSERT and NEW on DELETE; plpgsql does not promise to short-circuit, so the
    # facts about OLD are read into variables under an IF on TG_OP first.
    new_final = f"NEW.state IN {FINAL}"
    return f"""CREATE FUNCTION songforge_jobs_stats() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_final boolean := false;
    was_queued boolean := false;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state IN {FINAL} THEN {_UNCOUNT_OLD}; END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.state IS NOT DISTINCT FROM NEW.state THEN RETURN NULL; END IF;
        was_final := OLD.state IN {FINAL};
        was_queued := OLD.state = 'queued';
        IF was_final THEN {_UNCOUNT_OLD}; END IF;
    END IF;
    {_count_new(new_final, True)}
    {_observe("generation", _gen("NEW"), GENERATION_MS,
              f"{new_final} AND NOT was_final AND {_BOTH_GEN}", True)}
    {_observe("queue_wait", _wait("NEW"), QUEUE_WAIT_MS,
              f"(TG_OP = 'INSERT' OR (was_queued AND NEW.state = 'running')) AND {_BOTH_WAIT}", True)}
    RETURN NULL;
END
$$"""  # fmt: skip


def _backfill() -> list[str]:
    """The counters for the rows already there: the same rules the triggers apply, once."""
    gen, wait = _gen("jobs"), _wait("jobs")
    return [
        "INSERT INTO job_counts (engine, state, n) SELECT engine, state, count(*) FROM jobs "
        f"WHERE state IN {FINAL} GROUP BY engine, state",
        "INSERT INTO job_observations (metric, engine, bucket, n, sum_ms) "
        f"SELECT 'generation', engine, b, count(*), sum(d) FROM (SELECT engine, "
        f"{_bucket(gen, GENERATION_MS)} AS b, {gen} AS d FROM jobs WHERE state IN {FINAL} "
        "AND started_ms IS NOT NULL AND finished_ms IS NOT NULL) AS o GROUP BY engine, b",
        "INSERT INTO job_observations (metric, engine, bucket, n, sum_ms) "
        f"SELECT 'queue_wait', engine, b, count(*), sum(d) FROM (SELECT engine, "
        f"{_bucket(wait, QUEUE_WAIT_MS)} AS b, {wait} AS d FROM jobs "
        "WHERE started_ms IS NOT NULL AND queued_ms IS NOT NULL) AS o GROUP BY engine, b",
    ]


def upgrade() -> None:
    op.create_index(
        "ix_jobs_active",
        "jobs",
        ["tenant_id", "user_id"],
        unique=False,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "job_counts",
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("engine", "state"),
    )
    op.create_table(
        "job_observations",
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("sum_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "engine", "bucket"),
    )
    for statement in _backfill():
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_function())
        op.execute(
            "CREATE TRIGGER jobs_stats AFTER INSERT OR DELETE OR UPDATE OF state ON jobs "
            "FOR EACH ROW EXECUTE FUNCTION songforge_jobs_stats()"
        )
    else:
        for statement in _sqlite_triggers():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS jobs_stats ON jobs")
        op.execute("DROP FUNCTION IF EXISTS songforge_jobs_stats()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("job_observations")
    op.drop_table("job_counts")
    op.drop_index("ix_jobs_active", table_name="jobs")
