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


def _observe(metric: str, duration: str, bounds: tuple[int, ...], where: str) -> str:
    """One observation as an upsert (SQLite, row level). INSERT ... SELECT needs a WHERE before
    ON CONFLICT there (a parsing rule), which is also where the condition goes."""
    head = "INSERT INTO job_observations (metric, engine, bucket, n, sum_ms)"
    values = f"'{metric}', NEW.engine, {_bucket(duration, bounds)}, 1, {duration}"
    tail = (
        "ON CONFLICT (metric, engine, bucket) DO UPDATE SET n = job_observations.n + 1, "
        "sum_ms = job_observations.sum_ms + excluded.sum_ms"
    )
    return f"{head} SELECT {values} WHERE {where} {tail};"


def _count_new(where: str) -> str:
    head = "INSERT INTO job_counts (engine, state, n)"
    tail = "ON CONFLICT (engine, state) DO UPDATE SET n = job_counts.n + 1"
    return f"{head} SELECT NEW.engine, NEW.state, 1 WHERE {where} {tail};"


_UNCOUNT_OLD = "UPDATE job_counts SET n = n - 1 WHERE engine = OLD.engine AND state = OLD.state"
_BOTH_GEN = "NEW.started_ms IS NOT NULL AND NEW.finished_ms IS NOT NULL"
_BOTH_WAIT = "NEW.started_ms IS NOT NULL AND NEW.queued_ms IS NOT NULL"


def _sqlite_triggers() -> list[str]:
    new_final = f"NEW.state IN {FINAL}"
    gen = _observe("generation", _gen("NEW"), GENERATION_MS, f"{new_final} AND {_BOTH_GEN}")
    return [
        f"""CREATE TRIGGER jobs_stats_insert AFTER INSERT ON jobs BEGIN
            {_count_new(new_final)}
            {gen}
            {_observe("queue_wait", _wait("NEW"), QUEUE_WAIT_MS, _BOTH_WAIT)}
        END""",
        f"""CREATE TRIGGER jobs_stats_update AFTER UPDATE OF state ON jobs
            WHEN OLD.state IS NOT NEW.state BEGIN
            {_UNCOUNT_OLD} AND OLD.state IN {FINAL};
            {_count_new(new_final)}
            {_observe("generation", _gen("NEW"), GENERATION_MS,
                      f"{new_final} AND OLD.state NOT IN {FINAL} AND {_BOTH_GEN}")}
            {_observe("queue_wait", _wait("NEW"), QUEUE_WAIT_MS,
                      f"OLD.state = 'queued' AND NEW.state = 'running' AND {_BOTH_WAIT}")}
        END""",
        f"""CREATE TRIGGER jobs_stats_delete AFTER DELETE ON jobs WHEN OLD.state IN {FINAL} BEGIN
            {_UNCOUNT_OLD};
        END""",
    ]  # fmt: skip


# PostgreSQL counts per statement, from the statement's transition tables: a row-level trigger
# would update the same counter row once per job, and PostgreSQL keeps every version of a row a
# transaction updated, so one statement inserting or deleting N finished jobs (a bulk import, a
# prune) would take time quadratic in N. `ch` is what each statement changed, in one shape for
# the three events: the old and new engine and state (NULL where the row did not exist) and the
# new row's times.
_PG_CHANGES = {
    "INSERT": "SELECT NULL::varchar AS o_engine, NULL::varchar AS o_state, n.engine AS n_engine, "
    "n.state AS n_state, n.started_ms, n.finished_ms, n.queued_ms FROM new_rows n",
    "UPDATE": "SELECT o.engine AS o_engine, o.state AS o_state, n.engine AS n_engine, n.state AS n_state, "
    "n.started_ms, n.finished_ms, n.queued_ms FROM old_rows o JOIN new_rows n USING (item_id) "
    "WHERE o.state IS DISTINCT FROM n.state",
    "DELETE": "SELECT o.engine AS o_engine, o.state AS o_state, NULL::varchar AS n_engine, "
    "NULL::varchar AS n_state, NULL::bigint AS started_ms, NULL::bigint AS finished_ms, "
    "NULL::bigint AS queued_ms FROM old_rows o",
}


def _pg_statements(ch: str) -> str:
    gen, wait = "(finished_ms - started_ms)", "(started_ms - queued_ms)"
    upsert_obs = (
        "ON CONFLICT (metric, engine, bucket) DO UPDATE SET n = job_observations.n + excluded.n, "
        "sum_ms = job_observations.sum_ms + excluded.sum_ms"
    )
    return f"""
        UPDATE job_counts c SET n = c.n - d.k FROM (
            SELECT o_engine, o_state, count(*) AS k FROM ({ch}) x WHERE o_state IN {FINAL} GROUP BY 1, 2
        ) d WHERE c.engine = d.o_engine AND c.state = d.o_state;
        INSERT INTO job_counts (engine, state, n)
            SELECT n_engine, n_state, count(*) FROM ({ch}) x WHERE n_state IN {FINAL} GROUP BY 1, 2
            ON CONFLICT (engine, state) DO UPDATE SET n = job_counts.n + excluded.n;
        INSERT INTO job_observations (metric, engine, bucket, n, sum_ms)
            SELECT 'generation', n_engine, {_bucket(gen, GENERATION_MS)}, count(*), sum({gen})
            FROM ({ch}) x WHERE n_state IN {FINAL} AND (o_state IS NULL OR o_state NOT IN {FINAL})
                AND started_ms IS NOT NULL AND finished_ms IS NOT NULL
            GROUP BY 1, 2, 3 {upsert_obs};
        INSERT INTO job_observations (metric, engine, bucket, n, sum_ms)
            SELECT 'queue_wait', n_engine, {_bucket(wait, QUEUE_WAIT_MS)}, count(*), sum({wait})
            FROM ({ch}) x WHERE (o_state IS NULL OR (o_state = 'queued' AND n_state = 'running'))
                AND started_ms IS NOT NULL AND queued_ms IS NOT NULL
            GROUP BY 1, 2, 3 {upsert_obs};"""


def _pg_function() -> str:
    # Most UPDATEs of jobs (progress, lease renewals) change no state: they return at the first test.
    return f"""CREATE FUNCTION songforge_jobs_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {_pg_statements(_PG_CHANGES["INSERT"])}
    ELSIF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS ({_PG_CHANGES["UPDATE"]}) THEN RETURN NULL; END IF;
        {_pg_statements(_PG_CHANGES["UPDATE"])}
    ELSE {_pg_statements(_PG_CHANGES["DELETE"])}
    END IF;
    RETURN NULL;
END
$$"""


PG_RUN = "EXECUTE FUNCTION songforge_jobs_stats()"
PG_TRIGGERS = {
    "jobs_stats_insert": "AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows",
    "jobs_stats_update": "AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "jobs_stats_delete": "AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows",
}


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
        for name, when in PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT {PG_RUN}")
    else:
        for statement in _sqlite_triggers():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON jobs")
        op.execute("DROP FUNCTION IF EXISTS songforge_jobs_stats()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("job_observations")
    op.drop_table("job_counts")
    op.drop_index("ix_jobs_active", table_name="jobs")
