"""owed replies: what the bot still owes a resident for an update it stored

Replies leave after the commit (the webhook is answered first). A process that dies before they
went out used to lose them; now the update's claim row carries them until they are sent, and a
job sends what a dead process left behind.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owed", sa.JSON(), nullable=True))
    # Only the few rows still owing are indexed (the table holds a day of updates).
    op.create_index(
        "ix_processed_updates_owed",
        "processed_updates",
        ["processed_at"],
        postgresql_where=sa.text("owed IS NOT NULL"),
        sqlite_where=sa.text("owed IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_processed_updates_owed", table_name="processed_updates")
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.drop_column("owed")
