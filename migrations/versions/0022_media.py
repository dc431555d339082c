"""media monitoring (issue 18, part 2): outlets' feeds, the items that mention the council,
stories grouping one event across outlets, and the administrators' watch terms

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, storage.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "media_feeds",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _at("added_at"),
        _at("last_fetched_at", nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.String(length=256), nullable=True),
        sa.Column("etag", sa.String(length=256), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_feeds")),
        sa.UniqueConstraint("url", name=op.f("uq_media_feeds_url")),
    )
    op.create_table(
        "media_stories",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        _at("first_seen_at"),
        _at("last_seen_at"),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_stories")),
    )
    op.create_index(op.f("ix_media_stories_first_seen_at"), "media_stories", ["first_seen_at"])
    op.create_table(
        "media_items",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("feed_id", BIG_ID, nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        _at("published_at", nullable=True),
        _at("fetched_at"),
        _at("at"),
        sa.Column("story_id", BIG_ID, nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("tone", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("corrected_by", sa.BigInteger(), nullable=True),
        _at("corrected_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["media_feeds.id"],
            name=op.f("fk_media_items_feed_id_media_feeds"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["media_stories.id"],
            name=op.f("fk_media_items_story_id_media_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_items")),
        sa.UniqueConstraint("url", name=op.f("uq_media_items_url")),
    )
    op.create_index(op.f("ix_media_items_at"), "media_items", ["at"])
    op.create_index(op.f("ix_media_items_story_id"), "media_items", ["story_id"])
    op.create_table(
        "media_watch_terms",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("term", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lemmas", sa.String(length=512), nullable=False),
        _at("added_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_watch_terms")),
        sa.UniqueConstraint("term", name=op.f("uq_media_watch_terms_term")),
    )


def downgrade() -> None:
    op.drop_table("media_watch_terms")
    op.drop_index(op.f("ix_media_items_story_id"), table_name="media_items")
    op.drop_index(op.f("ix_media_items_at"), table_name="media_items")
    op.drop_table("media_items")
    op.drop_index(op.f("ix_media_stories_first_seen_at"), table_name="media_stories")
    op.drop_table("media_stories")
    op.drop_table("media_feeds")
