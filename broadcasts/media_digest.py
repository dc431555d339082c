"""The morning media digest for officials (duty 12): what the media said about the council in
the last week against the week before, beside what residents wrote in the same week.

Every morning at ``CITYBOT_MEDIA_DIGEST_AT`` (council time, once across processes) the
officials' chat (default: the operator chat) gets: mentions in total and by tone, each with
the change from the previous seven days; by topic, the media's mentions and the residents'
new tickets of the same category side by side (topics are ticket categories, so the two are
counted the same way); the week's top stories, grouped across outlets, with links; then a
line chart of the tone of mentions per week over the last ``CHART_WEEKS`` weeks.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.charts import line_chart
from broadcasts.digest import JobRegistry, parse_daily_at
from broadcasts.media_monitor import MediaMonitor
from broadcasts.rss import cut_text
from broadcasts.stats_text import StatsTexts
from broadcasts.summary import WEEKLY, ReportPoster, change_text
from messaging import labels
from messaging.i18n import Catalog, Markup
from storage import media_store
from storage.classifier import CATEGORIES
from storage.media_store import StoryLine
from storage.media_text import TONES
from storage.models import Ticket
from storage.stats import PeriodRow, new_tickets_by

log = logging.getLogger(__name__)

STORIES: Final = 5
# A story's title in the digest is cut at this many characters (the links say the rest).
STORY_TITLE: Final = 200
CHART_WEEKS: Final = 8
FETCH_JOB: Final = "media-fetch"
DIGEST_JOB: Final = "media-digest"
_TONE_COLOURS: Final = {"positive": "#2e8b57", "neutral": "#8a8a8a", "negative": "#c0392b"}


@dataclass(frozen=True, slots=True)
class MediaDigest:
    start: datetime
    end: datetime
    by_topic: list[PeriodRow]
    by_tone: list[PeriodRow]
    tickets: list[PeriodRow]
    stories: list[StoryLine]
    weeks: list[tuple[datetime, dict[str, int]]]

    @property
    def current(self) -> int:
        return sum(row.current for row in self.by_tone)

    @property
    def previous(self) -> int:
        return sum(row.previous for row in self.by_tone)


async def collect(session: AsyncSession, *, end: datetime) -> MediaDigest:
    start = end - WEEKLY
    previous_start = start - WEEKLY
    period = {"start": start, "end": end, "previous_start": previous_start}
    return MediaDigest(
        start=start,
        end=end,
        by_topic=await media_store.mentions_by(session, "topic", **period),
        by_tone=await media_store.mentions_by(session, "tone", **period),
        tickets=await new_tickets_by(session, Ticket.category, **period),
        stories=await media_store.top_stories(session, start=start, end=end, limit=STORIES),
        weeks=await media_store.tone_by_week(session, end=end, weeks=CHART_WEEKS),
    )


def safe_link(url: str) -> str | None:
    """An http(s) address, escaped for an href; None for anything else (javascript:, …)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return html.escape(url, quote=True)


