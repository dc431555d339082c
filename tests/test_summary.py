"""The officials' summary with an injected clock on seeded data, posted through the fake Bot API:
the text (counts, change, overdue, frequent words without personal data, reach) and the chart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.telegram.staff.stats import TelegramFiles
from broadcasts.summary import PollLine, SummaryJob
from tests.staff_world import World, staff_world
from tests.stats_seed import Seed

pytestmark = pytest.mark.migrated_database

OFFICIALS = -1001700000001
DAY = timedelta(days=1)


async def _seed(world: World) -> None:
    seed = Seed(world.runtime.sessionmaker)
    now = world.clock()
    tern = await seed.resident(district="ternivskyi")
    pokr = await seed.resident(district="pokrovskyi", name="Марія Коваль")
    for i, (who, name) in enumerate(
        ((tern, "Оксана Петренко"), (pokr, "Марія Коваль"), (tern, None))
    ):
        await seed.ticket(
            resident_id=who,
            received_at=now - (i + 1) * DAY,
            body=f"Не працює ліфт у під'їзді, пише {name or 'мешканець'}, тел. 0671234567",
            full_name=name,
        )
    await seed.ticket(
        resident_id=pokr, category="roads_transport", queue="transport", received_at=now - DAY
    )
    # The week before: one housing ticket, now overdue.
    await seed.ticket(
        resident_id=tern, received_at=now - 10 * DAY, deadline_at=now - DAY, body="Протікає дах"
    )
    await seed.broadcast(states={"sent": 5, "blocked": 1}, started_at=now - 2 * DAY)


def _job(world: World, **extra: object) -> SummaryJob:
    assert world.runtime.telegram is not None
    return SummaryJob(
        sessionmaker=world.runtime.sessionmaker,
        poster=TelegramFiles(world.runtime.telegram.bot),
        catalog=world.runtime.catalog,
        zone=world.runtime.settings.zone,
        chat_id=OFFICIALS,
        clock=world.clock,
        **extra,  # type: ignore[arg-type]
    )


async def test_weekly_summary_text_and_chart(database_url: str) -> None:
    async with staff_world(database_url) as world:
        world.telegram.add_group(OFFICIALS, "Посадовці", members=())
        await _seed(world)
        summary = await _job(world).run(world.clock())
        assert (summary.current, summary.previous) == (4, 1)
        text, photo = world.chat(OFFICIALS)
        body = text["text"]
        assert "Тижневе зведення" in body
        assert "Нових звернень: 4 (попередній період: 1, +3, +300%)" in body
        assert "Житло та комунальні послуги: 3 (+2, +200%)" in body
        assert "Транспорт і дороги: 1 (+1)" in body
        assert "Тернівський: 2" in body and "Покровський: 2" in body
        assert "Прострочених звернень зараз: 1" in body
        assert "ліфт (4)" in body and "працює ліфт (4)" in body  # with the road one
        for personal in ("Петренко", "петренко", "Коваль", "коваль", "0671234567"):
            assert personal not in body
        assert "Розсилки за період: 1, адресатів 6, надіслано 5, заблокували 1" in body
        png = world.telegram.file_content(photo["photo"][-1]["file_id"])
        assert png is not None and png.startswith(b"\x89PNG") and len(png) > 1000
        assert "Нові звернення за категоріями" in photo["caption"]


async def test_daily_summary_with_polls_and_an_empty_day(database_url: str) -> None:
    async def polls(*_args: object) -> list[PollLine]:
        return [PollLine(question="Де облаштувати сквер?", votes=120, leader="Біля ринку")]

    async with staff_world(database_url) as world:
        world.telegram.add_group(OFFICIALS, "Посадовці", members=())
        world.clock.advance(timedelta(days=30))  # nothing in the last day
        summary = await _job(world, closed_polls=polls).run(world.clock(), daily=True)
        assert summary.current == 0
        [text] = world.chat(OFFICIALS)  # no chart without tickets
        assert "Зведення за добу" in text["text"]
        assert "Частих тем не виявлено" in text["text"]
        assert "Де облаштувати сквер?: 120 голосів" in text["text"]
        assert "Розсилок за період не було" in text["text"]


class Jobs:
    def __init__(self) -> None:
        self.added: dict[str, dict[str, object]] = {}

    def add(self, name: str, run: object, **cron: object) -> None:  # noqa: ARG002 (JobRegistry)
        self.added[name] = cron


def test_jobs_registered_from_settings() -> None:
    from broadcasts.summary import register_analytics
    from messaging.i18n import Catalog
    from tests.stats_seed import NOW

    jobs = Jobs()

    class Poster:
        async def post(self, chat_id: int, text: str) -> None: ...

        async def post_photo(
            self, chat_id: int, png: bytes, *, filename: str, caption: str
        ) -> None: ...

    common: dict[str, Any] = {
        "poster": Poster(),
        "sessionmaker": None,
        "catalog": Catalog.load(),
        "zone": None,
        "clock": lambda: NOW,
        "spike_multiple": 3.0,
        "spike_min_count": 5,
    }
    register_analytics(
        jobs,
        officials_chat_id=None,
        operator_chat_id=None,
        weekly_at="mon 08:00",
        daily_at="",
        **common,
    )
    assert jobs.added == {}
    register_analytics(
        jobs,
        officials_chat_id=-1,
        operator_chat_id=-2,
        weekly_at="fri 16:30",
        daily_at="07:45",
        **common,
    )
    assert jobs.added == {
        "summary-weekly": {"day_of_week": "fri", "hour": 16, "minute": 30},
        "summary-daily": {"hour": 7, "minute": 45},
        "spike-alerts": {"minute": "*/5"},
    }
