"""Shared set-up for the broadcast tests: residents in bulk, the engine wired to the fake
servers, and running it until a broadcast is done. (No tests here.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import TELEGRAM_API_URL
from bot.metrics.core import Metrics
from bot.metrics.telegram import CountedCalls
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from bot.telegram.channel import create_bot
from bot.telegram.lean import BotApi
from bot.telegram.sender import TelegramSender
from bot.viber import render
from bot.viber.channel import ViberSender
from bot.viber.client import ViberClient
from broadcasts.engine import DeliveryEngine, EngineConfig, ViberTransport
from storage.broadcasts import Progress, broadcast_progress, create_broadcast
from storage.models import Resident, ResidentTopic
from storage.planning import plan_broadcast
from storage.vocabulary import Topic
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
# Fast polling and backoff: tests wait for outcomes, not for production pacing.
FAST = EngineConfig(telegram_rate=1000.0, idle_poll=0.05, backoff_base=0.01, error_pause=0.05)
DONE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Person:
    channel: str
    external_id: str
    district: str | None = "city"
    topics: tuple[str, ...] = tuple(topic.value for topic in Topic)
    digest: str = "instant"
    subscribed: bool = True
    active: bool = True
    consent: bool = True


async def add_residents(
    sessionmaker: async_sessionmaker[AsyncSession], people: Sequence[Person]
) -> dict[str, int]:
    """Insert residents; returns their ids by external id."""
    async with sessionmaker() as session, session.begin():
        rows = [
            Resident(
                channel=person.channel,
                external_id=person.external_id,
                language="uk",
                consent_at=NOW if person.consent else None,
                district=person.district,
                digest=person.digest,
                subscribed=person.subscribed,
                is_active=person.active,
                created_at=NOW,
                last_seen_at=NOW,
                topics=[ResidentTopic(topic=topic) for topic in person.topics],
            )
            for person in people
        ]
        session.add_all(rows)
        await session.flush()
        return {row.external_id: row.id for row in rows}


async def new_broadcast(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    text: str = "<b>Новини</b> міста",
    topics: Sequence[str] = (),
    districts: Sequence[str] = (),
    channels: Sequence[str] = (),
    urgent: bool = False,
    plan: bool = True,
) -> tuple[int, int | None]:
    """Create (and plan) a broadcast; returns (id, recipients planned)."""
    async with sessionmaker() as session, session.begin():
        broadcast = await create_broadcast(
            session,
            text=text,
            topics=topics,
            districts=districts,
            channels=channels,
            urgent=urgent,
            now=datetime.now(UTC),
        )
        planned = (
            await plan_broadcast(session, broadcast_id=broadcast.id, now=datetime.now(UTC))
            if plan
            else None
        )
        return broadcast.id, planned


async def progress(sessionmaker: async_sessionmaker[AsyncSession], broadcast_id: int) -> Progress:
    async with sessionmaker() as session:
        found = await broadcast_progress(session, broadcast_id=broadcast_id, now=datetime.now(UTC))
    assert found is not None
    return found


@contextlib.asynccontextmanager
async def running(engines: Sequence[DeliveryEngine]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(engine.run(stop)) for engine in engines]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)


async def wait_done(
    sessionmaker: async_sessionmaker[AsyncSession],
    broadcast_id: int,
    timeout: float = DONE_TIMEOUT,  # noqa: ASYNC109 - a plain bounded wait
) -> Progress:
    """Wait until the broadcast is finished (or cancelled) with nothing left in flight."""
    async with asyncio.timeout(timeout):
        while True:
            state = await progress(sessionmaker, broadcast_id)
            if state.done and state.status in ("finished", "cancelled"):
                return state
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def telegram_sender(
    fake: FakeTelegram, *, metrics: Metrics | None = None
) -> AsyncIterator[TelegramSender]:
    """``metrics``: count every call, as the bot's wiring does (plain JSON and aiogram's)."""
    bot = create_bot(TELEGRAM_TOKEN, fake.base_url, default_api_url=TELEGRAM_API_URL)
    if metrics is None:
        api = None
    else:
        bot.session.middleware(CountedCalls(metrics))
        api = BotApi.for_bot(bot, metrics=metrics)
    try:
        yield TelegramSender(bot, api=api)
    finally:
        await bot.session.close()


@contextlib.asynccontextmanager
async def viber_transport(
    fake: FakeViber, *, metrics: Metrics | None = None
) -> AsyncIterator[ViberTransport]:
    # Viber refuses to send before a webhook is set; the fake's state stands in for that step.
    fake.webhook_url = "http://127.0.0.1:9/viber/webhook"
    async with aiohttp.ClientSession() as http:
        client = ViberClient(
            session=http, api_url=fake.base_url, token=VIBER_TOKEN, metrics=metrics
        )
        sender = ViberSender(client, name="Міська рада", avatar=None)
        yield ViberTransport(api=client, render=render.messages, sender_info=sender.sender_info)


async def open_telegram_chats(fake: FakeTelegram, ids: Sequence[int]) -> None:
    """Each user writes /start first: Telegram bots cannot start a conversation."""
    for user_id in ids:
        await fake.send_text(user_id, "/start")


def subscribe_viber(fake: FakeViber, ids: Sequence[str]) -> None:
    for user_id in ids:
        fake.user(user_id, subscribed=True)
