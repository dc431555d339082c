"""the loop closes with the resident: ticket events (the timeline), the "resolved?" answer, and
linked tickets (a repeated appeal or a complaint after "not resolved")

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

Existing tickets get their events from their own columns (taken, extended, first answer, closed
or refused), so their timelines are not empty after the upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> storage.models.UTCDateTime:
    return storage.models.UTCDateTime(timezone=True)


# (event kind, time column, deadline column or NULL, condition) for the backfill.
_BACKFILL = (
    ("taken", "taken_at", "NULL", "taken_at IS NOT NULL"),
    ("extended", "extended_at", "deadline_at", "extended_at IS NOT NULL"),
    ("answered", "first_answer_at", "NULL", "first_answer_at IS NOT NULL"),
    ("closed", "closed_at", "NULL", "closed_at IS NOT NULL AND status = 'closed'"),
    ("refused", "closed_at", "NULL", "closed_at IS NOT NULL AND status = 'refused'"),
)


def upgrade() -> None:
    op.create_table(
        "ticket_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("ticket_id", BIG_ID, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("queue_code", sa.String(length=32), nullable=True),
        sa.Column("staff_id", sa.BigInteger(), nullable=True),
        sa.Column("deadline_at", _utc(), nullable=True),
        sa.Column("other_ticket_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_events_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index(op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id"])
    op.create_index(op.f("ix_ticket_events_at"), "ticket_events", ["at"])
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("resolution_at", _utc(), nullable=True))
        batch_op.add_column(sa.Column("parent_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("parent_link", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_parent_id_tickets"),
            "tickets",
            ["parent_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_tickets_parent_id"), ["parent_id"], unique=False)
    for kind, at, deadline, condition in _BACKFILL:
        # Static SQL (no values from outside): the same on SQLite and PostgreSQL.
        op.execute(
            "INSERT INTO ticket_events (ticket_id, at, kind, queue_code, staff_id, deadline_at) "
            f"SELECT id, {at}, '{kind}', queue_code, "
            f"{'assignee_id' if kind == 'taken' else 'NULL'}, {deadline} "
            f"FROM tickets WHERE {condition}"
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_parent_id"))
        batch_op.drop_constraint(batch_op.f("fk_tickets_parent_id_tickets"), type_="foreignkey")
        batch_op.drop_column("parent_link")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("resolution_at")
        batch_op.drop_column("resolution")
    op.drop_index(op.f("ix_ticket_events_at"), table_name="ticket_events")
    op.drop_index(op.f("ix_ticket_events_ticket_id"), table_name="ticket_events")
    op.drop_table("ticket_events")
