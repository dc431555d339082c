"""Telegram broadcast throughput: the delivery engine against the plain loop most bots use, on
PostgreSQL, against a fake Bot API that enforces the real limits.

    python -m bench.broadcast_telegram [--residents 10000] [--baseline 1000] [--paid 10000]

The fake answers every call after ``--latency`` (default 50 ms, a round trip from Ukraine) and
answers 429 with retry_after past 30 messages/s overall or 1/s per chat (1,000/s with
allow_paid_broadcast). Reported: messages/s from the first claim to the broadcast's end, and the
429s the server answered. The baseline sends to each resident in turn and sleeps 1/30 s after
each message; its rate is steady from the first message, so a shorter run (``--baseline``)
measures it as well as 10,000 would. The fake server runs in its own process (as Telegram would
be elsewhere), so the benchmark measures our process, not the fake's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection

import aiohttp
from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy import insert

from bench.bulk_aiohttp import AiohttpBulkSender
from bench.child import served_in_child
from bench.finished import wait_finished
from bot.config import TELEGRAM_API_URL
from bot.migrate import upgrade_to_head
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.bulk import BulkTelegramSender
from bot.telegram.channel import create_bot
from bot.telegram.sender import TelegramSender
from broadcasts.engine import DeliveryEngine, EngineConfig
from messaging.contract import RateLimited, Reply, Sender
from storage.broadcasts import broadcast_progress, create_broadcast
from storage.db import create_engine, create_sessionmaker
from storage.models import Resident
from storage.planning import plan_broadcast
from tests.conftest import pg_database
from tests.harness import TELEGRAM_TOKEN

FIRST_USER = 20_000_000
TEXT = "<b>Новини міста</b>: графік відключень на завтра"


async def seed(url: str, count: int) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        now = datetime.now(UTC)
        rows = [
            {
                "channel": "telegram",
                "external_id": str(FIRST_USER + index),
                "language": "uk",
                "consent_at": now,
                "district": "city",
                "digest": "instant",
                "subscribed": True,
                "is_active": True,
                "created_at": now,
                "last_seen_at": now,
            }
            for index in range(count)
        ]
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(insert(Resident), rows)
    finally:
        await engine.dispose()


async def open_chats(fake: FakeTelegram, count: int) -> None:
    for index in range(count):
        await fake.send_text(FIRST_USER + index, "/start")


@dataclass
class FakeStats:
    sent: int = 0
    rate_limited: int = 0
    paid: int = 0


def _serve_fake(latency: float, users: int, conn: Connection) -> None:
    async def serve() -> None:
        async with FakeTelegram(
            TELEGRAM_TOKEN, global_rate=30, per_chat_rate=1, latency=latency
        ) as fake:
            await open_chats(fake, users)
            conn.send(fake.base_url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            conn.send((fake.sent_count, fake.rate_limited_count, fake.paid_broadcast_count))

    asyncio.run(serve())


@contextlib.asynccontextmanager
async def fake_process(latency: float, users: int) -> AsyncIterator[tuple[str, FakeStats]]:
    """The fake Bot API in a child process; its counters are filled in when the block ends."""
    stats = FakeStats()
    async with served_in_child(_serve_fake, latency, users) as (base_url, counters):
        yield base_url, stats
    stats.sent, stats.rate_limited, stats.paid = counters


class PaidBroadcast(BaseRequestMiddleware):
    """The aiogram baseline in paid mode: marks sends ``allow_paid_broadcast`` (citybot itself
    broadcasts through ``bot.telegram.bulk.BulkTelegramSender``)."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, SendMessage | SendPhoto | SendDocument):
            method.allow_paid_broadcast = True
        return await make_request(bot, method)


@dataclass
class EngineRun:
    sent: int
    elapsed: float
    # CPU seconds of this process per message while the engine ran: robust on a busy machine,
    # and 1 / cpu_per_message is the rate one core could sustain.
    cpu_per_message: float


def make_sender(
    http: aiohttp.ClientSession, base_url: str, *, kind: str, paid: bool
) -> tuple[Sender, Callable[[], Awaitable[None]] | None]:
    """The engine's Telegram sender, and what to close afterwards (if anything)."""
    if kind == "bulk":
        # What citybot run uses for broadcasts (bot/broadcasting.py).
        bulk = BulkTelegramSender(api_url=base_url, token=TELEGRAM_TOKEN, paid=paid)
        return bulk, bulk.close
    if kind == "bulk-aiohttp":
        # The lean sender as it was before its own HTTP client: the same-run baseline.
        legacy = AiohttpBulkSender(http=http, api_url=base_url, token=TELEGRAM_TOKEN, paid=paid)
        return legacy, None
    # aiogram, as staff answers and conversations are sent.
    bot = create_bot(TELEGRAM_TOKEN, base_url, default_api_url=TELEGRAM_API_URL)
    if paid:
        bot.session.middleware(PaidBroadcast())
    return TelegramSender(bot), bot.session.close


