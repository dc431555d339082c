"""Media monitoring in the database: the feeds and watch terms administrators manage, the items
kept (once per URL), the stories that group them, staff corrections, and what the officials'
digest reads.

Only items that mention a watch term are stored: the department watches what the media say
about the council, not every item of every outlet. An item that matched nothing is read again
at the next fetch while its feed still lists it, so a term added (or an incident opened) later
still finds it there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import MediaFeed, MediaItem, MediaStory, WatchTerm
from storage.news import insert_for
from storage.stats import PeriodRow

# Items this close in time (and title) are one story.
STORY_WINDOW: Final = timedelta(hours=48)
URL_MAX: Final = 1024
TITLE_MAX: Final = 512
SUMMARY_MAX: Final = 4000
NAME_MAX: Final = 128
TERM_MAX: Final = 128
ERROR_MAX: Final = 256


# -- feeds ---------------------------------------------------------------------------------------


async def add_feed(
    session: AsyncSession, *, url: str, name: str, now: datetime
) -> tuple[MediaFeed, bool]:
    """The feed of ``url`` (added, or enabled again if it was there); True when it is new."""
    found = await session.scalar(select(MediaFeed).where(MediaFeed.url == url))
    if found is not None:
        found.enabled = True
        found.name = name or found.name
        return found, False
    feed = MediaFeed(url=url, name=name or url[:NAME_MAX], enabled=True, added_at=now)
    session.add(feed)
    await session.flush()
    return feed, True


async def list_feeds(session: AsyncSession, *, enabled_only: bool = False) -> Sequence[MediaFeed]:
    query = select(MediaFeed).order_by(MediaFeed.id)
    if enabled_only:
        query = query.where(MediaFeed.enabled.is_(True))
    return (await session.scalars(query)).all()


async def remove_feed(session: AsyncSession, feed_id: int) -> MediaFeed | None:
    """Stop fetching a feed: it is disabled, not deleted, so its items keep their outlet."""
    feed = await session.get(MediaFeed, feed_id)
    if feed is not None:
        feed.enabled = False
    return feed


async def record_fetch(
    session: AsyncSession,
    *,
    feed_id: int,
    now: datetime,
    status: str,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> str | None:
    """What a fetch of the feed found; returns the status it had before (None: never). A
    failing fetch forgets the validators: a broken body must not be confirmed by a 304."""
    feed = await session.get(MediaFeed, feed_id)
    if feed is None:
        return None
    before = feed.last_status
    feed.last_fetched_at = now
    feed.last_status = status
    feed.last_error = error[:ERROR_MAX] if error else None
    if status == "failing":
        etag = last_modified = None
    if status != "not_modified":
        feed.etag = etag[:256] if etag else None
        feed.last_modified = last_modified[:64] if last_modified else None
    return before


# -- watch terms ---------------------------------------------------------------------------------


async def add_term(
    session: AsyncSession, *, term: str, kind: str, lemmas: str, now: datetime
) -> tuple[WatchTerm, bool]:
    found = await session.scalar(select(WatchTerm).where(WatchTerm.term == term))
    if found is not None:
        return found, False
    row = WatchTerm(term=term, kind=kind, lemmas=lemmas[:512], added_at=now)
    session.add(row)
    await session.flush()
    return row, True


async def list_terms(session: AsyncSession) -> Sequence[WatchTerm]:
    return (await session.scalars(select(WatchTerm).order_by(WatchTerm.kind, WatchTerm.term))).all()


async def remove_term(session: AsyncSession, term: str) -> bool:
    result = await session.execute(delete(WatchTerm).where(WatchTerm.term == term))
    return bool(getattr(result, "rowcount", 0))


# -- items and stories ---------------------------------------------------------------------------


async def known_urls(session: AsyncSession, urls: Sequence[str]) -> set[str]:
    if not urls:
        return set()
    found = await session.scalars(select(MediaItem.url).where(MediaItem.url.in_(urls)))
    return set(found)


async def recent_stories(session: AsyncSession, *, since: datetime) -> list[tuple[int, str]]:
    """Stories still open to new items: (id, title), newest first."""
    result = await session.execute(
        select(MediaStory.id, MediaStory.title)
        .where(MediaStory.last_seen_at >= since)
        .order_by(MediaStory.last_seen_at.desc())
        .limit(2000)
    )
    return [(row[0], row[1]) for row in result]


@dataclass(frozen=True, slots=True)
class NewItem:
    url: str
    title: str
    summary: str
    published_at: datetime | None
    at: datetime
    topic: str
    tone: str
    terms: tuple[str, ...]


async def new_story(session: AsyncSession, *, title: str, at: datetime) -> int:
    story = MediaStory(title=title[:TITLE_MAX], first_seen_at=at, last_seen_at=at, items=0)
    session.add(story)
    await session.flush()
    return story.id


async def store_item(
    session: AsyncSession, *, item: NewItem, feed_id: int | None, story_id: int, now: datetime
) -> int | None:
    """Insert the item unless its URL is stored (by any feed, any process); its id if new."""
    values = {
        "feed_id": feed_id,
        "url": item.url[:URL_MAX],
        "title": item.title[:TITLE_MAX],
        "summary": item.summary[:SUMMARY_MAX],
        "published_at": item.published_at,
        "fetched_at": now,
        "at": item.at,
        "story_id": story_id,
        "topic": item.topic,
        "tone": item.tone,
        "terms": list(item.terms),
    }
    result = await session.execute(
        insert_for(session)(MediaItem)
        .values(values)
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(MediaItem.id)
    )
    item_id = result.scalar_one_or_none()
    if item_id is not None:
        story = await session.get(MediaStory, story_id)
        if story is not None:
            story.items += 1
            story.last_seen_at = max(story.last_seen_at, item.at)
    return item_id


async def drop_empty_story(session: AsyncSession, story_id: int) -> None:
    await session.execute(
        delete(MediaStory).where(MediaStory.id == story_id, MediaStory.items == 0)
    )


async def correct_item(
    session: AsyncSession,
    *,
    item_id: int,
    topic: str | None,
    tone: str | None,
    staff_id: int,
    now: datetime,
) -> tuple[MediaItem, dict[str, str]] | None:
    """Set an item's topic and/or tone by hand; the item and what it had before (None: no
    such item)."""
    item = await session.get(MediaItem, item_id, with_for_update=True)
    if item is None:
        return None
    before = {"topic": item.topic, "tone": item.tone}
    if topic is not None:
        item.topic = topic
    if tone is not None:
        item.tone = tone
    item.corrected_by = staff_id
    item.corrected_at = now
    return item, before


async def recent_items(
    session: AsyncSession, *, since: datetime, limit: int
) -> list[tuple[MediaItem, str | None]]:
    """Items kept since ``since``, newest first, with their outlet's name."""
    result = await session.execute(
        select(MediaItem, MediaFeed.name)
        .outerjoin(MediaFeed, MediaFeed.id == MediaItem.feed_id)
        .where(MediaItem.at >= since)
        .order_by(MediaItem.at.desc(), MediaItem.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in result]


# -- what the digest reads -----------------------------------------------------------------------


async def mentions_by(
    session: AsyncSession, column: str, *, start: datetime, end: datetime, previous_start: datetime
) -> list[PeriodRow]:
    """Items of [start, end) and of [previous_start, start) per topic or tone."""
    key = MediaItem.topic if column == "topic" else MediaItem.tone
    current = func.coalesce(func.sum(case((MediaItem.at >= start, 1), else_=0)), 0)
    result = await session.execute(
        select(key, current, func.count() - current)
        .where(MediaItem.at >= previous_start, MediaItem.at < end)
        .group_by(key)
    )
    rows = [PeriodRow(key=str(row[0]), current=int(row[1]), previous=int(row[2])) for row in result]
    return sorted(rows, key=lambda r: (-r.current, -r.previous, r.key))


@dataclass(frozen=True, slots=True)
class StoryLine:
    story_id: int
    title: str
    topic: str
    tone: str
    outlets: int
    links: tuple[tuple[str, str], ...]  # (outlet, url), first seen first


async def top_stories(
    session: AsyncSession, *, start: datetime, end: datetime, limit: int = 5, links: int = 3
) -> list[StoryLine]:
    """The period's stories told by the most outlets (then the newest), with their links."""
    counted = (
        select(
            MediaItem.story_id,
            func.count(func.distinct(func.coalesce(MediaItem.feed_id, -MediaItem.id))).label("n"),
            func.max(MediaItem.at).label("last"),
        )
        .where(MediaItem.at >= start, MediaItem.at < end)
        .group_by(MediaItem.story_id)
        .order_by(
            func.count(func.distinct(func.coalesce(MediaItem.feed_id, -MediaItem.id))).desc(),
            func.max(MediaItem.at).desc(),
            MediaItem.story_id.desc(),
        )
        .limit(limit)
    )
    ranked = [(row[0], int(row[1])) for row in await session.execute(counted)]
    lines: list[StoryLine] = []
    for story_id, outlets in ranked:
        result = await session.execute(
            select(MediaItem, MediaFeed.name)
            .outerjoin(MediaFeed, MediaFeed.id == MediaItem.feed_id)
            .where(MediaItem.story_id == story_id, MediaItem.at >= start, MediaItem.at < end)
            .order_by(MediaItem.at, MediaItem.id)
        )
        items = [(row[0], row[1] or "—") for row in result]
        first = items[0][0]
        tones = [item.tone for item, _name in items]
        tone = max(set(tones), key=lambda t: (tones.count(t), t == first.tone))
        lines.append(
            StoryLine(
                story_id=story_id,
                title=first.title,
                topic=first.topic,
                tone=tone,
                outlets=outlets,
                links=tuple((name, item.url) for item, name in items[:links]),
            )
        )
    return lines


async def tone_by_week(
    session: AsyncSession, *, end: datetime, weeks: int
) -> list[tuple[datetime, dict[str, int]]]:
    """Items per tone in each of the ``weeks`` weeks before ``end`` (oldest first)."""
    start = end - timedelta(weeks=weeks)
    result = await session.execute(
        select(MediaItem.at, MediaItem.tone).where(MediaItem.at >= start, MediaItem.at < end)
    )
    buckets: list[tuple[datetime, dict[str, int]]] = [
        (start + timedelta(weeks=index), {}) for index in range(weeks)
    ]
    for at, tone in result:
        index = min(int((at - start) / timedelta(weeks=1)), weeks - 1)
        counts = buckets[index][1]
        counts[tone] = counts.get(tone, 0) + 1
    return buckets
