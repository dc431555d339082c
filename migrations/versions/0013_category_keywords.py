"""category suggester: keyword lists per category, and the suggestion made when a ticket was filed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

The lists are not seeded here: the shipped defaults (storage/data/category_keywords.json) are
copied in at the first use (storage.keyword_store.ensure_seeded), so a migration means the same
thing forever while the default lists may improve.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> storage.models.UTCDateTime:
    return storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "category_keywords",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_keywords")),
        sa.UniqueConstraint("category", "phrase", name="uq_category_keywords_term"),
    )
    # A plain ADD COLUMN (nullable, no default) works on both databases without a table copy.
    op.add_column("tickets", sa.Column("suggested_category", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("suggested_category")
    op.drop_table("category_keywords")
