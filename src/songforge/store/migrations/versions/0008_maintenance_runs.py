"""Deployment-wide maintenance turns: who pruned last, and when (issue 17)

Revision ID: 0008_maintenance_runs
Revises: 0007_upstream_callback
Create Date: 2026-12-05 12:00:00

Why: retention pruning ran only in the local pool's supervisor; `songforge worker` processes run it
too now, and a deployment of many of them must prune once per interval, not once per process. One
row per task (`prune`, seeded here as never run) is taken with a conditional UPDATE of `last_ms`;
the process whose UPDATE matched does the work. A new table: nothing else is touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_maintenance_runs"
down_revision: str | None = "0007_upstream_callback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    runs = op.create_table(
        "maintenance_runs",
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("task"),
    )
    op.bulk_insert(runs, [{"task": "prune", "last_ms": 0, "holder": None}])


def downgrade() -> None:
    op.drop_table("maintenance_runs")
