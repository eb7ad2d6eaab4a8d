"""The upstream's callback result on its task record (issue 18)

Revision ID: 0007_upstream_callback
Revises: 0006_fair_turns
Create Date: 2026-12-05 12:00:00

Why: the upstream engine now receives the platform's callbacks (`songforge.http.upstream_callbacks`).
A callback wakes the job's worker (`callback_ms`, there since 0005) and its item is kept here, each
event's fields merged over the last, so the worker can finish from it when the upstream's query
endpoint fails. One nullable column added in place; nothing else is touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_upstream_callback"
down_revision: str | None = "0006_fair_turns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("upstream_tasks", sa.Column("callback_item", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upstream_tasks", schema=None) as batch_op:
        batch_op.drop_column("callback_item")
