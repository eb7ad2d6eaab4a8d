"""Open API keys and the callback acknowledgement rule (the /open-apis/v1 dialect)

Revision ID: 0002_openapi_keys
Revises: 0001
Create Date: 2026-11-21 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_openapi_keys"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_key_hash"), ["key_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_api_keys_tenant_id"), ["tenant_id"], unique=False)
    with op.batch_alter_table("callback_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ack_body", sa.String(length=64), nullable=True))
    with op.batch_alter_table("stems_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("openapi", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stems_tasks", schema=None) as batch_op:
        batch_op.drop_column("openapi")
    with op.batch_alter_table("callback_deliveries", schema=None) as batch_op:
        batch_op.drop_column("ack_body")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_api_keys_key_hash"))
    op.drop_table("api_keys")
