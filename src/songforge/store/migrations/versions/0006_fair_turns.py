"""The fair queue's turns and lost callbacks on the job (issue 21)

Revision ID: 0006_fair_turns
Revises: 0005_upstream_pool
Create Date: 2026-12-04 12:00:00

Why: claims were machine-wide FIFO, so one tenant's backlog of hundreds made another tenant's first
job wait behind all of it. `songforge.core.queue.claim_next` now gives the turn to the tenant with
the fewest running jobs, then to the one served least recently; `tenants.served_ms` records that
turn, one nullable column (never served: NULL).

`jobs.callback_error`: a callback event that failed for good used to be visible only in the log and
the outbox; the job's record now says so. Both columns are added in place: no table is rebuilt, so
the triggers of 0004 on `jobs` stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_fair_turns"
down_revision: str | None = "0005_upstream_pool"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("served_ms", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("callback_error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "callback_error")  # not batch mode: rebuilding jobs would drop its triggers
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("served_ms")