async def run_engine(url: str, base_url: str, *, paid: bool, kind: str = "bulk") -> EngineRun:
    engine = create_engine(url)
    http = aiohttp.ClientSession()
    sender, close = make_sender(http, base_url, kind=kind, paid=paid)
    sessionmaker = create_sessionmaker(engine)
    stop = asyncio.Event()
    try:
        async with sessionmaker() as session, session.begin():
            broadcast = await create_broadcast(session, text=TEXT, now=datetime.now(UTC))
            broadcast_id = broadcast.id
        started = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            await plan_broadcast(session, broadcast_id=broadcast_id, now=datetime.now(UTC))
        planned = time.perf_counter()
        cpu_started = time.process_time()
        delivery = DeliveryEngine(
            sessionmaker=sessionmaker,
            telegram=sender,
            config=EngineConfig(telegram_paid=paid, idle_poll=0.2),
        )
        task = asyncio.create_task(delivery.run(stop))
        await wait_finished(sessionmaker, broadcast_id)
        elapsed = time.perf_counter() - planned
        cpu = time.process_time() - cpu_started
        async with sessionmaker() as session:
            state = await broadcast_progress(
                session, broadcast_id=broadcast_id, now=datetime.now(UTC)
            )
        assert state is not None
        print(f"  planning: {planned - started:.2f} s; failed {state.failed}")
        stop.set()
        await task
        return EngineRun(state.sent, elapsed, cpu / max(1, state.sent))
    finally:
        if close is not None:
            await close()
        await http.close()
        await engine.dispose()


async def run_baseline(base_url: str, count: int) -> tuple[int, float, int]:
    bot = create_bot(TELEGRAM_TOKEN, base_url, default_api_url=TELEGRAM_API_URL)
    sender = TelegramSender(bot)
    sent = failed = 0
    started = time.perf_counter()
    try:
        for index in range(count):
            try:
                await sender.send(str(FIRST_USER + index), Reply(text=TEXT))
                sent += 1
            except RateLimited:
                # What the plain loop does: the message is lost.
                failed += 1
            await asyncio.sleep(1 / 30)
    finally:
        await bot.session.close()
    return sent, time.perf_counter() - started, failed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--paid", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument(
        "--kinds",
        type=int,
        default=2,
        help="paid runs: 1 = bulk sender only, 2 = and over aiohttp, 3 = and aiogram",
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; latency {args.latency * 1000:.0f} ms")
    if args.residents:
        async with pg_database() as url:
            await seed(url, args.residents)
            async with fake_process(args.latency, args.residents) as (base_url, stats):
                run = await run_engine(url, base_url, paid=False)
            print(
                f"engine, 30/s: {run.sent} sent in {run.elapsed:.1f} s = "
                f"{run.sent / run.elapsed:.2f}/s; 429s: {stats.rate_limited}; "
                f"server counted {stats.sent} messages"
            )
    if args.baseline:
        async with fake_process(args.latency, args.baseline) as (base_url, stats):
            sent, elapsed, failed = await run_baseline(base_url, args.baseline)
        print(
            f"baseline (send, sleep 1/30 s): {sent} sent in {elapsed:.1f} s = "
            f"{sent / elapsed:.2f}/s; 429s: {stats.rate_limited}, lost {failed}"
        )
    kinds = ("bulk", "bulk-aiohttp", "aiogram")
    for kind in (kinds if args.paid else ())[: args.kinds]:
        # The same paid run with the lean sender over aiohttp (as it was before issue 16) and
        # with the aiogram sender, as baselines for the bulk sender.
        async with pg_database() as url:
            await seed(url, args.paid)
            async with fake_process(args.latency, args.paid) as (base_url, stats):
                run = await run_engine(url, base_url, paid=True, kind=kind)
            print(
                f"engine, paid (1,000/s), {kind} sender: {run.sent} sent in {run.elapsed:.1f} s"
                f" = {run.sent / run.elapsed:.1f}/s; engine CPU "
                f"{run.cpu_per_message * 1000:.2f} ms/message "
                f"(one core: {1 / max(run.cpu_per_message, 1e-9):.0f}/s); "
                f"429s: {stats.rate_limited}; paid calls: {stats.paid}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the benchmark process (engine, without the fake): {peak:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
