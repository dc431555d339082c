"""Daily and weekly digests with an injected clock, on SQLite and PostgreSQL: who gets which
news, what a second run does, a crashed run resumed, and the engine sending each resident's own
body to the fake Telegram and Viber servers (split at their limits)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SettingsError, load_settings
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from broadcasts.digest import (
    ITEM_TEXT_MAX,
    Digests,
    parse_daily_at,
    parse_weekly_at,
    register_jobs,
)
from broadcasts.engine import DeliveryEngine
from messaging.i18n import Catalog
from storage.broadcasts import BroadcastKind, BroadcastStatus, cancel_broadcast, create_broadcast
from storage.digests import (
    DigestBody,
    NewsItem,
    add_digest_deliveries,
    advance_last_digest,
    create_digest,
)
from storage.models import Broadcast, Delivery, Resident
from storage.planning import plan_broadcast
from storage.vocabulary import Digest
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN
from tests.test_broadcast_helpers import (
    FAST,
    Person,
    add_residents,
    open_telegram_chats,
    running,
    subscribe_viber,
    telegram_sender,
    viber_transport,
    wait_done,
)

KYIV = ZoneInfo("Europe/Kyiv")


def kyiv(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A moment of December 2026 in Kyiv (UTC+2), as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=KYIV).astimezone(UTC)


# The daily digest of Thursday 10 December 2026, 09:00 Kyiv.
FIRE = kyiv(10, 9)

TG_OUTAGES = Person("telegram", "4001", "pokrovskyi", ("outages",), digest="daily")
VB_CITY = Person("viber", "digest-viber-1==", "city", digest="daily")
TG_INSTANT = Person("telegram", "4002", "city")
TG_WEEKLY = Person("telegram", "4003", "city", digest="weekly")
VB_STOPPED = Person("viber", "digest-viber-2==", "city", digest="daily", subscribed=False)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def publish(
    sessionmaker: async_sessionmaker[AsyncSession],
    text: str,
    at: datetime,
    *,
    title: str | None = None,
    topics: Sequence[str] = (),
    districts: Sequence[str] = (),
    urgent: bool = False,
    cancel: bool = False,
) -> int:
    async with sessionmaker() as session, session.begin():
        broadcast = await create_broadcast(
            session,
            text=text,
            title=title,
            topics=topics,
            districts=districts,
            urgent=urgent,
            now=at,
        )
        await plan_broadcast(session, broadcast_id=broadcast.id, now=at)
        if cancel:
            await cancel_broadcast(session, broadcast_id=broadcast.id, now=at)
        return broadcast.id


async def bodies(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Digest bodies by the resident's external id."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Delivery.external_id, Delivery.body)
            .join(Broadcast, Broadcast.id == Delivery.broadcast_id)
            .where(Broadcast.kind == BroadcastKind.DIGEST.value)
        )
        return {external_id: body or "" for external_id, body in rows.all()}


async def last_digests(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, datetime | None]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Resident.external_id, Resident.last_digest_at))
        return {external_id: at for external_id, at in rows.all()}


def digests(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, batch_size: int = 500
) -> Digests:
    return Digests(
        sessionmaker=sessionmaker,
        catalog=Catalog.load(),
        zone=KYIV,
        clock=clock,
        batch_size=batch_size,
    )


async def test_a_daily_digest_has_the_matching_ordinary_news_since_the_last_one(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_residents(sessionmaker, [TG_OUTAGES, VB_CITY, TG_INSTANT, TG_WEEKLY, VB_STOPPED])
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Resident)
            .where(Resident.external_id == VB_CITY.external_id)
            .values(language="en", last_digest_at=kyiv(9, 9))
        )
    # Before the Viber resident's last digest: theirs already.
    await publish(sessionmaker, "Старе", kyiv(9, 8), topics=["events"])
    await publish(
        sessionmaker,
        "Вода & світло: <i>графік</i>",
        kyiv(9, 10),
        title="Відключення <у> Покровському",
        topics=["outages"],
        districts=["pokrovskyi"],
    )
    await publish(sessionmaker, "Концерт у парку", kyiv(9, 18, 30), topics=["events"])
    await publish(sessionmaker, "Аварія", kyiv(9, 20), topics=["outages"], urgent=True)
    await publish(
        sessionmaker,
        "Ремонт у Тернівському",
        kyiv(9, 21),
        topics=["outages"],
        districts=["ternivskyi"],
    )
    await publish(sessionmaker, "Скасовано", kyiv(9, 22), cancel=True)
    # After the fire time: the next digest's.
    await publish(sessionmaker, "Завтрашнє", kyiv(10, 9, 1))
    clock = Clock(kyiv(10, 9, 0))
    run = await digests(sessionmaker, clock).run("daily", FIRE)
    # Three daily residents; the one who stopped pushes gets no digest either.
    assert (run.residents, run.deliveries) == (2, 2)
    found = await bodies(sessionmaker)
    assert set(found) == {TG_OUTAGES.external_id, VB_CITY.external_id}
    telegram_body = found[TG_OUTAGES.external_id]
    assert telegram_body.startswith("📰 <b>Новини за день</b> · 10.12.2026")
    assert (
        "<b>09.12 10:00</b> · <b>Відключення &lt;у&gt; Покровському</b>\n"
        "Вода &amp; світло: графік" in telegram_body
    )
    for other in ("Старе", "Концерт", "Аварія", "Тернівському", "Скасовано", "Завтрашнє"):
        assert other not in telegram_body
    viber_body = found[VB_CITY.external_id]
    assert viber_body.startswith("📰 <b>News of the day</b>")
    # Viber residents cannot tap commands: the footer names the settings button.
    assert "⚙️ Settings" in viber_body and "/settings" not in viber_body
    # Chronological; "city" residents get every district's news.
    order = [viber_body.index(text) for text in ("Вода", "Концерт", "Ремонт у Тернівському")]
    assert order == sorted(order)
    assert "Старе" not in viber_body and "Аварія" not in viber_body
    covered = await last_digests(sessionmaker)
    assert covered[TG_OUTAGES.external_id] == FIRE
    assert covered[VB_CITY.external_id] == FIRE
    assert covered[TG_INSTANT.external_id] is None
    assert covered[TG_WEEKLY.external_id] is None
    assert covered[VB_STOPPED.external_id] is None

    # The same fire time again (a retry): nothing new.
    again = await digests(sessionmaker, clock).run("daily", FIRE)
    assert (again.residents, again.deliveries, again.broadcast_ids) == (0, 0, ())
    # A run later the same day: only what was published since.
    later = await digests(sessionmaker, clock).run("daily", kyiv(10, 12))
    # (News without topics or districts is for everyone.)
    assert (later.residents, later.deliveries) == (2, 2)
    async with sessionmaker() as session:
        newest = (
            await session.execute(
                select(Delivery.body).where(Delivery.broadcast_id == later.broadcast_ids[0])
            )
        ).scalars()
        for body in newest:
            assert body is not None and "Завтрашнє" in body
            assert "Концерт" not in body and "Вода" not in body
    # And once more with nothing new: no broadcast at all.
    quiet = await digests(sessionmaker, clock).run("daily", kyiv(10, 13))
    assert (quiet.deliveries, quiet.broadcast_ids) == (0, ())
    async with sessionmaker() as session:
        kinds = (
            await session.execute(
                select(func.count()).where(Broadcast.kind == BroadcastKind.DIGEST.value)
            )
        ).scalar_one()
    assert kinds == 2


async def test_the_engine_sends_each_resident_their_own_digest(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    people = [
        TG_OUTAGES,
        Person("telegram", "4010", "city", digest="daily"),
        VB_CITY,
        Person("viber", "digest-viber-3==", "city", digest="daily"),
        Person("viber", "digest-viber-4==", "ternivskyi", ("outages",), digest="daily"),
        TG_INSTANT,
    ]
    await add_residents(sessionmaker, people)
    await publish(sessionmaker, "Відключення", kyiv(9, 10), topics=["outages"])
    await publish(sessionmaker, "Концерт", kyiv(9, 11), topics=["events"])
    clock = Clock(kyiv(10, 9))
    run = await digests(sessionmaker, clock).run("daily", FIRE)
    assert run.deliveries == 5
    async with (
        FakeTelegram(TELEGRAM_TOKEN) as tg,
        FakeViber(VIBER_TOKEN) as vb,
        telegram_sender(tg) as sender,
        viber_transport(vb) as transport,
    ):
        await open_telegram_chats(
            tg, [int(p.external_id) for p in people if p.channel == "telegram"]
        )
        subscribe_viber(vb, [p.external_id for p in people if p.channel == "viber"])
        engine = DeliveryEngine(
            sessionmaker=sessionmaker, telegram=sender, viber=transport, config=FAST, clock=clock
        )
        async with running([engine]):
            done = await wait_done(sessionmaker, run.broadcast_ids[0])
        assert (done.sent, done.failed, done.blocked) == (5, 0, 0)
        outages_only = [m["text"] for m in tg.messages(4001)]
        assert len(outages_only) == 1 and "Відключення" in outages_only[0]
        assert "Концерт" not in outages_only[0]
        everything = [m["text"] for m in tg.messages(4010)]
        assert len(everything) == 1 and "Концерт" in everything[0]
        # The instant resident got the news items themselves, and no digest.
        assert sorted(m["text"] for m in tg.messages(4002)) == ["Відключення", "Концерт"]
        for viber_id in ("digest-viber-1==", "digest-viber-3=="):
            (text,) = vb.texts(viber_id)
            assert "Відключення" in text and "Концерт" in text and "<b>" not in text
        (text,) = vb.texts("digest-viber-4==")
        assert "Відключення" in text and "Концерт" not in text
        # Two different bodies: two broadcast calls (identical digests share one).
        assert len(vb.calls_to("broadcast_message")) == 2


async def test_long_digests_are_split_at_each_messengers_limit(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    tg_person = Person("telegram", "4020", "city", digest="daily")
    vb_person = Person("viber", "digest-viber-5==", "city", digest="daily")
    await add_residents(sessionmaker, [tg_person, vb_person])
    words = " ".join(f"слово{index} <b>&</b>" for index in range(400))
    for index in range(20):
        await publish(
            sessionmaker,
            f"Новина {index:02d}: {words}",
            kyiv(9, 10, index),
            title=f"Заголовок {index:02d}",
        )
    clock = Clock(kyiv(10, 9))
    run = await digests(sessionmaker, clock).run("daily", FIRE)
    body = (await bodies(sessionmaker))[tg_person.external_id]
    assert len(body) > 7000
    async with (
        FakeTelegram(TELEGRAM_TOKEN) as tg,
        FakeViber(VIBER_TOKEN) as vb,
        telegram_sender(tg) as sender,
        viber_transport(vb) as transport,
    ):
        await open_telegram_chats(tg, [4020])
        subscribe_viber(vb, [vb_person.external_id])
        engine = DeliveryEngine(
            sessionmaker=sessionmaker, telegram=sender, viber=transport, config=FAST, clock=clock
        )
        async with running([engine]):
            done = await wait_done(sessionmaker, run.broadcast_ids[0])
        assert (done.sent, done.failed) == (2, 0)
        telegram_texts = [str(m["text"]) for m in tg.messages(4020)]
        viber_texts = vb.texts(vb_person.external_id)
    assert len(telegram_texts) >= 3 and all(len(text) <= 4096 for text in telegram_texts)
    assert len(viber_texts) >= 2 and all(len(text) <= 7000 for text in viber_texts)
    for texts in (telegram_texts, viber_texts):
        joined = "\n\n".join(texts)
        # Every item once, whole titles, in order; no markup left over.
        titles = re.findall(r"Заголовок (\d\d)", joined)
        assert titles == [f"{index:02d}" for index in range(20)]
        assert "<b>" not in joined and "&amp;" not in joined
        # Every part but the first starts at an item (the split fell between items).
        assert all(re.match(r"\d\d\.12 \d\d:\d\d · Заголовок", text) for text in texts[1:])
    # Each item's text is shortened with an ellipsis.
    assert len(words) > ITEM_TEXT_MAX
    assert "…" in telegram_texts[0]


async def test_weekly_and_daily_residents_each_get_their_own_period(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    weekly = Person("telegram", "4030", "city", digest="weekly")
    daily = Person("telegram", "4031", "city", digest="daily")
    await add_residents(sessionmaker, [weekly, daily])
    # Monday 7 December 09:00 is the weekly fire time; the week before it:
    await publish(sessionmaker, "Понеділок", kyiv(1, 12))
    await publish(sessionmaker, "Середа", kyiv(2, 12))
    await publish(sessionmaker, "Неділя", kyiv(6, 12))
    clock = Clock(kyiv(7, 9))
    daily_run = await digests(sessionmaker, clock).run("daily", kyiv(7, 9))
    weekly_run = await digests(sessionmaker, clock).run("weekly", kyiv(7, 9))
    assert (daily_run.residents, weekly_run.residents) == (1, 1)
    found = await bodies(sessionmaker)
    assert "Неділя" in found[daily.external_id]
    # The daily digest reaches back at most two days (one missed run's worth).
    assert "Середа" not in found[daily.external_id]
    weekly_body = found[weekly.external_id]
    assert weekly_body.startswith("📰 <b>Новини за тиждень</b> · 30.11 – 07.12.2026")
    assert [weekly_body.index(day) for day in ("Понеділок", "Середа", "Неділя")] == sorted(
        weekly_body.index(day) for day in ("Понеділок", "Середа", "Неділя")
    )
    # The next week starts where this one ended.
    await publish(sessionmaker, "Вівторок", kyiv(8, 12))
    next_week = await digests(sessionmaker, clock).run("weekly", kyiv(14, 9))
    async with sessionmaker() as session:
        (body,) = (
            await session.execute(
                select(Delivery.body).where(Delivery.broadcast_id == next_week.broadcast_ids[0])
            )
        ).scalars()
    assert body is not None and "Вівторок" in body and "Неділя" not in body


async def test_a_resident_who_changes_preference(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    switcher = Person("telegram", "4040", "city")
    leaver = Person("telegram", "4041", "city", digest="daily")
    await add_residents(sessionmaker, [switcher, leaver])
    # While instant, the switcher gets this one at once (a delivery is planned)...
    await publish(sessionmaker, "Миттєва", kyiv(9, 10))
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Resident).where(Resident.external_id == "4040").values(digest="daily")
        )
        await session.execute(
            update(Resident).where(Resident.external_id == "4041").values(digest="instant")
        )
    # ...and this one after switching to daily goes to the digest.
    await publish(sessionmaker, "Для дайджесту", kyiv(9, 12))
    clock = Clock(kyiv(10, 9))
    run = await digests(sessionmaker, clock).run("daily", FIRE)
    assert run.deliveries == 1
    found = await bodies(sessionmaker)
    assert set(found) == {"4040"}
    assert "Для дайджесту" in found["4040"] and "Миттєва" not in found["4040"]
    # The one who went instant got "Для дайджесту" pushed at once instead.
    async with sessionmaker() as session:
        pushed = (
            await session.execute(
                select(func.count())
                .select_from(Delivery)
                .join(Resident, Resident.id == Delivery.resident_id)
                .where(Resident.external_id == "4041", Delivery.body.is_(None))
            )
        ).scalar_one()
    assert pushed == 1


async def test_a_crashed_run_is_resumed_without_sending_twice(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    people = [Person("telegram", str(4050 + index), "city", digest="daily") for index in range(5)]
    ids = await add_residents(sessionmaker, people)
    await publish(sessionmaker, "Новина дня", kyiv(9, 10))
    clock = Clock(kyiv(10, 9))
    # The first batch of a run was committed (its delivery and its resident advanced), then the
    # process died before the rest and before handing the broadcast to the engine.
    async with sessionmaker() as session, session.begin():
        crashed = await create_digest(
            session, frequency="daily", fire_at=FIRE, text="daily digest", now=clock()
        )
        first = ids["4050"]
        await add_digest_deliveries(
            session,
            broadcast_id=crashed.id,
            bodies=[DigestBody(first, "telegram", "4050", "Новина дня (перша спроба)")],
            now=clock(),
        )
        await advance_last_digest(session, resident_ids=[first], fire_at=FIRE)
        crashed_id = crashed.id
    async with sessionmaker() as session:
        assert (await session.get(Broadcast, crashed_id)).status == "planning"  # type: ignore[union-attr]
    # The retry of the same fire time continues it, in batches of two.
    run = await digests(sessionmaker, clock, batch_size=2).run("daily", FIRE)
    assert (run.residents, run.deliveries, run.broadcast_ids) == (4, 4, (crashed_id,))
    async with sessionmaker() as session:
        broadcast = await session.get(Broadcast, crashed_id)
        assert broadcast is not None
        assert (broadcast.status, broadcast.recipients) == (BroadcastStatus.SENDING.value, 5)
        per_resident = (
            await session.execute(
                select(Delivery.resident_id, func.count())
                .group_by(Delivery.resident_id)
                .where(Delivery.broadcast_id == crashed_id)
            )
        ).all()
    assert sorted(count for _, count in per_resident) == [1] * 5


async def test_a_crashed_runs_digest_is_released_by_the_next_run(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_residents(sessionmaker, [Person("telegram", "4060", "city", digest="daily")])
    clock = Clock(kyiv(11, 9))
    async with sessionmaker() as session, session.begin():
        crashed = await create_digest(
            session, frequency="daily", fire_at=FIRE, text="daily digest", now=clock()
        )
        await add_digest_deliveries(
            session,
            broadcast_id=crashed.id,
            bodies=[DigestBody(ids["4060"], "telegram", "4060", "Вчорашній дайджест")],
            now=clock(),
        )
        await advance_last_digest(session, resident_ids=[ids["4060"]], fire_at=FIRE)
        crashed_id = crashed.id
    run = await digests(sessionmaker, clock).run("daily", kyiv(11, 9))
    assert run.broadcast_ids == (crashed_id,)
    async with sessionmaker() as session:
        broadcast = await session.get(Broadcast, crashed_id)
        assert broadcast is not None and broadcast.status == BroadcastStatus.SENDING.value


def test_digest_times() -> None:
    assert parse_daily_at("9:05") == time(9, 5)
    assert parse_weekly_at("Friday 18:30") == ("fri", time(18, 30))
    for bad in ("9", "24:00", "09:60", "9.00"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_daily_at(bad)
    with pytest.raises(ValueError, match="DAY HH:MM"):
        parse_weekly_at("someday 09:00")
    settings = load_settings({})
    assert (settings.digest_daily_at, settings.digest_weekly_at) == ("09:00", "mon 09:00")
    with pytest.raises(SettingsError, match="CITYBOT_DIGEST_WEEKLY_AT"):
        load_settings({"CITYBOT_DIGEST_WEEKLY_AT": "09:00"})
    with pytest.raises(SettingsError, match="CITYBOT_DIGEST_DAILY_AT"):
        load_settings({"CITYBOT_DIGEST_DAILY_AT": "morning"})


class Registry:
    """Records what would be scheduled (a stand-in for the scheduler, not for our code)."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}

    def add(self, name: str, run: Any, **cron: Any) -> None:  # noqa: ARG002 (JobRegistry)
        self.jobs[name] = cron


def test_the_cron_jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    registry = Registry()
    register_jobs(
        registry,
        digests(sessionmaker, Clock(FIRE)),
        daily_at="08:45",
        weekly_at="sun 19:00",
    )
    assert registry.jobs == {
        "digest-daily": {"hour": 8, "minute": 45},
        "digest-weekly": {"day_of_week": "sun", "hour": 19, "minute": 0},
    }


async def test_instant_is_not_a_digest(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(ValueError, match="instant"):
        await digests(sessionmaker, Clock(FIRE)).run("instant", FIRE)


def test_an_imported_items_title_is_shown_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    item = NewsItem(
        id=1,
        title="Сесія міської ради",
        text="<b>Сесія міської ради</b>\nРішення &amp; протоколи",
        topics=frozenset(),
        districts=frozenset(),
        channels=frozenset(),
        urgent=False,
        published_at=kyiv(9, 10),
    )
    body = digests(sessionmaker, Clock(FIRE)).body(
        language="uk", frequency=Digest.DAILY, fire_at=FIRE, items=[item]
    )
    assert body.count("Сесія міської ради") == 1
    assert "<b>09.12 10:00</b> · <b>Сесія міської ради</b>\nРішення &amp; протоколи" in body
