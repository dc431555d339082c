"""The messenger's slowing down reaches the live progress message: the engine records each 429
in the database (storage.pacing), the progress message — perhaps rendered by another process —
reads it and says so while the pause is current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.news.preview import Previews
from bot.telegram.staff.news.progress import ProgressReporter
from messaging.i18n import Catalog
from storage.broadcasts import BroadcastStatus, Progress
from storage.models import Broadcast
from storage.pacing import current_throttles, record_throttle
from tests.harness import TELEGRAM_TOKEN

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def test_a_recorded_pause_is_current_until_it_ends_plus_the_grace(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        await record_throttle(session, channel="telegram", retry_after=1.0, now=NOW, rate=25.5)
        await record_throttle(session, channel="viber", retry_after=2.0, now=NOW, rate=50.0)
        # A later 429 replaces the earlier one.
        later = NOW + timedelta(seconds=10)
        await record_throttle(session, channel="telegram", retry_after=3.0, now=later, rate=21.7)
    async with sessionmaker() as session:
        current = await current_throttles(session, now=later + timedelta(seconds=1))
        assert [(t.channel, t.retry_after, t.rate) for t in current] == [("telegram", 3.0, 21.7)]
        assert await current_throttles(session, now=later + timedelta(seconds=3)) == []
        grace = timedelta(seconds=3)
        current = await current_throttles(session, now=later + timedelta(seconds=5), grace=grace)
        assert [t.channel for t in current] == ["telegram"]


async def test_the_progress_message_says_the_messenger_is_slowing_us_down(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        await record_throttle(session, channel="telegram", retry_after=1.0, now=NOW, rate=25.5)
    bot = Bot(TELEGRAM_TOKEN)
    try:
        reporter = ProgressReporter(
            bot=bot,
            sessionmaker=sessionmaker,
            previews=Previews(Catalog.load(), zone=ZoneInfo("Europe/Kyiv")),
            clock=lambda: NOW + timedelta(seconds=2),
        )
        broadcast = Broadcast(id=7, text="x", status=BroadcastStatus.SENDING.value)
        progress = Progress(7, "sending", 100, 40, 0, 0, 60, 0, 25.5)
        async with sessionmaker() as session:
            throttles = await reporter.throttles(session)
        text, final = reporter.render(broadcast, progress, throttles=throttles)
        assert not final
        assert text.endswith("\n⏳ Telegram обмежує швидкість, чекаємо 1 с")
        # Once the pause and the edit interval are over, the line goes.
        reporter.clock = lambda: NOW + timedelta(seconds=10)
        async with sessionmaker() as session:
            assert await reporter.throttles(session) == []
        text, _ = reporter.render(broadcast, progress, throttles=[])
        assert "обмежує" not in text
    finally:
        await bot.session.close()