class MediaTexts(StatsTexts):
    def day(self, value: datetime) -> str:
        return value.astimezone(self.zone).strftime("%d.%m.%Y")

    def tone(self, code: str) -> str:
        return self.label(labels.MEDIA_TONE, code)

    def digest(self, found: MediaDigest) -> Markup:
        last = found.end - timedelta(seconds=1)
        parts: list[str] = [
            self.t("media.title", start=self.day(found.start), end=self.day(last)),
            self.t(
                "media.total",
                current=found.current,
                previous=found.previous,
                change=change_text(found.current, found.previous),
            ),
        ]
        if not found.current:
            parts.append(self.t("media.none"))
        tones = {row.key: row for row in found.by_tone}
        lines = [self.t("media.by_tone")]
        for code in TONES:
            row = tones.get(code, PeriodRow(code, 0, 0))
            lines.append(
                self.t(
                    "summary.line",
                    name=self.tone(code),
                    current=row.current,
                    change=change_text(row.current, row.previous),
                )
            )
        parts.append("\n".join(lines))
        parts.append(self._topics(found))
        if found.stories:
            parts.append("\n".join([self.t("media.stories"), *map(self._story, found.stories)]))
        return Markup("\n\n".join(parts))

    def _topics(self, found: MediaDigest) -> str:
        media = {row.key: row for row in found.by_topic}
        tickets = {row.key: row for row in found.tickets}
        lines = [self.t("media.by_topic")]
        for code in CATEGORIES:
            row = media.get(code, PeriodRow(code, 0, 0))
            filed = tickets.get(code, PeriodRow(code, 0, 0))
            if not (row.current or row.previous or filed.current or filed.previous):
                continue
            lines.append(
                self.t(
                    "media.topic.line",
                    name=self.category(code),
                    current=row.current,
                    change=change_text(row.current, row.previous),
                    tickets=filed.current,
                    tickets_change=change_text(filed.current, filed.previous),
                )
            )
        if len(lines) == 1:
            lines.append(self.t("summary.none"))
        return "\n".join(lines)

    def _story(self, story: StoryLine) -> str:
        head = self.t(
            "media.story",
            title=cut_text(story.title, STORY_TITLE),
            count=story.outlets,
            name=self.category(story.topic),
            tone=self.tone(story.tone),
        )
        links = [
            self.t("media.story.link", link=Markup(href), label=outlet)
            for outlet, url in story.links
            if (href := safe_link(url)) is not None
        ]
        return "\n".join([head, *links])

    def chart(self, found: MediaDigest) -> bytes | None:
        if not any(counts for _week, counts in found.weeks):
            return None
        labels = [week.astimezone(self.zone).strftime("%d.%m") for week, _counts in found.weeks]
        # The legend without the labels' emoji (the chart's font has none).
        series = [
            (
                self.tone(code).split(" ", 1)[-1],
                [counts.get(code, 0) for _week, counts in found.weeks],
                colour,
            )
            for code, colour in _TONE_COLOURS.items()
        ]
        return line_chart(self.t("media.chart"), labels, series)


@dataclass
class MediaDigestJob:
    sessionmaker: async_sessionmaker[AsyncSession]
    poster: ReportPoster
    catalog: Catalog
    zone: ZoneInfo
    chat_id: int
    texts: MediaTexts = field(init=False)

    def __post_init__(self) -> None:
        self.texts = MediaTexts(self.catalog, zone=self.zone)

    async def run(self, end: datetime) -> MediaDigest:
        """Post the digest of the week that ends at ``end``."""
        async with self.sessionmaker() as session:
            found = await collect(session, end=end)
        await self.poster.post(self.chat_id, self.texts.digest(found))
        png = await asyncio.to_thread(self.texts.chart, found)
        if png is not None:
            first = found.weeks[0][0]
            caption = self.texts.t(
                "media.chart.caption",
                start=self.texts.day(first),
                end=self.texts.day(end - timedelta(seconds=1)),
            )
            await self.poster.post_photo(self.chat_id, png, filename="media.png", caption=caption)
        log.info("media digest %s..%s posted to %s", found.start, end, self.chat_id)
        return found


def fetch_cron(minutes: int) -> dict[str, Any]:
    """Cron fields for "every ``minutes`` minutes" that every process agrees on."""
    if minutes >= 60:
        return {"minute": 0}
    return {"minute": f"*/{minutes}"}


def register_jobs(
    jobs: JobRegistry,
    *,
    monitor: MediaMonitor,
    digest: MediaDigestJob | None,
    interval_minutes: int,
    digest_at: str,
) -> None:
    """Fetching every ``interval_minutes`` and the morning digest at ``digest_at`` (empty:
    none), each fire time once (council time zone, the registry's)."""
    jobs.add(FETCH_JOB, monitor.run_once, **fetch_cron(interval_minutes))
    if digest is not None and digest_at:
        at = parse_daily_at(digest_at)
        jobs.add(DIGEST_JOB, digest.run, hour=at.hour, minute=at.minute)
