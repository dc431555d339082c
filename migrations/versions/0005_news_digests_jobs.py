"""news composer, digests, RSS items and exactly-once scheduled jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> storage.models.UTCDateTime:
    return storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_digest_at", _utc(), nullable=True))

    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="news", nullable=False)
        )
        batch_op.add_column(sa.Column("scheduled_at", _utc(), nullable=True))
        batch_op.add_column(sa.Column("approved_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", _utc(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("source_ref", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("progress_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("progress_message_id", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))

    op.create_table(
        "feed_items",
        sa.Column("feed_key", sa.String(length=64), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("broadcast_id", BIG_ID, nullable=True),
        sa.Column("seen_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_feed_items_broadcast_id_broadcasts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("feed_key", "item_key", name=op.f("pk_feed_items")),
    )
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("fire_at", _utc(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("runner", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("job", "fire_at", name=op.f("pk_job_runs")),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_table("feed_items")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("body")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        for column in (
            "progress_message_id",
            "progress_chat_id",
            "source_ref",
            "source",
            "approved_at",
            "approved_by",
            "scheduled_at",
            "kind",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("last_digest_at")
