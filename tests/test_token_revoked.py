"""A bot token revoked while citybot runs (in @BotFather, in the Viber admin panel): the
messengers answer 401 (Viber: status 2) to every call. The operator is told once, naming the
setting, ``/healthz`` answers 503, the poller asks again only every few minutes, and nothing is
lost: the reply stays owed, broadcast deliveries stay pending and uncounted; with a valid token
again everything goes out and the health is back. On SQLite and PostgreSQL, over the fakes."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.metrics.core import Metrics
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from broadcasts.engine import DeliveryEngine
from handlers.owed import OWED_AFTER
from handlers.sending import send_owed
from storage.models import Delivery, ProcessedUpdate
from tests.harness import (
    TELEGRAM_TOKEN,
    VIBER_TOKEN,
    TelegramResident,
    bot_settings,
    running_bot,
)
from tests.test_broadcast_engine import telegram_people, viber_people
from tests.test_broadcast_helpers import (
    FAST,
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

REVOKED = "123456789:AAH_revoked-in-botfather_000000000"
WAIT = 10.0  # seconds: a bounded wait for what the bot does on its own


async def _health(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as response:
        return response.status, await response.json()


async def _until(check: Any) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


def _refused_polls(metrics: Metrics) -> float:
    sample = metrics.registry.get_sample_value(
        "citybot_api_calls_total",
        {"channel": "telegram", "method": "getUpdates", "outcome": "refused"},
    )
    return sample or 0.0


async def test_a_token_revoked_while_polling_is_told_once_and_loses_no_reply(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = bot_settings(
            database_url, telegram_token=TELEGRAM_TOKEN, telegram_api_url=fake.base_url
        )
        async with running_bot(settings) as runtime:
            url = settings.public_url
            assert url is not None
            resident = TelegramResident(fake, 2026, polling=True)
            await resident.start()
            assert (await _health(url))[0] == 200
            answered = len(fake.messages(2026))

            fake.token = REVOKED
            await fake.send_text(2026, "Привіт")  # reaches the long poll already waiting

            async def refused() -> bool:
                return (await _health(url))[0] == 503

            await _until(refused)
            status, body = await _health(url)
            assert status == 503
            assert body["token_refused"] == {"telegram": "CITYBOT_TELEGRAM_TOKEN"}
            assert body["database"] == "ok"
            # The poller waits minutes before asking again, not its one-second back-off.
            polls = _refused_polls(runtime.metrics)
            await asyncio.sleep(1.5)
            assert _refused_polls(runtime.metrics) == polls == 1
            told = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(told) == 1 and "CITYBOT_TELEGRAM_TOKEN" in told[0].getMessage()
            assert TELEGRAM_TOKEN not in caplog.text and REVOKED not in caplog.text
            # The answer to "Привіт" was not sent, and it is not lost: it is owed.
            assert len(fake.messages(2026)) == answered
            async with runtime.sessionmaker() as session:
                owed = (
                    await session.scalars(
                        select(ProcessedUpdate.update_key).where(ProcessedUpdate.owed.is_not(None))
                    )
                ).all()
            assert len(owed) == 1

            # A valid token again (here: the same one restored): the owed-replies job sends it,
            # and the first accepted call makes the bot healthy.
            fake.token = TELEGRAM_TOKEN
            later = datetime.now(UTC) + OWED_AFTER + timedelta(seconds=1)
            sent = await send_owed(
                runtime.sessionmaker, runtime.senders, runtime.replies, clock=lambda: later
            )
            assert sent >= 1 and len(fake.messages(2026)) > answered
            assert (await _health(url))[0] == 200
            assert any("accepts the bot's token again" in r.getMessage() for r in caplog.records)


async def test_a_revoked_token_keeps_broadcast_deliveries_pending_and_uncounted(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    telegram = telegram_people(20)
    viber = viber_people(20)
    await add_residents(sessionmaker, telegram + viber)
    metrics = Metrics()
    async with (
        FakeTelegram(TELEGRAM_TOKEN) as tg,
        FakeViber(VIBER_TOKEN) as vb,
        telegram_sender(tg, metrics=metrics) as sender,
        viber_transport(vb, metrics=metrics) as transport,
    ):
        await open_telegram_chats(tg, [int(p.external_id) for p in telegram])
        subscribe_viber(vb, [p.external_id for p in viber])
        tg.token, vb.token = REVOKED, "revoked-viber-token"
        broadcast_id, planned = await new_broadcast(sessionmaker)
        assert planned == 40
        config = dataclasses.replace(FAST, token_pause=0.3, max_attempts=2)
        engine = DeliveryEngine(
            sessionmaker=sessionmaker, telegram=sender, viber=transport, config=config
        )
        async with running([engine]):

            async def both_refused() -> bool:
                return metrics.health.problems().keys() == {"telegram", "viber"}

            await _until(both_refused)
            # Several rests of token_pause: with max_attempts=2, counted attempts would have
            # failed every delivery by now.
            await asyncio.sleep(1.0)
            async with sessionmaker() as session:
                rows = (await session.execute(select(Delivery.state, Delivery.attempts))).all()
            # Pending, or claimed again for the next try ("sending"): none failed or sent.
            assert {state for state, _ in rows} <= {"pending", "sending"}
            assert {attempts for _, attempts in rows} == {0}

            tg.token, vb.token = TELEGRAM_TOKEN, VIBER_TOKEN
            done = await wait_done(sessionmaker, broadcast_id)
        assert (done.sent, done.failed, done.blocked) == (40, 0, 0)
        assert metrics.health.problems() == {}
