"""Quiet hours: the window's arithmetic in Kyiv time (across midnight, across DST), the setting,
and the engine holding ordinary news back over the fake servers while urgent news goes at once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SettingsError, load_settings
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from broadcasts.engine import DeliveryEngine
from broadcasts.quiet import QuietHours, parse_window
from storage.broadcasts import create_broadcast
from storage.models import Delivery
from storage.planning import plan_broadcast
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN
from tests.test_broadcast_helpers import (
    FAST,
    Person,
    add_residents,
    open_telegram_chats,
    progress,
    running,
    subscribe_viber,
    telegram_sender,
    viber_transport,
    wait_done,
)

KYIV = ZoneInfo("Europe/Kyiv")
NIGHT = QuietHours(time(22, 0), time(8, 0), KYIV)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        # Winter: Kyiv is UTC+2.
        (utc(2026, 1, 15, 19, 59), False),  # 21:59
        (utc(2026, 1, 15, 20, 0), True),  # 22:00, the start is inside
        (utc(2026, 1, 15, 22, 30), True),  # 00:30, across midnight
        (utc(2026, 1, 16, 5, 59), True),  # 07:59
        (utc(2026, 1, 16, 6, 0), False),  # 08:00, the end is outside
        # Summer: UTC+3, so the same wall-clock window is an hour earlier in UTC.
        (utc(2026, 7, 15, 18, 59), False),  # 21:59
        (utc(2026, 7, 15, 19, 0), True),  # 22:00
        (utc(2026, 7, 16, 4, 59), True),  # 07:59
        (utc(2026, 7, 16, 5, 0), False),  # 08:00
        # The night the clocks go forward (29 March 2026, 03:00 -> 04:00 local).
        (utc(2026, 3, 29, 0, 30), True),  # 02:30 EET
        (utc(2026, 3, 29, 4, 59), True),  # 07:59 EEST
        (utc(2026, 3, 29, 5, 0), False),  # 08:00 EEST (06:00 the day before in UTC)
        # ...and go back (25 October 2026, 04:00 -> 03:00 local).
        (utc(2026, 10, 25, 5, 59), True),  # 07:59 EET
        (utc(2026, 10, 25, 6, 0), False),  # 08:00 EET
    ],
)
def test_the_window_is_kyiv_wall_clock_time(moment: datetime, quiet: bool) -> None:
    assert NIGHT.contains(moment) is quiet


def test_when_a_quiet_period_ends() -> None:
    # 23:30 Kyiv in winter: tomorrow 08:00 (06:00 UTC).
    assert NIGHT.ends_after(utc(2026, 1, 15, 21, 30)) == utc(2026, 1, 16, 6, 0)
    # 03:00 Kyiv in summer: the same day 08:00 (05:00 UTC).
    assert NIGHT.ends_after(utc(2026, 7, 16, 0, 0)) == utc(2026, 7, 16, 5, 0)
    assert NIGHT.ends_after(utc(2026, 7, 16, 12, 0)) is None


def test_a_window_within_one_day() -> None:
    lunch = QuietHours(time(13, 0), time(14, 0), KYIV)
    assert lunch.contains(utc(2026, 1, 15, 11, 30))  # 13:30
    assert not lunch.contains(utc(2026, 1, 15, 12, 0))  # 14:00
    assert not lunch.contains(utc(2026, 1, 15, 22, 0))  # midnight


@pytest.mark.parametrize("value", ["22-08", "25:00-08:00", "22:00-08:60", "22:00", "08:00-08:00"])
def test_bad_windows_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"valid|HH:MM|same"):
        parse_window(value)


def test_the_setting() -> None:
    default = load_settings({})
    assert default.quiet == QuietHours(time(22, 0), time(8, 0), KYIV)
    assert load_settings({"CITYBOT_QUIET_HOURS": ""}).quiet is None
    assert load_settings({"CITYBOT_QUIET_HOURS": " 23:30 - 06:15 "}).quiet == QuietHours(
        time(23, 30), time(6, 15), KYIV
    )
    with pytest.raises(SettingsError, match="CITYBOT_QUIET_HOURS: must be HH:MM-HH:MM"):
        load_settings({"CITYBOT_QUIET_HOURS": "night"})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def news(
    sessionmaker: async_sessionmaker[AsyncSession], text: str, now: datetime, urgent: bool = False
) -> int:
    """Create and plan a news broadcast at ``now`` (the injected clock's time)."""
    async with sessionmaker() as session, session.begin():
        broadcast = await create_broadcast(session, text=text, urgent=urgent, now=now)
        await plan_broadcast(session, broadcast_id=broadcast.id, now=now)
        return broadcast.id


async def test_ordinary_news_waits_for_the_morning_urgent_news_goes_at_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = [Person("telegram", str(2000 + index)) for index in range(3)]
    viber = [Person("viber", f"quiet-viber-{index}==") for index in range(3)]
    await add_residents(sessionmaker, telegram + viber)
    # 23:30 in Kyiv (winter).
    clock = Clock(utc(2026, 1, 15, 21, 30))
    config = dataclasses.replace(FAST, quiet=NIGHT)
    async with (
        FakeTelegram(TELEGRAM_TOKEN) as tg,
        FakeViber(VIBER_TOKEN) as vb,
        telegram_sender(tg) as sender,
        viber_transport(vb) as transport,
    ):
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        subscribe_viber(vb, [p.external_id for p in viber])
        ordinary = await news(sessionmaker, "Новини вечора", clock.now)
        urgent = await news(sessionmaker, "Аварія на водогоні", clock.now, urgent=True)
        engine = DeliveryEngine(
            sessionmaker=sessionmaker, telegram=sender, viber=transport, config=config, clock=clock
        )
        async with running([engine]):
            done = await wait_done(sessionmaker, urgent)
            assert done.sent == 6
            # The engine keeps polling through the night: ordinary news stays queued.
            for _ in range(5):
                engine.wake()
                assert (await progress(sessionmaker, ordinary)).pending == 6
            for person in telegram:
                texts = [m["text"] for m in tg.messages(int(person.external_id))]
                assert texts == ["Аварія на водогоні"]
            for person in viber:
                assert vb.texts(person.external_id) == ["Аварія на водогоні"]
            # 07:59: still quiet.
            clock.now = utc(2026, 1, 16, 5, 59)
            engine.wake()
            assert (await progress(sessionmaker, ordinary)).pending == 6
            # 08:00: the morning.
            clock.now = utc(2026, 1, 16, 6, 0)
            engine.wake()
            morning = await wait_done(sessionmaker, ordinary)
        assert (morning.sent, morning.pending) == (6, 0)
        for person in telegram:
            texts = [m["text"] for m in tg.messages(int(person.external_id))]
            assert texts == ["Аварія на водогоні", "Новини вечора"]
        for person in viber:
            assert vb.texts(person.external_id) == ["Аварія на водогоні", "Новини вечора"]
    async with sessionmaker() as session:
        sent_at = (
            await session.execute(select(Delivery.sent_at).where(Delivery.broadcast_id == ordinary))
        ).scalars()
        assert all(moment == utc(2026, 1, 16, 6, 0) for moment in sent_at)


async def test_without_quiet_hours_news_goes_out_at_night(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = [Person("telegram", "3001")]
    await add_residents(sessionmaker, telegram)
    clock = Clock(utc(2026, 1, 15, 21, 30))
    async with FakeTelegram(TELEGRAM_TOKEN) as tg, telegram_sender(tg) as sender:
        await open_telegram_chats(tg, [3001])
        broadcast = await news(sessionmaker, "Новини вечора", clock.now)
        engine = DeliveryEngine(
            sessionmaker=sessionmaker, telegram=sender, config=FAST, clock=clock
        )
        async with running([engine]):
            done = await wait_done(sessionmaker, broadcast)
        assert done.sent == 1
