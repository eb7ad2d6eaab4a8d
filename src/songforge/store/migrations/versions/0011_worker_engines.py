"""Which engines each worker has, and whether each is ready there (issue 16)

Revision ID: 0011_worker_engines
Revises: 0010_work_labels
Create Date: 2026-12-08 12:00:00

Why: `songforge engines`, /metrics and the studio's model list must say which engines the workers
have and whether they are ready, and the workers run in other processes (the local pool) or on other
machines (`songforge worker`). Each worker writes one row per engine at start and on its heartbeat,
with a last-seen time so that a worker that stopped drops out (`songforge.store.worker_engines`).
A new table: nothing else is touched, and it starts empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_worker_engines"
down_revision: str | None = "0010_work_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_engines",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("seen_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", "engine"),
    )
    op.create_index("ix_worker_engines_seen_ms", "worker_engines", ["seen_ms"])


def downgrade() -> None:
    op.drop_index("ix_worker_engines_seen_ms", table_name="worker_engines")
    op.drop_table("worker_engines")
