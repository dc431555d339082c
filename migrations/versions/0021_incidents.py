"""incidents (issue 17): one problem many residents report, the tickets linked to it, the
residents who follow it, its status updates and the residents' "resolved for you?" answers

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, storage.models.UTCDateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("districts", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _at("expected_at", nullable=True),
        _at("opened_at"),
        _at("resolved_at", nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_status"), "incidents", ["status"])
    op.create_index(op.f("ix_incidents_opened_at"), "incidents", ["opened_at"])
    op.create_table(
        "incident_tickets",
        sa.Column("ticket_id", BIG_ID, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("linked_by", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=True),
        _at("linked_at"),
        _fk("incident_tickets", "ticket_id", "tickets"),
        _fk("incident_tickets", "incident_id", "incidents"),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_incident_tickets")),
    )
    op.create_index(op.f("ix_incident_tickets_incident_id"), "incident_tickets", ["incident_id"])
    op.create_table(
        "incident_followers",
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("resident_id", BIG_ID, nullable=False),
        _at("followed_at"),
        _fk("incident_followers", "incident_id", "incidents"),
        _fk("incident_followers", "resident_id", "residents"),
        sa.PrimaryKeyConstraint("incident_id", "resident_id", name=op.f("pk_incident_followers")),
    )
    op.create_index("ix_incident_followers_resident", "incident_followers", ["resident_id"])
    op.create_table(
        "incident_updates",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=True),
        _at("at"),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("news_broadcast_id", BIG_ID, nullable=True),
        _fk("incident_updates", "incident_id", "incidents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_updates")),
    )
    op.create_index(op.f("ix_incident_updates_incident_id"), "incident_updates", ["incident_id"])
    op.create_table(
        "incident_answers",
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("resident_id", BIG_ID, nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("ticket_id", BIG_ID, nullable=True),
        _at("at"),
        _fk("incident_answers", "incident_id", "incidents"),
        _fk("incident_answers", "resident_id", "residents"),
        sa.PrimaryKeyConstraint("incident_id", "resident_id", name=op.f("pk_incident_answers")),
    )


def downgrade() -> None:
    op.drop_table("incident_answers")
    op.drop_index(op.f("ix_incident_updates_incident_id"), table_name="incident_updates")
    op.drop_table("incident_updates")
    op.drop_index("ix_incident_followers_resident", table_name="incident_followers")
    op.drop_table("incident_followers")
    op.drop_index(op.f("ix_incident_tickets_incident_id"), table_name="incident_tickets")
    op.drop_table("incident_tickets")
    op.drop_index(op.f("ix_incidents_opened_at"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_status"), table_name="incidents")
    op.drop_table("incidents")
