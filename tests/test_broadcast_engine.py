"""The delivery engine end to end over the fake Telegram and Viber servers, on SQLite and
PostgreSQL: every resident gets exactly one message, whatever the messengers answer."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from broadcasts.engine import DeliveryEngine
from storage.broadcasts import cancel_broadcast
from storage.db import create_engine, create_sessionmaker
from storage.models import Broadcast, Delivery, Resident
from storage.pacing import current_throttles
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN, bot_settings, running_bot
from tests.test_broadcast_helpers import (
    FAST,
    Person,
    add_residents,
    new_broadcast,
    open_telegram_chats,
    running,
    subscribe_viber,
    telegram_sender,
    viber_transport,
    wait_done,
)

pytestmark = pytest.mark.migrated_database


def telegram_people(count: int, start: int = 1000) -> list[Person]:
    return [Person("telegram", str(start + index)) for index in range(count)]


def viber_people(count: int) -> list[Person]:
    return [Person("viber", f"viber-user-{index:04d}==") for index in range(count)]


async def test_both_channels_every_resident_gets_exactly_one_message(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = telegram_people(250)
    viber = viber_people(350)
    await add_residents(sessionmaker, telegram + viber)
    async with (
        FakeTelegram(TELEGRAM_TOKEN) as tg,
        FakeViber(VIBER_TOKEN, broadcast_rate_limit=(500, 10.0)) as vb,
        telegram_sender(tg) as sender,
        viber_transport(vb) as transport,
    ):
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        subscribe_viber(vb, [p.external_id for p in viber])
        broadcast_id, planned = await new_broadcast(sessionmaker, text="<b>Увага</b>: новини")
        assert planned == 600
        engine = DeliveryEngine(
            sessionmaker=sessionmaker, telegram=sender, viber=transport, config=FAST
        )
        async with running([engine]):
            done = await wait_done(sessionmaker, broadcast_id)
        assert (done.sent, done.blocked, done.failed, done.pending) == (600, 0, 0, 0)
        for person in telegram:
            messages = tg.messages(int(person.external_id))
            assert [m["text"] for m in messages] == ["Увага: новини"]
        for person in viber:
            assert vb.texts(person.external_id) == ["Увага: новини"]
        # 350 receivers: two broadcast calls (300 + 50), not 350 send_message calls.
        assert len(vb.calls_to("broadcast_message")) == 2
        assert vb.calls_to("send_message") == []
    async with sessionmaker() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        assert broadcast.status == "finished" and broadcast.finished_at is not None
        assert (broadcast.recipients, broadcast.sent_count) == (600, 600)
        message_ids = (
            await session.execute(select(Delivery.message_id).where(Delivery.state == "sent"))
        ).scalars()
        assert all(message_ids)


async def test_blocked_residents_are_marked_inactive(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = telegram_people(20)
    viber = viber_people(20)
    ids = await add_residents(sessionmaker, telegram + viber)
    async with (
        FakeTelegram(TELEGRAM_TOKEN) as tg,
        FakeViber(VIBER_TOKEN) as vb,
        telegram_sender(tg) as sender,
        viber_transport(vb) as transport,
    ):
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        subscribe_viber(vb, [p.external_id for p in viber])
        blocked_tg = [int(p.external_id) for p in telegram[:5]]
        for user_id in blocked_tg:
            await tg.block(user_id)
        blocked_vb = [p.external_id for p in viber[:3]]
        for viber_id in blocked_vb:
            await vb.unsubscribe(viber_id)
        # A Viber user whose device cannot show bot messages: failed, not blocked.
        vb.user(viber[3].external_id, subscribed=True, suitable_device=False)
        broadcast_id, _ = await new_broadcast(sessionmaker)
        engine = DeliveryEngine(
            sessionmaker=sessionmaker, telegram=sender, viber=transport, config=FAST
        )
        async with running([engine]):
            done = await wait_done(sessionmaker, broadcast_id)
        assert (done.sent, done.blocked, done.failed) == (31, 8, 1)
        assert all(tg.messages(user_id) == [] for user_id in blocked_tg)
    async with sessionmaker() as session:
        inactive = set(
            (await session.execute(select(Resident.id).where(Resident.is_active.is_(False))))
            .scalars()
            .all()
        )
    expected = {ids[str(u)] for u in blocked_tg} | {ids[u] for u in blocked_vb}
    assert inactive == expected


async def test_a_429_storm_ends_with_everything_sent(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = telegram_people(60)
    await add_residents(sessionmaker, telegram)
    # The server allows 20/s; the engine is told 40/s: it must obey retry_after, not fail.
    async with FakeTelegram(TELEGRAM_TOKEN, global_rate=20) as tg, telegram_sender(tg) as sender:
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        broadcast_id, _ = await new_broadcast(sessionmaker)
        config = dataclasses.replace(FAST, telegram_rate=40.0)
        engine = DeliveryEngine(sessionmaker=sessionmaker, telegram=sender, config=config)
        async with running([engine]):
            done = await wait_done(sessionmaker, broadcast_id)
        assert tg.rate_limited_count > 0
        assert (done.sent, done.failed, done.blocked) == (60, 0, 0)
        assert all(len(tg.messages(int(p.external_id))) == 1 for p in telegram)
    async with sessionmaker() as session:
        attempts = (await session.execute(select(Delivery.attempts))).scalars().all()
        deferrals = (await session.execute(select(Delivery.deferrals))).scalars().all()
    # A 429 is not a failed attempt.
    assert set(attempts) == {0}
    assert sum(deferrals) > 0


async def test_a_limit_lower_than_configured_is_found_logged_and_recorded(
    sessionmaker: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    telegram = telegram_people(60)
    await add_residents(sessionmaker, telegram)
    caplog.set_level(logging.INFO, logger="broadcasts.engine")
    # The server silently allows 10 sends in any one second; the engine is told 20/s.
    async with (
        FakeTelegram(TELEGRAM_TOKEN, global_rate=10, latency=0.02, jitter=0.005, seed=1) as tg,
        telegram_sender(tg) as sender,
    ):
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        broadcast_id, _ = await new_broadcast(sessionmaker)
        config = dataclasses.replace(FAST, telegram_rate=20.0)
        engine = DeliveryEngine(sessionmaker=sessionmaker, telegram=sender, config=config)
        async with running([engine]):
            done = await wait_done(sessionmaker, broadcast_id)
        assert (done.sent, done.failed, done.blocked) == (60, 0, 0)
        assert all(len(tg.messages(int(p.external_id))) == 1 for p in telegram)
        # A few drops from 20/s to about 10/s and a probe or two, not a 429 every other second
        # (pausing, then bursting into the same wall, as a token bucket did).
        assert 1 <= tg.rate_limited_count <= 12
    records = [r for r in caplog.records if "rate limited" in r.getMessage()]
    assert len(records) == tg.rate_limited_count
    assert all(r.levelno == logging.INFO for r in records)
    assert "sendMessage" in records[0].getMessage()
    assert "retry_after 1 s" in records[0].getMessage()
    async with sessionmaker() as session:
        # Recorded where the progress message (perhaps in another process) reads it.
        throttles = await current_throttles(
            session, now=datetime.now(UTC), grace=timedelta(minutes=5)
        )
    assert [(t.channel, t.retry_after) for t in throttles] == [("telegram", 1.0)]
    assert 1.0 <= throttles[0].rate < 20.0


async def test_viber_without_broadcast_permission_falls_back_to_send_message(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    viber = viber_people(40)
    await add_residents(sessionmaker, viber)
    async with (
        FakeViber(VIBER_TOKEN, broadcast_enabled=False) as vb,
        viber_transport(vb) as transport,
    ):
        subscribe_viber(vb, [p.external_id for p in viber[1:]])
        broadcast_id, _ = await new_broadcast(sessionmaker)
        engine = DeliveryEngine(sessionmaker=sessionmaker, viber=transport, config=FAST)
        async with running([engine]):
            done = await wait_done(sessionmaker, broadcast_id)
        # One refused broadcast call, then one send_message per resident.
        assert len(vb.calls_to("broadcast_message")) == 1
        assert len(vb.calls_to("send_message")) == 40
        assert (done.sent, done.blocked, done.failed) == (39, 1, 0)
        assert all(len(vb.texts(p.external_id)) == 1 for p in viber[1:])


async def test_transient_errors_are_retried_then_failed_at_the_cap(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    viber = viber_people(10)
    await add_residents(sessionmaker, viber)
    config = dataclasses.replace(FAST, max_attempts=3)
    async with FakeViber(VIBER_TOKEN) as vb, viber_transport(vb) as transport:
        subscribe_viber(vb, [p.external_id for p in viber])
        # Two outages, then Viber answers: sent on the third attempt.
        vb.fail_next("broadcast_message", http_status=502, times=2)
        first, _ = await new_broadcast(sessionmaker)
        engine = DeliveryEngine(sessionmaker=sessionmaker, viber=transport, config=config)
        async with running([engine]):
            done = await wait_done(sessionmaker, first)
            assert (done.sent, done.failed) == (10, 0)
            # A longer outage: three attempts, then failed with the reason.
            vb.fail_next("broadcast_message", http_status=502, times=10)
            second, _ = await new_broadcast(sessionmaker)
            engine.wake()
            done = await wait_done(sessionmaker, second)
        assert (done.sent, done.failed) == (0, 10)
        assert len(vb.calls_to("broadcast_message")) == 3 + 3
        assert all(len(vb.texts(p.external_id)) == 1 for p in viber)
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(Delivery.attempts, Delivery.last_error).where(
                    Delivery.broadcast_id == second
                )
            )
        ).all()
    assert {attempts for attempts, _ in rows} == {3}
    assert all(error and "HTTP 502" in error for _, error in rows)


async def test_an_expired_lease_is_sent_after_a_crash(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = telegram_people(30)
    await add_residents(sessionmaker, telegram)
    async with FakeTelegram(TELEGRAM_TOKEN) as tg, telegram_sender(tg) as sender:
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        broadcast_id, _ = await new_broadcast(sessionmaker)
        # A process claimed ten deliveries and died: they are "sending" with an expired lease.
        async with sessionmaker() as session, session.begin():
            ids = (
                (await session.execute(select(Delivery.id).order_by(Delivery.id).limit(10)))
                .scalars()
                .all()
            )
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(state="sending", lease_until=datetime.now(UTC) - timedelta(seconds=1))
            )
        engine = DeliveryEngine(sessionmaker=sessionmaker, telegram=sender, config=FAST)
        async with running([engine]):
            done = await wait_done(sessionmaker, broadcast_id)
        assert (done.sent, done.failed) == (30, 0)
        assert all(len(tg.messages(int(p.external_id))) == 1 for p in telegram)


async def test_a_live_lease_is_left_to_its_owner(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = telegram_people(5)
    await add_residents(sessionmaker, telegram)
    async with FakeTelegram(TELEGRAM_TOKEN) as tg, telegram_sender(tg) as sender:
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        broadcast_id, _ = await new_broadcast(sessionmaker)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.external_id == telegram[0].external_id)
                .values(state="sending", lease_until=datetime.now(UTC) + timedelta(seconds=1.5))
            )
        engine = DeliveryEngine(sessionmaker=sessionmaker, telegram=sender, config=FAST)
        async with running([engine]):
            done = await wait_done(sessionmaker, broadcast_id)
        # Sent once the lease ran out (its owner never came back), and only then.
        assert done.sent == 5
        assert all(len(tg.messages(int(p.external_id))) == 1 for p in telegram)


async def test_cancel_stops_what_is_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = telegram_people(100)
    await add_residents(sessionmaker, telegram)
    async with FakeTelegram(TELEGRAM_TOKEN) as tg, telegram_sender(tg) as sender:
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        broadcast_id, _ = await new_broadcast(sessionmaker)
        # 20 messages a second: cancelled about half a second in.
        config = dataclasses.replace(FAST, telegram_rate=20.0)
        engine = DeliveryEngine(sessionmaker=sessionmaker, telegram=sender, config=config)
        async with running([engine]):
            await tg.wait_for_calls("sendMessage", 8, timeout=10)
            async with sessionmaker() as session, session.begin():
                cancelled = await cancel_broadcast(
                    session, broadcast_id=broadcast_id, now=datetime.now(UTC)
                )
            done = await wait_done(sessionmaker, broadcast_id)
        # What was pending is cancelled at once; what was claimed is not sent either.
        assert cancelled >= 50
        assert done.status == "cancelled"
        assert done.sent < 30
        assert done.sent + done.cancelled == 100
        assert done.sent == tg.sent_count
        assert all(len(tg.messages(int(p.external_id))) <= 1 for p in telegram)


async def test_two_processes_on_postgresql_send_each_message_once(pg_url: str) -> None:
    from bot.migrate import upgrade_to_head

    first_engine = create_engine(pg_url)
    second_engine = create_engine(pg_url)
    try:
        await upgrade_to_head(first_engine)
        first = create_sessionmaker(first_engine)
        second = create_sessionmaker(second_engine)
        telegram = telegram_people(300)
        viber = viber_people(600)
        await add_residents(first, telegram + viber)
        async with (
            FakeTelegram(TELEGRAM_TOKEN) as tg,
            FakeViber(VIBER_TOKEN, latency=0.02) as vb,
            telegram_sender(tg) as sender,
            viber_transport(vb) as transport,
        ):
            await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
            subscribe_viber(vb, [p.external_id for p in viber])
            broadcast_id, _ = await new_broadcast(first)
            # Small Viber batches so both processes get some.
            config = dataclasses.replace(FAST, viber_batch=50, viber_calls_per_batch=1)
            engines = [
                DeliveryEngine(sessionmaker=maker, telegram=sender, viber=transport, config=config)
                for maker in (first, second)
            ]
            async with running(engines):
                done = await wait_done(first, broadcast_id)
            assert (done.sent, done.failed) == (900, 0)
            assert tg.sent_count == 300
            assert all(len(tg.messages(int(p.external_id))) == 1 for p in telegram)
            assert all(len(vb.texts(p.external_id)) == 1 for p in viber)
    finally:
        await first_engine.dispose()
        await second_engine.dispose()


async def test_citybot_run_delivers_a_planned_broadcast(database_url: str) -> None:
    """The engine runs inside ``serve`` (paid-broadcast mode here) and stops with it."""
    async with FakeTelegram(TELEGRAM_TOKEN) as tg:
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=tg.base_url,
            telegram_paid_broadcast="true",
        )
        async with running_bot(settings) as runtime:
            telegram = telegram_people(5)
            await add_residents(runtime.sessionmaker, telegram)
            await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
            broadcast_id, _ = await new_broadcast(runtime.sessionmaker)
            done = await wait_done(runtime.sessionmaker, broadcast_id, timeout=10)
        assert done.sent == 5
        assert tg.paid_broadcast_count == 5
        for person in telegram:
            # The bot also answered their /start; the news came once.
            texts = [m.get("text") for m in tg.messages(int(person.external_id))]
            assert texts.count("Новини міста") == 1
