"""Daily and weekly digests: one message per resident with the news they have not had yet.

A run for a frequency (daily or weekly) and a fire time ``F``:

- takes, in batches of residents (by id), every reachable resident on that frequency whose
  ``last_digest_at`` is before ``F``;
- gives each one the non-urgent news published in their window — after ``last_digest_at`` (or
  since they onboarded), at most ``LOOKBACK`` back, up to ``F`` — that matches their topics,
  district and channel, leaving out news they already got as a push (urgent news, or news sent
  while they were on instant);
- writes one delivery per resident with news, carrying their own ``body``, into a broadcast of
  kind ``digest`` (status ``planning``), and sets ``last_digest_at = F`` for every resident of
  the batch, in the batch's one transaction;
- hands the broadcast to the delivery engine (``sending``) at the end.

So a crash mid-run loses nothing and sends nothing twice: a committed batch has both its
deliveries and its advanced residents; an uncommitted one has neither, and is done by the rerun
of the same fire time (which continues the same broadcast) or, failing that, by the next run
(which also releases the crashed run's broadcast). A run for a fire time already done finds no
resident left and does nothing: the function is idempotent per fire time.

``last_digest_at`` means "news covered up to": it advances for residents with no news as well
(they get no message; nothing is owed to them for that period).

Bodies are split at the platform limits by the senders (Telegram 4,096, Viber 7,000): a
resident has exactly one delivery per digest (one row, one outcome). The body is built so that
every split falls between items: each item is one paragraph of bounded length (``ITEM_TEXT_MAX``)
whose markup sits on its first line, so the Telegram split (at paragraph boundaries) never cuts a
tag. Long digests are capped at ``MAX_ITEMS`` items.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from messaging.i18n import Catalog, Markup
from messaging.text import markup_to_plain
from storage.digests import (
    DigestBody,
    DigestReader,
    NewsItem,
    add_digest_deliveries,
    advance_last_digest,
    create_digest,
    delivered,
    digest_news,
    digest_readers,
    matches,
    planning_digest,
    release_digests,
)
from storage.vocabulary import Clock, Digest, system_clock

log = logging.getLogger(__name__)

# How far back a digest reaches at most (a resident returning after months gets the last
# period's news, with one missed run's worth of slack, not everything since).
LOOKBACK = {Digest.DAILY: timedelta(days=2), Digest.WEEKLY: timedelta(days=14)}
PERIOD = {Digest.DAILY: timedelta(days=1), Digest.WEEKLY: timedelta(days=7)}
# Characters of an item's text (escaped) and of its title in a digest.
ITEM_TEXT_MAX = 600
TITLE_MAX = 200
MAX_ITEMS = 25
BATCH_SIZE = 500

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_daily_at(value: str) -> time:
    """``"09:00"`` -> 09:00; ValueError with a readable reason otherwise."""
    match = _HHMM.match(value.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"must be HH:MM, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekly_at(value: str) -> tuple[str, time]:
    """``"mon 09:00"`` -> ("mon", 09:00)."""
    parts = value.split()
    if len(parts) != 2 or parts[0].lower()[:3] not in WEEKDAYS:
        raise ValueError(f"must be DAY HH:MM with DAY one of {', '.join(WEEKDAYS)}, got {value!r}")
    return parts[0].lower()[:3], parse_daily_at(parts[1])


def _shorten(plain: str, limit: int) -> str:
    """``plain`` escaped, at most ``limit`` characters (cut at a word, with an ellipsis)."""
    plain = plain.strip()
    escaped = html.escape(plain, quote=False)
    if len(escaped) <= limit:
        return escaped
    cut = limit - 1
    while cut > 0 and len(html.escape(plain[:cut], quote=False)) > limit - 1:
        cut = cut * 9 // 10
    head = plain[:cut]
    space = head.rfind(" ")
    if space > cut // 2:
        head = head[:space]
    return html.escape(head.rstrip(), quote=False) + "…"


def _paragraph_text(markup: str) -> str:
    # One paragraph: blank lines inside the news would be split points inside an item.
    plain = markup_to_plain(markup)
    return re.sub(r"\n\s*\n+", "\n", plain).strip()


@dataclass(frozen=True, slots=True)
class DigestRun:
    frequency: str
    fire_at: datetime
    residents: int
    deliveries: int
    broadcast_ids: tuple[int, ...]


class Digests:
    """Builds and plans digest runs; ``run`` is what the scheduler calls for a fire time."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        zone: ZoneInfo,
        clock: Clock = system_clock,
        batch_size: int = BATCH_SIZE,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._catalog = catalog
        self._zone = zone
        self._clock = clock
        self._batch_size = batch_size
        self._wake = wake

    # -- the body -------------------------------------------------------------------------

    def body(
        self, *, language: str, frequency: Digest, fire_at: datetime, items: Sequence[NewsItem]
    ) -> str:
        c = self._catalog
        local_end = fire_at.astimezone(self._zone)
        if frequency is Digest.WEEKLY:
            start = (local_end - PERIOD[Digest.WEEKLY]).strftime("%d.%m")
            heading = c.text(
                language, "digest.title.weekly", start=start, end=local_end.strftime("%d.%m.%Y")
            )
        else:
            heading = c.text(language, "digest.title.daily", date=local_end.strftime("%d.%m.%Y"))
        paragraphs: list[str] = [heading]
        for item in items[:MAX_ITEMS]:
            when = item.published_at.astimezone(self._zone).strftime("%d.%m %H:%M")
            plain = _paragraph_text(item.text)
            title = (item.title or "").replace("\n", " ").strip()
            if title and plain.startswith(title):
                # Imported news starts with its title: shown once, as the title.
                plain = plain[len(title) :].lstrip()
            text = Markup(_shorten(plain, ITEM_TEXT_MAX))
            if title:
                title_text = Markup(_shorten(title, TITLE_MAX))
                paragraphs.append(
                    c.text(language, "digest.item", when=when, title=title_text, text=text)
                )
            else:
                paragraphs.append(c.text(language, "digest.item_untitled", when=when, text=text))
        if len(items) > MAX_ITEMS:
            paragraphs.append(c.text(language, "digest.more", count=len(items) - MAX_ITEMS))
        paragraphs.append(c.text(language, "digest.footer"))
        return "\n\n".join(paragraphs)

    # -- a run ----------------------------------------------------------------------------

    async def run(self, frequency: Digest | str, fire_at: datetime) -> DigestRun:
        """Plan the digests of ``frequency`` for ``fire_at`` (idempotent per fire time)."""
        frequency = Digest(frequency)
        if frequency is Digest.INSTANT:
            raise ValueError("instant residents get no digest")
        lookback = LOOKBACK[frequency]
        async with self._sessionmaker() as session:
            news = await digest_news(session, after=fire_at - lookback, until=fire_at)
        news_ids = [item.id for item in news]
        after_id = 0
        residents = deliveries = 0
        broadcast_id: int | None = None
        while True:
            async with self._sessionmaker() as session, session.begin():
                readers = await digest_readers(
                    session,
                    frequency=frequency.value,
                    fire_at=fire_at,
                    after_id=after_id,
                    limit=self._batch_size,
                )
                if not readers:
                    break
                after_id = readers[-1].id
                got = await delivered(
                    session, resident_ids=[r.id for r in readers], broadcast_ids=news_ids
                )
                bodies = [
                    body
                    for reader in readers
                    if (body := self._body_for(reader, frequency, fire_at, lookback, news, got))
                ]
                if bodies and broadcast_id is None:
                    broadcast_id = await self._broadcast(session, frequency, fire_at)
                if bodies:
                    assert broadcast_id is not None
                    await add_digest_deliveries(
                        session, broadcast_id=broadcast_id, bodies=bodies, now=self._clock()
                    )
                await advance_last_digest(
                    session, resident_ids=[r.id for r in readers], fire_at=fire_at
                )
                residents += len(readers)
                deliveries += len(bodies)
        async with self._sessionmaker() as session, session.begin():
            released = await release_digests(
                session, frequency=frequency.value, up_to=fire_at, now=self._clock()
            )
        if released and self._wake is not None:
            self._wake()
        log.info(
            "%s digest for %s: %d residents, %d digests", frequency, fire_at, residents, deliveries
        )
        return DigestRun(
            frequency=frequency.value,
            fire_at=fire_at,
            residents=residents,
            deliveries=deliveries,
            broadcast_ids=tuple(released),
        )

    def _body_for(
        self,
        reader: DigestReader,
        frequency: Digest,
        fire_at: datetime,
        lookback: timedelta,
        news: Sequence[NewsItem],
        got: set[tuple[int, int]],
    ) -> DigestBody | None:
        since = max(reader.since, fire_at - lookback)
        items = [
            item
            for item in news
            if item.published_at > since
            and (item.id, reader.id) not in got
            and matches(item, reader.reader)
        ]
        if not items:
            return None
        return DigestBody(
            resident_id=reader.id,
            channel=reader.channel,
            external_id=reader.external_id,
            body=self.body(
                language=reader.language, frequency=frequency, fire_at=fire_at, items=items
            ),
        )

    async def _broadcast(self, session: AsyncSession, frequency: Digest, fire_at: datetime) -> int:
        existing = await planning_digest(session, frequency=frequency.value, fire_at=fire_at)
        if existing is not None:
            return existing.id
        created = await create_digest(
            session,
            frequency=frequency.value,
            fire_at=fire_at,
            text=f"{frequency.value} digest",
            now=self._clock(),
        )
        return created.id


class JobRegistry(Protocol):
    """Where scheduled jobs are registered (``broadcasts.jobs.OnceJobs``: once per fire time)."""

    def add(self, name: str, run: Callable[[datetime], Awaitable[object]], **cron: Any) -> None: ...


def register_jobs(jobs: JobRegistry, digests: Digests, *, daily_at: str, weekly_at: str) -> None:
    """The daily and weekly digest cron jobs (council time zone, the registry's)."""
    daily = parse_daily_at(daily_at)
    day, weekly = parse_weekly_at(weekly_at)

    async def run_daily(fire_at: datetime) -> DigestRun:
        return await digests.run(Digest.DAILY, fire_at)

    async def run_weekly(fire_at: datetime) -> DigestRun:
        return await digests.run(Digest.WEEKLY, fire_at)

    jobs.add("digest-daily", run_daily, hour=daily.hour, minute=daily.minute)
    jobs.add("digest-weekly", run_weekly, day_of_week=day, hour=weekly.hour, minute=weekly.minute)
