"""news composer prompts and live progress reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> storage.models.UTCDateTime:
    return storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "news_prompts",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("broadcast_id", BIG_ID, nullable=True),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("done_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_news_prompts_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_news_prompts")),
    )
    op.create_table(
        "news_reports",
        sa.Column("broadcast_id", BIG_ID, nullable=False),
        sa.Column("edited_at", _utc(), nullable=True),
        sa.Column("final_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_news_reports_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("broadcast_id", name=op.f("pk_news_reports")),
    )


def downgrade() -> None:
    op.drop_table("news_reports")
    op.drop_table("news_prompts")
