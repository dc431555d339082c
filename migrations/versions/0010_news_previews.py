"""news previews: each preview's message, the state it shows, and whether a newer one replaced it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> storage.models.UTCDateTime:
    return storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "news_previews",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("broadcast_id", BIG_ID, nullable=False),
        sa.Column("shown", sa.String(length=24), nullable=False),
        sa.Column("posted_at", _utc(), nullable=False),
        sa.Column("replaced_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_news_previews_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_news_previews")),
    )
    op.create_index(
        op.f("ix_news_previews_broadcast_id"), "news_previews", ["broadcast_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_news_previews_broadcast_id"), table_name="news_previews")
    op.drop_table("news_previews")
