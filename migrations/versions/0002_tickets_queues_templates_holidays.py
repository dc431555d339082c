"""tickets, queues, templates, holidays

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )
    op.create_table(
        "holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_holidays")),
    )
    op.create_table(
        "queues",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_queues")),
    )
    op.create_table(
        "templates",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_templates")),
    )
    op.create_table(
        "ticket_counters",
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "year", name=op.f("pk_ticket_counters")),
    )
    op.create_table(
        "category_routes",
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("queue_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_code"], ["queues.code"], name=op.f("fk_category_routes_queue_code_queues")
        ),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_category_routes")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("queue_code", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("appeal_type", sa.String(length=16), nullable=True),
        sa.Column("appeal_term", sa.String(length=16), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("urgent_reason", sa.Text(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("full_name", sa.String(length=256), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("contact", sa.String(length=256), nullable=True),
        sa.Column("subject", sa.String(length=256), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("received_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("extended_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("refusal_ground", sa.String(length=32), nullable=True),
        sa.Column("refusal_comment", sa.Text(), nullable=True),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("taken_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_answer_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("erased_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("staff_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_code"], ["queues.code"], name=op.f("fk_tickets_queue_code_queues")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_tickets_resident_id_residents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_deadline_at"), ["deadline_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_queue_code"), ["queue_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_resident_id"), ["resident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_status"), ["status"], unique=False)
        batch_op.create_index("ix_tickets_thread", ["staff_chat_id", "thread_id"], unique=False)

    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("attachment_kind", sa.String(length=16), nullable=True),
        sa.Column("attachment_ref", sa.Text(), nullable=True),
        sa.Column("attachment_name", sa.String(length=256), nullable=True),
        sa.Column("staff_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_message_id", sa.BigInteger(), nullable=True),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_messages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
    )
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_messages_staff_message", ["staff_chat_id", "staff_message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticket_messages_ticket_id"), ["ticket_id"], unique=False
        )

    # The departments and routes the council starts with (editable with `citybot queue`).
    # Frozen here on purpose: a migration must mean the same thing forever.
    queues = sa.table(
        "queues",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("chat_id", sa.BigInteger),
        sa.column("is_active", sa.Boolean),
    )
    op.bulk_insert(
        queues,
        [
            {"code": code, "name": name, "chat_id": None, "is_active": True}
            for code, name in (
                ("information_policy", "Управління інформаційної політики"),
                ("housing", "Житлово-комунальне господарство"),
                ("transport", "Транспорт і дороги"),
                ("improvement", "Благоустрій"),
                ("social", "Соціальний захист"),
                ("legal_aid", "Безоплатна правнича допомога"),
                ("public_info", "Доступ до публічної інформації"),
                ("other", "Інше"),
            )
        ],
    )
    routes = sa.table(
        "category_routes", sa.column("category", sa.String), sa.column("queue_code", sa.String)
    )
    op.bulk_insert(
        routes,
        [
            {"category": category, "queue_code": queue}
            for category, queue in (
                ("housing", "housing"),
                ("roads_transport", "transport"),
                ("improvement", "improvement"),
                ("social", "social"),
                ("council_work", "information_policy"),
                ("other", "other"),
            )
        ],
    )

    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("banned_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("banned_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("erased_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("banned_by")
        batch_op.drop_column("banned_at")

    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_messages_ticket_id"))
        batch_op.drop_index("ix_ticket_messages_staff_message")

    op.drop_table("ticket_messages")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_thread")
        batch_op.drop_index(batch_op.f("ix_tickets_status"))
        batch_op.drop_index(batch_op.f("ix_tickets_resident_id"))
        batch_op.drop_index(batch_op.f("ix_tickets_received_at"))
        batch_op.drop_index(batch_op.f("ix_tickets_queue_code"))
        batch_op.drop_index(batch_op.f("ix_tickets_kind"))
        batch_op.drop_index(batch_op.f("ix_tickets_deadline_at"))

    op.drop_table("tickets")
    op.drop_table("category_routes")
    op.drop_table("ticket_counters")
    op.drop_table("templates")
    op.drop_table("queues")
    op.drop_table("holidays")
    op.drop_table("app_settings")
