"""The upstream engine's key pool and its per-job task records (issue 18)

Revision ID: 0005_upstream_pool
Revises: 0004_active_set
Create Date: 2026-12-03 12:00:00

Two new tables, nothing else touched: `upstream_keys` (the pool, keys Fernet-encrypted) and
`upstream_tasks` (which key a job holds, and the upstream's task id, stored before polling).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_upstream_pool"
down_revision: str | None = "0004_active_set"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upstream_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=1024), nullable=False),
        sa.Column("key_cipher", sa.Text(), nullable=False),
        sa.Column("hint", sa.String(length=32), nullable=False),
        sa.Column("max_jobs", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "upstream_tasks",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("callback_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_upstream_tasks_key_state", "upstream_tasks", ["key_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_upstream_tasks_key_state", table_name="upstream_tasks")
    op.drop_table("upstream_tasks")
    op.drop_table("upstream_keys")
