"""sent ticket messages: which messenger message carried which ticket's answer or notice

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sent_ticket_messages",
        sa.Column("resident_id", BIG_ID, nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sent_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_sent_ticket_messages_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_sent_ticket_messages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resident_id", "message_id", name=op.f("pk_sent_ticket_messages")),
    )
    op.create_index(
        op.f("ix_sent_ticket_messages_ticket_id"),
        "sent_ticket_messages",
        ["ticket_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sent_ticket_messages_ticket_id"), table_name="sent_ticket_messages")
    op.drop_table("sent_ticket_messages")
