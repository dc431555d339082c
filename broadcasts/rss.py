"""RSS/Atom import of the council website's news.

Every ``CITYBOT_RSS_INTERVAL_MINUTES`` each feed of ``CITYBOT_RSS_FEEDS`` is fetched with aiohttp
(a timeout, a size limit; errors are logged, never raised) and parsed with ``feedparser``. Each
item is known by the SHA-256 of its id (or link, or title and summary) in ``feed_items``; it is
recorded with one ``INSERT … ON CONFLICT DO NOTHING``, so of two processes fetching the same feed
only one gets each new item, and an item becomes at most one draft.

A new item becomes a draft news item (title, summary without HTML, link; ``source='rss'``, topic
"city news") that the editors publish by hand. A feed prefixed ``auto:`` publishes its new items at
once (their progress is reported in the editors' chat).

The first fetch of a feed does not flood the editors: every item in it is recorded as seen and
only the newest ``FIRST_FETCH_DRAFTS`` (3) become drafts — none is auto-published, even from an
``auto:`` feed, since they may be days old. Later fetches turn at most ``MAX_PER_FETCH`` new items
into drafts (the newest; the rest are recorded as seen and logged).
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import html
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
import feedparser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.feeds import fetch_feed
from storage import audit, news
from storage.broadcasts import create_broadcast
from storage.errors import TRY_AGAIN_LATER
from storage.planning import plan_broadcast
from storage.vocabulary import Clock, Topic

log = logging.getLogger(__name__)

AUTO_PREFIX: Final = "auto:"
SOURCE: Final = "rss"
FIRST_FETCH_DRAFTS: Final = 3
MAX_PER_FETCH: Final = 10
MAX_BYTES: Final = 2 * 1024 * 1024
TIMEOUT: Final = aiohttp.ClientTimeout(total=30, connect=10)
TITLE_MAX: Final = 250
SUMMARY_MAX: Final = 1500
USER_AGENT: Final = "citybot-rss/1.0 (+https://kr.gov.ua)"


@dataclass(frozen=True, slots=True)
class Feed:
    url: str
    auto: bool = False

    @property
    def key(self) -> str:
        return hashlib.sha256(self.url.encode()).hexdigest()


def parse_feed_list(values: Iterable[str]) -> tuple[Feed, ...]:
    """``https://a/rss`` or ``auto:https://b/rss`` (auto-publish)."""
    feeds: list[Feed] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        auto = value.lower().startswith(AUTO_PREFIX)
        feeds.append(Feed(url=value[len(AUTO_PREFIX) :].strip() if auto else value, auto=auto))
    return tuple(feeds)


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    link: str | None
    title: str
    summary: str
    published: datetime | None


@dataclass(frozen=True, slots=True)
class Imported:
    broadcast_id: int
    feed: Feed
    published: bool  # auto-published (sending), otherwise a draft


_BREAKS = re.compile(r"<\s*(?:br|/p|/div|/li|/h\d)\s*/?\s*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n\s*\n+")


def strip_html(value: str) -> str:
    """Plain text of an HTML fragment (feed summaries): tags dropped, entities decoded."""
    text = _BREAKS.sub("\n", value)
    text = _TAGS.sub("", text)
    text = html.unescape(text)
    text = _SPACES.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    return _LINES.sub("\n\n", "\n".join(lines)).strip()


