"""Crash test: kill -9 the sending process in the middle of a 10,000-resident broadcast,
start a new one, and count what residents received.

    python -m bench.broadcast_crash [--residents 10000] [--kill-at 0.4] [--rate 300]

The engine runs in a child process (``--worker``), as in ``citybot run``; the fake Bot API in
another (it counts the messages each chat received). When ``--kill-at`` of the deliveries are
sent, the worker gets SIGKILL; a new worker picks up what is pending and, once their lease has
expired, what the dead one had in flight. Reported: residents reached, duplicates, and the
documented bound (deliveries in flight at the kill: at most two claimed batches). A higher rate
than Telegram's 30/s (the fake does not limit here) keeps the run short; the crash logic does
not depend on the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection

from sqlalchemy import func, select

from bench.broadcast_telegram import FIRST_USER, TEXT, open_chats, seed
from bot.config import TELEGRAM_API_URL
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.channel import create_bot
from bot.telegram.sender import TelegramSender
from broadcasts.engine import DeliveryEngine, EngineConfig
from storage.broadcasts import broadcast_progress, create_broadcast
from storage.db import create_engine, create_sessionmaker
from storage.models import Delivery
from storage.planning import plan_broadcast
from tests.conftest import pg_database
from tests.harness import TELEGRAM_TOKEN

TIMEOUT = 900.0


def _serve_fake(users: int, conn: Connection) -> None:
    async def serve() -> None:
        async with FakeTelegram(TELEGRAM_TOKEN, latency=0.05) as fake:
            await open_chats(fake, users)
            conn.send(fake.base_url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            counts = {FIRST_USER + i: len(fake.messages(FIRST_USER + i)) for i in range(users)}
            conn.send(counts)

    asyncio.run(serve())


async def worker(url: str, base_url: str, rate: float) -> None:
    """One sending process: runs the engine until SIGTERM (or SIGKILL)."""
    engine = create_engine(url)
    bot = create_bot(TELEGRAM_TOKEN, base_url, default_api_url=TELEGRAM_API_URL)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        delivery = DeliveryEngine(
            sessionmaker=create_sessionmaker(engine),
            telegram=TelegramSender(bot),
            config=EngineConfig(telegram_rate=rate, idle_poll=0.2),
        )
        await delivery.run(stop)
    finally:
        await bot.session.close()
        await engine.dispose()


async def _start_worker(url: str, base_url: str, rate: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.broadcast_crash", "--worker", url, base_url, str(rate)
    )


async def _until(
    done: Callable[[tuple[int, int, bool]], bool],
    poll: Callable[[], Awaitable[tuple[int, int, bool]]],
    every: float,
    within: float = TIMEOUT,
) -> None:
    """Poll the database until ``done``; bounded by ``within`` seconds."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        if done(await poll()):
            return
        await asyncio.sleep(every)
    raise TimeoutError("the broadcast did not get there in time")


async def main(args: argparse.Namespace) -> None:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    fake = context.Process(target=_serve_fake, args=(args.residents, child), daemon=True)
    fake.start()
    loop = asyncio.get_running_loop()
    base_url = str(await loop.run_in_executor(None, parent.recv))
    async with pg_database() as url:
        await seed(url, args.residents)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        try:
            async with sessionmaker() as session, session.begin():
                broadcast = await create_broadcast(session, text=TEXT, now=datetime.now(UTC))
                await plan_broadcast(session, broadcast_id=broadcast.id, now=datetime.now(UTC))
            broadcast_id = broadcast.id

            async def progress() -> tuple[int, int, bool]:
                async with sessionmaker() as session:
                    state = await broadcast_progress(
                        session, broadcast_id=broadcast_id, now=datetime.now(UTC)
                    )
                    in_flight = await session.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.broadcast_id == broadcast_id, Delivery.state == "sending")
                    )
                assert state is not None
                return state.sent, int(in_flight or 0), state.done and state.status == "finished"

            started = time.perf_counter()
            first = await _start_worker(url, base_url, args.rate)
            await _until(lambda state: state[0] >= args.kill_at * args.residents, progress, 0.05)
            sent_at_kill, in_flight_at_kill, _ = await progress()
            first.send_signal(signal.SIGKILL)
            await first.wait()
            killed_at = time.perf_counter() - started
            second = await _start_worker(url, base_url, args.rate)
            await _until(lambda state: state[2], progress, 0.5)
            second.send_signal(signal.SIGTERM)
            await second.wait()
            elapsed = time.perf_counter() - started
            async with sessionmaker() as session:
                states = dict(
                    (
                        await session.execute(
                            select(Delivery.state, func.count())
                            .where(Delivery.broadcast_id == broadcast_id)
                            .group_by(Delivery.state)
                        )
                    ).all()
                )
        finally:
            await engine.dispose()
    parent.send("stop")
    counts: dict[int, int] = await loop.run_in_executor(None, parent.recv)
    fake.join(timeout=10)
    received = Counter(counts.values())
    reached = sum(1 for n in counts.values() if n >= 1)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    print(
        f"residents {args.residents}; killed after {killed_at:.1f} s with {sent_at_kill} sent "
        f"and {in_flight_at_kill} in flight; finished after {elapsed:.1f} s"
    )
    print(f"deliveries by state: {states}")
    print(
        f"residents reached: {reached} of {args.residents}; messages per resident: "
        f"{dict(sorted(received.items()))}; duplicates: {duplicates} "
        f"(bound: the deliveries in flight at the kill, here {in_flight_at_kill})"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Broadcast crash test")
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--kill-at", type=float, default=0.4)
    parser.add_argument("--rate", type=float, default=300.0)
    return parser.parse_args()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        asyncio.run(worker(sys.argv[2], sys.argv[3], float(sys.argv[4])))
    else:
        asyncio.run(main(_arguments()))
