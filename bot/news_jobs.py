"""The composer's scheduled jobs: start scheduled news, keep progress messages live, import RSS.

Registered on the app's scheduler by the composition root (``register_jobs``); each job logs its
failures and never raises into the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiogram import Dispatcher
from aiogram.exceptions import TelegramAPIError

from bot.telegram.staff.news import callbacks as cb
from bot.telegram.staff.news.composer import NewsComposer
from bot.telegram.staff.news.router import KEY
from broadcasts.rss import RssImporter, parse_feed_list
from broadcasts.scheduled import INTERVAL_SECONDS, ScheduledNews
from storage.errors import TRY_AGAIN_LATER

log = logging.getLogger(__name__)

JOBS_KEY: Final = "news_jobs"
PROGRESS_SECONDS: Final = 2
# The first RSS fetch soon after start rather than a whole interval later.
RSS_FIRST_DELAY: Final = timedelta(seconds=30)


class NewsJobs:
    def __init__(
        self,
        composer: NewsComposer,
        *,
        feeds: Sequence[str] = (),
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.composer = composer
        self._engine_wake = wake
        self.reporter = composer.progress
        self.scheduler = ScheduledNews(
            sessionmaker=composer.sessionmaker, clock=composer.clock, wake=self._wake
        )
        self.rss = RssImporter(
            sessionmaker=composer.sessionmaker,
            feeds=parse_feed_list(feeds),
            clock=composer.clock,
            report_chat_id=composer.settings.editors_chat,
        )

    def _wake(self) -> None:
        if self._engine_wake is not None:
            self._engine_wake()

    async def start_scheduled(self) -> list[int]:
        started = await self.scheduler.run_once()
        for broadcast_id in started:
            await self._guard(self.reporter.post(broadcast_id))
        return started

    async def update_progress(self) -> int:
        """Progress messages (returns how many were edited), then the previews whose state
        changed meanwhile (sent, cancelled)."""
        edits = int(await self._guard(self.reporter.run_once()) or 0)
        await self._guard(self.composer.sync_previews())
        return edits

    async def import_feeds(self) -> list[int]:
        """Fetch the feeds; post each new draft to the editors' chat. Returns the new ids."""
        imported = await self.rss.run_once()
        chat_id = self.composer.settings.editors_chat
        for item in imported:
            if item.published:
                self._wake()
                await self._guard(self.reporter.post(item.broadcast_id))
            elif chat_id is not None:
                await self._guard(
                    self.composer.post_preview(chat_id, item.broadcast_id, cb.PAGE_COMPACT)
                )
        return [item.broadcast_id for item in imported]

    @staticmethod
    async def _guard(step: Any) -> Any:
        try:
            return await step
        except (TelegramAPIError, *TRY_AGAIN_LATER) as error:
            # Stored already: the next round (or /drafts) shows it.
            log.warning("news job step failed: %s", error)
            return None


def register_jobs(
    scheduler: Any,
    dispatcher: Dispatcher | None,
    *,
    wake: Callable[[], None] | None,
    feeds: Sequence[str],
    rss_minutes: int,
) -> NewsJobs | None:
    """Add the news jobs to the app's APScheduler (nothing without the Telegram composer)."""
    composer = dispatcher.get(KEY) if dispatcher is not None else None
    if not isinstance(composer, NewsComposer) or dispatcher is None:
        return None
    jobs = NewsJobs(composer, feeds=feeds, wake=wake)
    dispatcher[JOBS_KEY] = jobs
    common: dict[str, Any] = {"coalesce": True, "max_instances": 1}
    scheduler.add_job(
        jobs.start_scheduled, "interval", seconds=INTERVAL_SECONDS, id="news-scheduled", **common
    )
    scheduler.add_job(
        jobs.update_progress, "interval", seconds=PROGRESS_SECONDS, id="news-progress", **common
    )
    if jobs.rss.feeds:
        scheduler.add_job(
            jobs.import_feeds,
            "interval",
            minutes=rss_minutes,
            id="news-rss",
            next_run_time=datetime.now(UTC) + RSS_FIRST_DELAY,
            **common,
        )
    return jobs


def register_web_jobs(
    scheduler: Any,
    *,
    sessionmaker: Any,
    clock: Any,
    wake: Callable[[], None] | None,
    feeds: Sequence[str],
    rss_minutes: int,
) -> ScheduledNews:
    """Without the Telegram composer (a council on the web desk alone) the same jobs minus the
    chat: scheduled news start when due, RSS items become drafts the web desk lists."""
    scheduled = ScheduledNews(
        sessionmaker=sessionmaker, clock=clock, wake=wake if wake is not None else _no_wake
    )
    common: dict[str, Any] = {"coalesce": True, "max_instances": 1}
    scheduler.add_job(
        scheduled.run_once, "interval", seconds=INTERVAL_SECONDS, id="news-scheduled", **common
    )
    rss = RssImporter(sessionmaker=sessionmaker, feeds=parse_feed_list(feeds), clock=clock)
    if rss.feeds:

        async def import_feeds() -> None:
            imported = await rss.run_once()
            if any(item.published for item in imported) and wake is not None:
                wake()

        scheduler.add_job(
            import_feeds,
            "interval",
            minutes=rss_minutes,
            id="news-rss",
            next_run_time=datetime.now(UTC) + RSS_FIRST_DELAY,
            **common,
        )
    return scheduled


def _no_wake() -> None:
    """No delivery engine in this process."""
