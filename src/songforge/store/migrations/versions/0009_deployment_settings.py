"""One deployment's shared settings: its id and its callback-target policy (issue 21)

Revision ID: 0009_deployment_settings
Revises: 0008_maintenance_runs
Create Date: 2026-12-06 12:00:00

Why: whether replyUrl / callback_url targets on private or loopback addresses are allowed was a
per-process flag, so an API that accepted such a target at submit and a worker started without
the flag disagreed, and the worker's deliveries failed for good. The policy is now a row here that
every process reads (`songforge.store.deployment`). The same table holds the deployment id, a uuid
written on first start and copied into the queue broker, so that an API or worker whose database
and broker name different deployments refuses to start. A new table: nothing else is touched, and
it starts empty (the id is written by the first `songforge serve` or `songforge worker`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_deployment_settings"
down_revision: str | None = "0008_maintenance_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployment_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("explicit", sa.Boolean(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("deployment_settings")
