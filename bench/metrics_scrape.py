"""What ``GET /metrics`` costs: the database figures' read at scale, and the instruments' cost on
the hot path, each against a baseline in the same run.

    python -m bench.metrics_scrape [--db postgresql|sqlite|both] [--live 300000]
        [--finished 700000] [--tickets 100000] [--repeat 30]

Seeded: a broadcast in progress to ``--live`` recipients (70 % Telegram; 40 % sent within the
last minutes, 55 % pending, 5 % blocked or failed), finished broadcasts with ``--finished``
deliveries (never read by the scrape: it follows the in-progress broadcasts through the
deliveries' index), and the desk benchmark's ``--tickets`` tickets (15 % open, eight
departments). Measured, ``--repeat`` times after a warm-up: ``SELECT 1`` through a pooled session
(the baseline, what ``/healthz`` does), ``live_figures`` (deliveries and owed replies),
``queue_counts`` (tickets by department), and a whole scrape without HTTP (the refresh of the
figures and rendering the registry). Then the instruments per call in microseconds: an update's
``with metrics.handling(...)`` and an API call's ``metrics.call(...)`` against an empty ``with``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.desk_queue import CALENDAR, DEPARTMENTS, KYIV, seed, timings
from bot.metrics.core import Metrics
from bot.metrics.figures import DatabaseFigures
from bot.migrate import upgrade_to_head
from storage.db import create_engine, create_sessionmaker
from storage.desk.queue import queue_counts
from storage.models import Broadcast, Delivery
from storage.watch import live_figures
from tests.conftest import pg_database

BATCH = 10_000


def _delivery(n: int, broadcast_id: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    state = (
        "sent" if roll < 0.40 else "pending" if roll < 0.95 else rng.choice(["blocked", "failed"])
    )
    return {
        "id": n,
        "broadcast_id": broadcast_id,
        "resident_id": n,
        "channel": "telegram" if rng.random() < 0.7 else "viber",
        "external_id": str(100_000_000 + n),
        "state": state,
        "attempts": 0,
        "deferrals": 0,
        "next_attempt_at": now - timedelta(seconds=rng.randint(0, 600)),
        "sent_at": now - timedelta(seconds=rng.randint(0, 300)) if state == "sent" else None,
    }


async def seed_deliveries(
    sessionmaker: async_sessionmaker[AsyncSession], *, live: int, finished: int, now: datetime
) -> None:
    rng = random.Random(16)
    async with sessionmaker() as session, session.begin():
        for broadcast_id, status in ((1, "finished"), (2, "finished"), (3, "sending")):
            await session.execute(
                insert(Broadcast.__table__).values(
                    id=broadcast_id,
                    kind="news",
                    text="Новини",
                    topics=[],
                    districts=[],
                    channels=[],
                    urgent=False,
                    status=status,
                    created_at=now,
                    finished_at=now if status == "finished" else None,
                    recipients=0,
                    sent_count=0,
                    blocked_count=0,
                    failed_count=0,
                    cancelled_count=0,
                )
            )
        plan = [(1, finished // 2), (2, finished - finished // 2), (3, live)]
        n = 0
        for broadcast_id, count in plan:
            for start in range(0, count, BATCH):
                rows = []
                for _ in range(min(BATCH, count - start)):
                    n += 1
                    rows.append(_delivery(n, broadcast_id, now, rng))
                await session.execute(insert(Delivery.__table__), rows)
    async with sessionmaker() as session, session.begin():
        await session.execute(text("ANALYZE"))


def _row(name: str, found: list[float], baseline: float) -> str:
    p95 = statistics.quantiles(found, n=20, method="inclusive")[-1]
    return f"| {name} | {statistics.median(found):.1f} | {p95:.1f} | {p95 / baseline:.1f}× |"


async def bench(url: str, args: argparse.Namespace, label: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        now = datetime.now(UTC)
        started = time.perf_counter()
        await seed(sessionmaker, residents=args.tickets, tickets=args.tickets, now=now)
        await seed_deliveries(sessionmaker, live=args.live, finished=args.finished, now=now)
        print(
            f"\n{label}: {args.live:,} deliveries in progress, {args.finished:,} finished, "
            f"{args.tickets:,} tickets; seeded in {time.perf_counter() - started:.0f} s"
        )
        metrics = Metrics()
        figures = DatabaseFigures(
            sessionmaker=sessionmaker,
            zone=KYIV,
            clock=lambda: now,
            channels=["telegram", "viber"],
            fresh_for=0.0,
            timeout=30.0,
        )
        metrics.registry.register(figures)

        async def baseline(session: AsyncSession) -> None:
            await session.execute(text("SELECT 1"))

        async def live(session: AsyncSession) -> None:
            await live_figures(session, now=now)

        async def tickets(session: AsyncSession) -> None:
            await queue_counts(
                session, departments=DEPARTMENTS, now=now, calendar=CALENDAR, zone=KYIV
            )

        async def scrape(_session: AsyncSession) -> None:
            await figures.refresh()
            generate_latest(metrics.registry)

        base = await timings(sessionmaker, baseline, args.repeat)
        reference = statistics.quantiles(base, n=20, method="inclusive")[-1]
        print(f"| {label} | p50 ms | p95 ms | p95 / baseline |")
        print("| --- | --- | --- | --- |")
        print(_row("baseline: SELECT 1", base, reference))
        for name, run in (
            ("deliveries and owed replies (live_figures)", live),
            ("tickets by department (queue_counts)", tickets),
            ("whole scrape, no HTTP", scrape),
        ):
            print(_row(name, await timings(sessionmaker, run, args.repeat), reference))
        assert "citybot_metrics_database_up 1.0" in generate_latest(metrics.registry).decode()
    finally:
        await engine.dispose()


def instruments() -> None:
    metrics = Metrics()
    empty = contextlib.nullcontext()

    def nothing() -> None:
        with empty:
            pass

    def update() -> None:
        with metrics.handling("telegram", "message"):
            pass

    def call() -> None:
        metrics.call("telegram", "sendMessage")

    number = 200_000
    print("\n| instrument | µs per call (best of 5) |")
    print("| --- | --- |")
    for name, run in (
        ("baseline: an empty `with`", nothing),
        ("an update: `with metrics.handling(...)`", update),
        ("an API call: `metrics.call(...)`", call),
    ):
        best = min(timeit.repeat(run, number=number, repeat=5)) / number * 1e6
        print(f"| {name} | {best:.2f} |")


async def main(args: argparse.Namespace) -> None:
    if args.db in ("postgresql", "both"):
        async with pg_database() as url:
            await bench(url, args, "PostgreSQL")
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            await bench(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", args, "SQLite")
    instruments()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="GET /metrics: the scrape and the instruments")
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--live", type=int, default=300_000)
    parser.add_argument("--finished", type=int, default=700_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
