"""Deadline reminders with an injected clock on seeded tickets."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.telegram import FakeTelegram
from bot.schedule import run_sla, sla_jobs
from broadcasts.sla import SlaJobs
from messaging.i18n import Catalog
from storage.models import Ticket
from storage.tickets import upsert_queue
from tests.harness import TELEGRAM_TOKEN, bot_settings, running_bot

pytestmark = pytest.mark.migrated_database

KYIV = ZoneInfo("Europe/Kyiv")


class RecordingPoster:
    def __init__(self) -> None:
        self.posts: list[tuple[int, str]] = []

    async def post(self, chat_id: int, text: str) -> None:
        self.posts.append((chat_id, text))


def _kyiv(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=KYIV).astimezone(UTC)


async def _seed(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    def end_of(year: int, month: int, day: int) -> datetime:
        return datetime(year, month, day, 23, 59, 59, 999999, tzinfo=KYIV)

    rows = [
        # number, queue, status, deadline
        ("ЗІ-2026-000001", "public_info", "new", end_of(2026, 11, 24)),  # overdue since Tue night
        ("ЗІ-2026-000002", "public_info", "in_progress", end_of(2026, 11, 25)),  # due today (Wed)
        ("ЗІ-2026-000003", "public_info", "answered", end_of(2026, 11, 26)),  # due tomorrow
        ("ЗІ-2026-000004", "public_info", "new", end_of(2026, 12, 2)),  # not yet
        ("ЗІ-2026-000005", "public_info", "closed", end_of(2026, 11, 20)),  # closed: never listed
        ("ЗВ-2026-000001", "housing", "new", end_of(2026, 11, 24)),  # overdue, its own chat
    ]
    async with sessionmaker() as session, session.begin():
        await upsert_queue(session, code="housing", chat_id=-100500)
        for number, queue, status, deadline in rows:
            received = _kyiv(2026, 11, 1, 9, 0)
            session.add(
                Ticket(
                    number=number,
                    kind="info_request" if number.startswith("ЗІ") else "appeal",
                    status=status,
                    channel="viber",
                    queue_code=queue,
                    received_at=received,
                    deadline_at=deadline,
                    created_at=received,
                    updated_at=received,
                )
            )


def _jobs(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, poster: RecordingPoster
) -> SlaJobs:
    return SlaJobs(
        sessionmaker=sessionmaker,
        poster=poster,
        catalog=Catalog.load(),
        zone=KYIV,
        language="uk",
        operator_chat_id=-100100,
        clock=lambda: now,
    )


async def test_hourly_lists_each_crossing_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _seed(sessionmaker)
    poster = RecordingPoster()
    # Wednesday 00:30 in Kyiv: two tickets became overdue at midnight; at midnight the window
    # "today or the next working day" also moved to include Thursday's deadline.
    assert await _jobs(sessionmaker, _kyiv(2026, 11, 25, 0, 30), poster).hourly() == 2
    by_chat = dict(poster.posts)
    operator = by_chat[-100100]
    assert "Доступ до публічної інформації" in operator
    assert "Прострочено: 1" in operator and "ЗІ-2026-000001" in operator
    assert "ЗІ-2026-000003" in operator and "ЗІ-2026-000002" not in operator
    assert "ЗІ-2026-000004" not in operator and "ЗІ-2026-000005" not in operator
    assert "ЗВ-2026-000001" in by_chat[-100500]
    # An hour later nothing new crossed: no post.
    later = RecordingPoster()
    assert await _jobs(sessionmaker, _kyiv(2026, 11, 25, 1, 30), later).hourly() == 0
    assert later.posts == []


async def test_morning_summary_per_queue(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _seed(sessionmaker)
    poster = RecordingPoster()
    assert await _jobs(sessionmaker, _kyiv(2026, 11, 25, 8, 0), poster).morning() == 2
    by_chat = dict(poster.posts)
    summary = by_chat[-100100]
    assert "Відкритих: 4, нових: 2, строк спливає: 2, прострочено: 1" in summary
    assert "ЗІ-2026-000002" in summary and "ЗІ-2026-000003" in summary
    assert "Відкритих: 1" in by_chat[-100500]


async def test_reminders_reach_the_staff_chat_through_telegram(database_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        fake.add_group(-100100, "Оператори")
        fake.add_group(-100500, "ЖКГ")
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=fake.base_url,
            operator_chat_id=-100100,
        )
        async with running_bot(settings) as runtime:
            await _seed(runtime.sessionmaker)
            jobs = sla_jobs(
                runtime.settings,
                sessionmaker=runtime.sessionmaker,
                catalog=runtime.catalog,
                telegram=runtime.telegram,
                clock=lambda: _kyiv(2026, 11, 25, 0, 30),
            )
            assert jobs is not None
            await run_sla(jobs.hourly)
            operator = fake.messages(-100100)
            assert len(operator) == 1 and "ЗІ-2026-000001" in operator[0]["text"]
            assert any(e["type"] == "bold" for e in operator[0]["entities"])
            assert "ЗВ-2026-000001" in fake.messages(-100500)[0]["text"]
