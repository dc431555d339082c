"""polls: questions, votes, the composer's prompts; buttons on broadcasts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> storage.models.UTCDateTime:
    return storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("buttons", sa.JSON(), nullable=True))
    op.create_table(
        "polls",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("broadcast_id", BIG_ID, nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.Column("results_after_vote", sa.Boolean(), nullable=False),
        sa.Column("results_after_close", sa.Boolean(), nullable=False),
        sa.Column("publish_results", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closes_at", _utc(), nullable=False),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("results_broadcast_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_polls_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
        sa.UniqueConstraint("broadcast_id", name=op.f("uq_polls_broadcast_id")),
    )
    op.create_index(op.f("ix_polls_status"), "polls", ["status"], unique=False)
    op.create_index(op.f("ix_polls_closes_at"), "polls", ["closes_at"], unique=False)
    op.create_table(
        "poll_votes",
        sa.Column("poll_id", BIG_ID, nullable=False),
        sa.Column("resident_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("option", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=32), nullable=True),
        sa.Column("voted_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_votes_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("poll_id", "resident_id", "option", name=op.f("pk_poll_votes")),
    )
    op.create_table(
        "poll_prompts",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("poll_id", BIG_ID, nullable=True),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("done_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["polls.id"],
            name=op.f("fk_poll_prompts_poll_id_polls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_poll_prompts")),
    )


def downgrade() -> None:
    op.drop_table("poll_prompts")
    op.drop_table("poll_votes")
    op.drop_index(op.f("ix_polls_closes_at"), table_name="polls")
    op.drop_index(op.f("ix_polls_status"), table_name="polls")
    op.drop_table("polls")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("buttons")
