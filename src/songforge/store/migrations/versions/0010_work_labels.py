"""A work's own title and favourite flag, set by its user (issue 20)

Revision ID: 0010_work_labels
Revises: 0009_deployment_settings
Create Date: 2026-12-07 12:00:00

Why: the studio's library renames works and marks favourites, and both must outlive a reload and
a restart, so they are server state (PATCH /v1/tempolor/music/{job_id}). Two columns added to
`jobs` in place: `user_title` (null: the engine's `title` stands) and `favorite` (false for every
existing row). `title` itself is left to the workers that write it, so neither overwrites the other.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_work_labels"
down_revision: str | None = "0009_deployment_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("user_title", sa.String(length=100), nullable=True))
    op.add_column("jobs", sa.Column("favorite", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # Not batch mode: rebuilding `jobs` would drop its triggers (0004). SQLite 3.35+ drops a
    # plain column in place.
    op.drop_column("jobs", "favorite")
    op.drop_column("jobs", "user_title")
