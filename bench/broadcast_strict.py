"""Telegram broadcasts against a strict limiter: the delivery engine and the plain loop most bots
use, against the fake Bot API counting sends in a sliding window of one second (the 31st send
inside any one second gets 429 with retry_after), with 50 ms round trips plus jitter.

    python -m bench.broadcast_strict [--residents 3000] [--baseline 300] [--jitter 0.01]

Scenarios, each on a fresh PostgreSQL database with the fake in its own process:
  cap    — the fake allows 30/s, the engine is configured for 30/s (target ≥ 29.5/s, at most one
           429 per 10,000);
  lowered — the fake's limit silently lowered to 20/s, the engine still configured for 30/s
           (target: settles at ≥ 19/s with the 429s bounded);
  baseline — for each resident ``send``, then ``sleep(1/30)``, against the 30/s fake.
Reported: messages/s from the end of planning until the broadcast is recorded finished, the rate
after the first ``--settle`` seconds ("settled"), the 429s the fake answered and per 10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection

from bench.broadcast_telegram import TEXT, open_chats, run_baseline, seed
from bench.child import served_in_child
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.bulk import BulkTelegramSender
from broadcasts.engine import DeliveryEngine, EngineConfig
from storage.broadcasts import broadcast_progress, create_broadcast
from storage.db import create_engine, create_sessionmaker
from storage.planning import plan_broadcast
from tests.conftest import pg_database
from tests.harness import TELEGRAM_TOKEN


def _serve_fake(rate: float, latency: float, jitter: float, users: int, conn: Connection) -> None:
    async def serve() -> None:
        async with FakeTelegram(
            TELEGRAM_TOKEN,
            global_rate=rate,
            per_chat_rate=1,
            latency=latency,
            jitter=jitter,
            seed=1,
        ) as fake:
            await open_chats(fake, users)
            conn.send(fake.base_url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            conn.send((fake.sent_count, fake.rate_limited_count))

    asyncio.run(serve())


@dataclass
class FakeStats:
    sent: int = 0
    rate_limited: int = 0


@contextlib.asynccontextmanager
async def strict_fake(
    rate: float, latency: float, jitter: float, users: int
) -> AsyncIterator[tuple[str, FakeStats]]:
    stats = FakeStats()
    async with served_in_child(_serve_fake, rate, latency, jitter, users) as (base_url, counters):
        yield base_url, stats
    stats.sent, stats.rate_limited = counters


@dataclass
class Run:
    sent: int
    elapsed: float
    settled: float


async def run_engine(url: str, base_url: str, *, margin: float, settle: float) -> Run:
    engine = create_engine(url)
    sender = BulkTelegramSender(api_url=base_url, token=TELEGRAM_TOKEN)
    sessionmaker = create_sessionmaker(engine)
    stop = asyncio.Event()
    try:
        async with sessionmaker() as session, session.begin():
            broadcast = await create_broadcast(session, text=TEXT, now=datetime.now(UTC))
            broadcast_id = broadcast.id
        async with sessionmaker() as session, session.begin():
            await plan_broadcast(session, broadcast_id=broadcast_id, now=datetime.now(UTC))
        planned = time.perf_counter()
        config = EngineConfig(telegram_rate=30.0, telegram_margin=margin, idle_poll=0.2)
        delivery = DeliveryEngine(sessionmaker=sessionmaker, telegram=sender, config=config)
        task = asyncio.create_task(delivery.run(stop))
        mark: tuple[float, int] | None = None
        while True:
            await asyncio.sleep(0.2)
            async with sessionmaker() as session:
                state = await broadcast_progress(
                    session, broadcast_id=broadcast_id, now=datetime.now(UTC)
                )
            assert state is not None
            now = time.perf_counter()
            if mark is None and now - planned >= settle:
                mark = (now, state.sent)
            if state.done and state.status == "finished":
                break
        elapsed = time.perf_counter() - planned
        stop.set()
        await task
        settled = (state.sent - mark[1]) / (now - mark[0]) if mark else float("nan")
        return Run(state.sent, elapsed, settled)
    finally:
        await sender.close()
        await engine.dispose()


async def scenario(
    name: str, *, limit: float, args: argparse.Namespace, margin: float
) -> tuple[float, int]:
    async with pg_database() as url:
        await seed(url, args.residents)
        async with strict_fake(limit, args.latency, args.jitter, args.residents) as (base, stats):
            run = await run_engine(url, base, margin=margin, settle=args.settle)
    rate = run.sent / run.elapsed
    per = stats.rate_limited * 10_000 / max(1, stats.sent)
    print(
        f"{name}: fake {limit:g}/s, engine 30/s, margin {margin * 1000:.0f} ms: {run.sent} sent "
        f"in {run.elapsed:.1f} s = {rate:.2f}/s (after {args.settle:g} s: {run.settled:.2f}/s); "
        f"429s: {stats.rate_limited} ({per:.1f} per 10,000); fake counted {stats.sent}",
        flush=True,
    )
    return rate, stats.rate_limited


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=3_000)
    parser.add_argument("--baseline", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--jitter", type=float, default=0.01, help="round trip: + uniform(0, j)")
    parser.add_argument("--margin", type=float, default=EngineConfig().telegram_margin)
    parser.add_argument("--settle", type=float, default=30.0)
    parser.add_argument("--scenarios", default="cap,lowered,baseline")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores; round trip {args.latency * 1000:.0f} ms "
        f"+ 0-{args.jitter * 1000:.0f} ms; {args.residents} residents",
        flush=True,
    )
    chosen = args.scenarios.split(",")
    cap = None
    if "cap" in chosen:
        cap, _ = await scenario("cap", limit=30, args=args, margin=args.margin)
    if "lowered" in chosen:
        await scenario("lowered", limit=20, args=args, margin=args.margin)
    if "margin0" in chosen:
        await scenario("cap, no margin", limit=30, args=args, margin=0.0)
    if "baseline" in chosen and args.baseline:
        async with strict_fake(30, args.latency, args.jitter, args.baseline) as (base, stats):
            sent, elapsed, lost = await run_baseline(base, args.baseline)
        rate = sent / elapsed
        print(
            f"baseline (send, sleep 1/30 s), fake 30/s: {sent} sent in {elapsed:.1f} s = "
            f"{rate:.2f}/s; 429s: {stats.rate_limited}, lost {lost}",
            flush=True,
        )
        if cap is not None:
            print(f"ratio engine/baseline at the cap: {cap / rate:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
