"""deliveries without foreign keys: planning a million recipients is 3-4x faster

PostgreSQL checks a foreign key with a trigger per inserted row; the two on ``deliveries`` made
most of the cost of planning a broadcast. Residents and broadcasts are never deleted (``/forget``
erases a resident's data and keeps the row), and deliveries are only written by planning from
rows read in the same statement, so the keys guarded nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deliveries_broadcast_id_broadcasts", type_="foreignkey")
        batch_op.drop_constraint("fk_deliveries_resident_id_residents", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_deliveries_resident_id_residents",
            "residents",
            ["resident_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            "fk_deliveries_broadcast_id_broadcasts",
            "broadcasts",
            ["broadcast_id"],
            ["id"],
            ondelete="CASCADE",
        )
