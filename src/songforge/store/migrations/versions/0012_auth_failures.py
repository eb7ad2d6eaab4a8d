"""Failed sign-ins counted once for every API process (issue 17)

Revision ID: 0012_auth_failures
Revises: 0011_worker_engines
Create Date: 2026-12-09 12:00:00

Why: with more than one API process (`serve --api-processes`, now 2 by default on a machine with two
cores or more) each counted a client's failed sign-ins on its own, so an address got the limit once
per process. One row per address that failed within the current window, counted by an upsert
(`songforge.store.auth_failures`). A new table: nothing else is touched, and it starts empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_auth_failures"
down_revision: str | None = "0011_worker_engines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("window_ms", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_auth_failures_window_ms", "auth_failures", ["window_ms"])


def downgrade() -> None:
    op.drop_index("ix_auth_failures_window_ms", table_name="auth_failures")
    op.drop_table("auth_failures")
