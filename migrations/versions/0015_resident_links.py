"""resident links: one person in Telegram and Viber (an alias identity points at its primary),
the preferred messenger, and the one-time codes that link them

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> storage.models.UTCDateTime:
    return storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: no foreign key, so SQLite need not rebuild residents
    # (a rebuild with foreign keys on would cascade into resident_topics).
    op.add_column("residents", sa.Column("linked_to", BIG_ID, nullable=True))
    op.add_column("residents", sa.Column("preferred_channel", sa.String(length=16), nullable=True))
    # Partial: only the aliases are indexed (planning scans the rest).
    op.create_index(
        "uq_residents_linked_to",
        "residents",
        ["linked_to"],
        unique=True,
        postgresql_where=sa.text("linked_to IS NOT NULL"),
        sqlite_where=sa.text("linked_to IS NOT NULL"),
    )
    op.create_table(
        "link_codes",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("resident_id", BIG_ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_link_codes_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_link_codes")),
    )
    op.create_index(op.f("ix_link_codes_resident_id"), "link_codes", ["resident_id"], unique=False)
    op.create_index(op.f("ix_link_codes_expires_at"), "link_codes", ["expires_at"], unique=False)
    # The row code attempts lock one after the other (storage/linking.py), so concurrent
    # guesses cannot pass the caps together.
    op.execute("INSERT INTO app_settings (key, value) VALUES ('link.guard', '{}')")


def downgrade() -> None:
    op.execute("DELETE FROM app_settings WHERE key = 'link.guard'")
    op.drop_index(op.f("ix_link_codes_expires_at"), table_name="link_codes")
    op.drop_index(op.f("ix_link_codes_resident_id"), table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_index("uq_residents_linked_to", table_name="residents")
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of residents with foreign keys on
    # would cascade into the tables that refer to it.
    op.drop_column("residents", "preferred_channel")
    op.drop_column("residents", "linked_to")
