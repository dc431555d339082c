"""Media monitoring for officials (duty 12): the outlets' feeds, the items that mention the
council (``broadcasts.media_monitor``), the stories that group one event across outlets, and
the watch terms administrators add (``citybot media term``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId


class MediaFeed(Base):
    """An outlet's RSS/Atom feed, with what its last fetch found: ``last_status`` is ``ok``,
    ``not_modified`` (HTTP 304), ``cut`` (over the size cap: its start was read) or
    ``failing`` (``last_error`` says why); ``etag`` and ``last_modified`` make the next fetch
    conditional."""

    __tablename__ = "media_feeds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(1024), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(default=True)
    added_at: Mapped[datetime]
    last_fetched_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(String(256))
    etag: Mapped[str | None] = mapped_column(String(256))
    last_modified: Mapped[str | None] = mapped_column(String(64))


class MediaStory(Base):
    """One event as several outlets told it: the items whose titles are close enough within
    the grouping window (``storage.media_store.STORY_WINDOW``)."""

    __tablename__ = "media_stories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime]
    items: Mapped[int] = mapped_column(Integer, default=1)


class MediaItem(Base):
    """An item of a feed that matched a watch term; stored once per URL, whichever feed or
    fetch brought it. ``topic`` is a ticket category (so the digest sets media beside
    residents' tickets), ``tone`` positive, neutral or negative; ``corrected_by`` is the staff
    account that last set them by hand."""

    __tablename__ = "media_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("media_feeds.id", ondelete="SET NULL")
    )
    url: Mapped[str] = mapped_column(String(1024), unique=True)
    title: Mapped[str] = mapped_column(String(512))
    summary: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime]
    # When it counts in the digest: published, or fetched when the feed gave no date (and
    # never later than fetched: a date in the future is the outlet's mistake).
    at: Mapped[datetime] = mapped_column(index=True)
    story_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("media_stories.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(32))
    tone: Mapped[str] = mapped_column(String(16))
    # The watch terms the item matched, as "kind:term" (the digest and the CLI show them).
    terms: Mapped[list[str]] = mapped_column(JSON)
    corrected_by: Mapped[int | None] = mapped_column(BigInteger)
    corrected_at: Mapped[datetime | None]


class WatchTerm(Base):
    """A word or phrase an item must mention to be kept, added by an administrator (the
    built-in ones, the council, the districts and open incidents, are not stored). ``lemmas``:
    the dictionary forms its words are matched by, shown by ``citybot media term list``."""

    __tablename__ = "media_watch_terms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    term: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    lemmas: Mapped[str] = mapped_column(String(512))
    added_at: Mapped[datetime]
