"""Media monitoring (duty 12): fetch the outlets' feeds, keep the items that mention the
council, group them into stories, tag topic and tone.

Every ``CITYBOT_MEDIA_INTERVAL_MINUTES`` (one process per fire time, ``broadcasts.jobs``) each
enabled feed of ``media_feeds`` is fetched with the news import's bounded fetch
(``broadcasts.feeds``: a timeout per feed, a size cap past which a huge feed is cut and only its
start read, a conditional request with the feed's ETag and Last-Modified) and parsed with the
news import's parser (``broadcasts.rss.parse``: feedparser, HTML stripped). Feeds are fetched a
few at a time; a slow, broken or missing feed is marked ``failing`` with the reason and logged
once when it starts failing (and once when it recovers), and the others go on.

An item is kept when it mentions a watch term (``storage.media_text.Watcher``): the built-in
ones — the council and its bodies, the mayor, the seven districts (their names from the
catalog), every open incident and public consultation — and those an administrator added with
``citybot media term``.
Kept items are stored once per URL (``storage.media_store``), tagged and grouped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.feeds import Fetched, fetch_feed
from broadcasts.rss import USER_AGENT, Item, cut_text, parse
from messaging import labels
from messaging.i18n import Catalog
from storage import media_store
from storage.consultations import open_now
from storage.errors import TRY_AGAIN_LATER
from storage.incident_text import Vector, vector
from storage.incidents import list_incidents
from storage.media_text import Tagged, Watch, Watcher, same_story, tag
from storage.models import MediaFeed
from storage.vocabulary import Clock, District

log = logging.getLogger(__name__)

MAX_BYTES: Final = 2 * 1024 * 1024
TIMEOUT_SECONDS: Final = 20.0
# Feeds fetched at once.
PARALLEL: Final = 4
# Open consultations watched (the soonest to close first): a city runs a handful at a time.
CONSULTATIONS: Final = 50
# Items of one feed read per fetch (the newest first).
ITEMS_PER_FEED: Final = 200
# An item with no title is named by the start of its summary.
TITLE_FROM_SUMMARY: Final = 120
OK: Final = "ok"
CUT: Final = "cut"
NOT_MODIFIED: Final = "not_modified"
FAILING: Final = "failing"

# The council and the mayor as the media name them (an administrator adds names of people).
COUNCIL_TERMS: Final = (
    Watch("council", "міська рада"),
    Watch("council", "міськрада"),
    Watch("council", "виконком"),
    Watch("council", "виконавчий комітет"),
    Watch("council", "депутат"),
    Watch("council", "сесія міської ради"),
    Watch("council", "мерія"),
    Watch("mayor", "міський голова"),
    Watch("mayor", "мер"),
)


def district_terms(catalog: Catalog) -> list[Watch]:
    """ "Покровський район" and the rest, their names as the catalog spells them."""
    language = catalog.default
    return [
        Watch("district", f"{catalog.raw(language, labels.DISTRICT[d.value])} район")
        for d in District
        if d is not District.WHOLE_CITY
    ]


@dataclass(frozen=True, slots=True)
class FeedResult:
    feed_id: int
    status: str
    kept: int = 0


@dataclass
class MediaMonitor:
    sessionmaker: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    max_bytes: int = MAX_BYTES
    timeout_seconds: float = TIMEOUT_SECONDS
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def watcher(self) -> Watcher:
        async with self.sessionmaker() as session:
            stored = await media_store.list_terms(session)
            incidents = await list_incidents(session, open_only=True)
            consultations = await open_now(session, now=self.clock(), limit=CONSULTATIONS)
        terms = [*COUNCIL_TERMS, *district_terms(self.catalog)]
        terms += [Watch(row.kind, row.term) for row in stored]
        titles = [f"{incident.title}\n{incident.description}" for incident in incidents]
        drafts = [f"{item.title}\n{item.summary}" for item in consultations]
        # Compiling lemmatises every term: off the event loop.
        return await asyncio.to_thread(Watcher, terms, titles, drafts)

    async def run_once(self, _fire_at: datetime | None = None) -> list[FeedResult]:
        """Fetch every enabled feed once; what each gave."""
        async with self.sessionmaker() as session:
            feeds = list(await media_store.list_feeds(session, enabled_only=True))
        if not feeds:
            return []
        watcher = await self.watcher()
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        gate = asyncio.Semaphore(PARALLEL)
        async with aiohttp.ClientSession(
            timeout=timeout, headers={"User-Agent": USER_AGENT}
        ) as http:

            async def one(feed: MediaFeed) -> FeedResult:
                try:
                    async with gate:
                        fetched = await fetch_feed(
                            http,
                            feed.url,
                            max_bytes=self.max_bytes,
                            cut=True,
                            etag=feed.etag,
                            last_modified=feed.last_modified,
                        )
                    return await self.take(feed, fetched, watcher)
                except Exception:
                    # Broad on purpose: whatever one feed did (a parser bug on odd bytes), the
                    # others go on; logged with its traceback.
                    log.exception("media feed %s: not taken", feed.id)
                    return FeedResult(feed.id, FAILING)

            return list(await asyncio.gather(*(one(feed) for feed in feeds)))

    async def take(self, feed: MediaFeed, fetched: Fetched, watcher: Watcher) -> FeedResult:
        """Parse and store what a fetch gave, and record how the fetch went."""
        items: list[Item] | None = None
        error = fetched.error
        if fetched.body is not None:
            items = await asyncio.to_thread(parse, fetched.body)
            if items is None:
                error = "not an RSS or Atom feed, or not readable"
        status = (
            FAILING
            if error is not None
            else NOT_MODIFIED
            if fetched.not_modified
            else CUT
            if fetched.cut
            else OK
        )
        kept = 0
        try:
            # One feed at a time writes: grouping reads the stories the previous one made.
            async with self._lock, self.sessionmaker() as session, session.begin():
                if items:
                    kept = await self.store(session, feed, items[:ITEMS_PER_FEED], watcher)
                before = await media_store.record_fetch(
                    session,
                    feed_id=feed.id,
                    now=self.clock(),
                    status=status,
                    error=error,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                )
        except TRY_AGAIN_LATER as problem:
            log.warning("media feed %s: not stored, retrying next time: %s", feed.id, problem)
            return FeedResult(feed.id, FAILING)
        if status == FAILING and before != FAILING:
            log.warning("media feed %s (%s) is failing: %s", feed.id, feed.url, error)
        elif status != FAILING and before == FAILING:
            log.info("media feed %s (%s) works again", feed.id, feed.url)
        if status == CUT and before != CUT:
            log.info("media feed %s: over %d bytes, its start read", feed.id, self.max_bytes)
        return FeedResult(feed.id, status, kept)

    async def store(
        self, session: AsyncSession, feed: MediaFeed, items: Iterable[Item], watcher: Watcher
    ) -> int:
        now = self.clock()
        # An item is known by its address: none, or one too long to store whole, is skipped.
        linked = [item for item in items if item.link and len(item.link) <= media_store.URL_MAX]
        known = await media_store.known_urls(session, [item.link or "" for item in linked])
        fresh = [item for item in linked if item.link not in known]
        if not fresh:
            return 0
        recent = await media_store.recent_stories(session, since=now - media_store.STORY_WINDOW)
        stories: list[tuple[int, Vector]] = await asyncio.to_thread(
            lambda: [(story_id, vector(title)) for story_id, title in recent]
        )
        kept = 0
        seen: set[str] = set()
        # Oldest first, so a story is named by the outlet that told it first.
        for item in reversed(fresh):
            url = item.link or ""
            if url in seen:
                continue
            seen.add(url)
            read = await asyncio.to_thread(_read, watcher, item, stories)
            if read is None:
                continue
            terms, tagged, story_id, title_vector = read
            at = min(item.published or now, now)
            title = item.title or cut_text(item.summary, TITLE_FROM_SUMMARY)
            created = story_id is None
            if story_id is None:
                story_id = await media_store.new_story(session, title=title, at=at)
                stories.insert(0, (story_id, title_vector))
            stored = await media_store.store_item(
                session,
                item=media_store.NewItem(
                    url=url,
                    title=title,
                    summary=item.summary,
                    published_at=item.published,
                    at=at,
                    topic=tagged.topic,
                    tone=tagged.tone,
                    terms=tuple(terms),
                ),
                feed_id=feed.id,
                story_id=story_id,
                now=now,
            )
            if stored is None and created:
                await media_store.drop_empty_story(session, story_id)
                stories.pop(0)
            kept += stored is not None
        return kept


def _read(
    watcher: Watcher, item: Item, stories: list[tuple[int, Vector]]
) -> tuple[list[str], Tagged, int | None, Vector] | None:
    """The CPU part of one item (lemmatising), run in a thread: the terms it mentions (None:
    none), its tags, and the story it belongs to."""
    text = f"{item.title}\n{item.summary}"
    terms = watcher.matches(text)
    if not terms:
        return None
    story_id, title_vector = same_story(item.title, stories)
    return terms, tag(text), story_id, title_vector
