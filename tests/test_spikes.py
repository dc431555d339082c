"""Spike alerts with an injected clock on seeded data, posted through the fake Bot API: a
category and a district over their usual hourly rate are reported with examples, once an hour;
a small absolute count is not a spike."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.telegram.staff.stats import TelegramFiles
from broadcasts.spikes import SpikeJob
from tests.staff_world import World, staff_world
from tests.stats_seed import Seed

pytestmark = pytest.mark.migrated_database

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def _job(world: World) -> SpikeJob:
    assert world.runtime.telegram is not None
    return SpikeJob(
        sessionmaker=world.runtime.sessionmaker,
        poster=TelegramFiles(world.runtime.telegram.bot),
        catalog=world.runtime.catalog,
        zone=world.runtime.settings.zone,
        chat_id=world.chat_id,
        clock=world.clock,
        multiple=3.0,
        min_count=5,
    )


async def test_spike_alert_once_an_hour(database_url: str) -> None:
    async with staff_world(database_url) as world:
        seed = Seed(world.runtime.sessionmaker)
        now = world.clock()
        tern = await seed.resident(district="ternivskyi")
        pokr = await seed.resident(district="pokrovskyi")
        # The usual: one housing ticket a day for four weeks (Тернівський), some social ones.
        for day in range(1, 28):
            await seed.ticket(resident_id=tern, received_at=now - day * DAY)
        for minutes in (5, 15):
            await seed.ticket(
                resident_id=pokr,
                category="social",
                queue="social",
                received_at=now - minutes * MINUTE,
            )
        job = _job(world)
        assert await job.run() == []  # 2 social tickets: under the minimum count
        numbers = []
        for minutes in range(6):
            _, number = await seed.ticket(
                resident_id=tern,
                received_at=now - (10 + minutes) * MINUTE,
                body=f"Вибух труби на вулиці, вода в підвалі {minutes}",
            )
            numbers.append(number)
        before = len(world.chat())
        spikes = await job.run()
        assert {(s.dimension, s.key, s.count) for s in spikes} == {
            ("category", "housing", 6),
            ("district", "ternivskyi", 6),
        }
        # Only the alerts: the minute's catch-up may post the seeded tickets' cards meanwhile.
        posted = [p for p in world.texts()[before:] if "Сплеск звернень" in p]
        assert len(posted) == 2
        category = next(p for p in posted if "категорія «Житло та комунальні послуги»" in p)
        assert "Сплеск звернень" in category and "За останню годину: 6" in category
        assert numbers[0] in category and "Вибух труби на вулиці" in category
        assert any("район «Тернівський»" in p for p in posted)
        # Ten minutes on: the same spike is not told again within the hour.
        world.clock.advance(10 * MINUTE)
        assert await job.run() == []
        # An hour later, with a new burst, it is.
        world.clock.advance(61 * MINUTE)
        for minutes in range(5):
            await seed.ticket(resident_id=tern, received_at=world.clock() - (minutes + 1) * MINUTE)
        again = await job.run()
        assert {(s.dimension, s.key) for s in again} == {
            ("category", "housing"),
            ("district", "ternivskyi"),
        }