def cut_text(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, cut at a word where one is near, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _published(entry: Mapping[str, Any]) -> datetime | None:
    for field in ("published_parsed", "updated_parsed"):
        value = entry.get(field)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return None


def parse(data: bytes) -> list[Item] | None:
    """The feed's items, newest first; None if it is not a feed we can read (the caller logs
    that, in its own words and as often as it needs)."""
    parsed = feedparser.parse(data)
    entries = list(parsed.get("entries") or [])
    if not entries and not parsed.get("version"):
        log.debug("not an RSS or Atom feed: %s", parsed.get("bozo_exception"))
        return None
    items: list[Item] = []
    for entry in entries:
        title = strip_html(str(entry.get("title") or "")).replace("\n", " ")
        summary = strip_html(str(entry.get("summary") or ""))
        link = str(entry.get("link") or "") or None
        identity = str(entry.get("id") or "") or link or f"{title}\n{summary}"
        if not (title or summary):
            continue
        key = hashlib.sha256(identity.encode()).hexdigest()
        items.append(Item(key, link, title, summary, _published(entry)))
    if parsed.get("bozo"):
        if not items:
            log.debug("feed not readable: %s", parsed.get("bozo_exception"))
            return None
        # feedparser's lenient parser recovered the items: use them, but say so.
        log.info("feed not well-formed, %d item(s) recovered", len(items))
    # Newest first: by date where the feed gives one, otherwise in feed order (newest first).
    dated = all(item.published is not None for item in items)
    if dated:
        items.sort(
            key=lambda item: item.published or datetime.min.replace(tzinfo=UTC), reverse=True
        )
    return items


def draft_text(item: Item) -> str:
    """Catalog-style markup (<b>) with everything from the feed escaped."""
    parts: list[str] = []
    if item.title:
        parts.append(f"<b>{html.escape(cut_text(item.title, TITLE_MAX), quote=False)}</b>")
    if item.summary and item.summary != item.title:
        parts.append(html.escape(cut_text(item.summary, SUMMARY_MAX), quote=False))
    if item.link:
        parts.append(html.escape(item.link, quote=False))
    return "\n\n".join(parts)


class RssImporter:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        feeds: Iterable[Feed],
        clock: Clock,
        report_chat_id: int | None = None,
        max_bytes: int = MAX_BYTES,
        timeout: aiohttp.ClientTimeout = TIMEOUT,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.feeds = tuple(feeds)
        self.clock = clock
        self.report_chat_id = report_chat_id
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def run_once(self) -> list[Imported]:
        """Fetch every feed once; returns the drafts created (and items auto-published)."""
        imported: list[Imported] = []
        if not self.feeds:
            return imported
        async with aiohttp.ClientSession(
            timeout=self.timeout, headers={"User-Agent": USER_AGENT}
        ) as http:
            for feed in self.feeds:
                data = await self.fetch(http, feed.url)
                if data is None:
                    continue
                items = await asyncio.to_thread(parse, data)
                if items is None:
                    log.warning("feed %s: malformed, nothing imported", feed.url)
                    continue
                try:
                    imported.extend(await self.store(feed, items))
                except TRY_AGAIN_LATER as error:
                    log.warning("feed %s: not stored, retrying next time: %s", feed.url, error)
        return imported

    async def fetch(self, http: aiohttp.ClientSession, url: str) -> bytes | None:
        fetched = await fetch_feed(http, url, max_bytes=self.max_bytes)
        if fetched.error is not None:
            log.warning("feed %s: %s", url, fetched.error)
        return fetched.body

    async def store(self, feed: Feed, items: list[Item]) -> list[Imported]:
        async with self.sessionmaker() as session, session.begin():
            now = self.clock()
            first = not await news.feed_seen_before(session, feed_key=feed.key)
            new_keys = await news.remember_items(
                session, feed_key=feed.key, items=[(i.key, i.link) for i in items], now=now
            )
            fresh = [item for item in items if item.key in new_keys]
            limit = FIRST_FETCH_DRAFTS if first else MAX_PER_FETCH
            chosen = fresh[:limit]
            if len(fresh) > limit:
                log.info(
                    "feed %s: %d new item(s), drafts for the newest %d%s",
                    feed.url,
                    len(fresh),
                    limit,
                    " (first fetch)" if first else "",
                )
            publish = feed.auto and not first
            imported: list[Imported] = []
            # Oldest first, so news ids follow the website's order.
            for item in reversed(chosen):
                broadcast = await create_broadcast(
                    session,
                    text=draft_text(item),
                    title=cut_text(item.title, TITLE_MAX) or None,
                    topics=[Topic.CITY_NEWS.value],
                    now=now,
                )
                broadcast.source = SOURCE
                broadcast.source_ref = item.link
                await news.link_item(
                    session, feed_key=feed.key, item_key=item.key, broadcast_id=broadcast.id
                )
                if publish:
                    broadcast.progress_chat_id = self.report_chat_id
                    await session.flush()
                    count = await plan_broadcast(session, broadcast_id=broadcast.id, now=now)
                    audit.record(
                        session,
                        actor="rss",
                        action="news.auto_published",
                        now=now,
                        subject=f"broadcast:{broadcast.id}",
                        details={"feed": feed.url[:200], "recipients": count},
                    )
                imported.append(Imported(broadcast.id, feed, publish))
        return imported
