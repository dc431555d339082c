"""The web desk's live updates: 50 open event streams while 10 changes a second are written
straight into PostgreSQL, against the same 50 clients polling ``/healthz`` once a second.

    python -m bench.desk_live [--streams 50] [--rate 10] [--seconds 30]

The bot runs as ``citybot run`` does (``tests.harness.running_bot``, the web desk on) in a child
process of its own, so its CPU time is read from ``/proc/<pid>/stat`` apart from the clients'
and the writer's. The writer alternates new tickets and residents' messages in the streams'
department and notes the time each commit returned; each client notes when each event arrived.
Latency is arrival minus commit (the feed polls once a second, so about half a second is
expected on average). Server CPU is the child's user+system time over the phase, as a share of
one core; the ratio compares it to the baseline phase.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from bot.migrate import upgrade_to_head
from storage import staff_auth
from storage.db import create_engine, create_sessionmaker
from storage.models import Ticket, TicketMessage
from storage.staff import add_account
from storage.vocabulary import Role, TicketStatus
from tests.conftest import pg_database

TICKS = os.sysconf("SC_CLK_TCK")


def _serve(database_url: str, conn: Connection) -> None:
    """The bot in this (child) process until the parent says stop."""
    from tests.harness import bot_settings, running_bot

    async def main() -> None:
        settings = bot_settings(database_url, staff_desks="web")
        async with running_bot(settings):
            conn.send((f"http://127.0.0.1:{settings.http_port}", os.getpid()))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


@contextlib.asynccontextmanager
async def server(database_url: str) -> AsyncIterator[tuple[str, int]]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(database_url, child), daemon=True)
    process.start()
    loop = asyncio.get_running_loop()
    try:
        base, pid = await loop.run_in_executor(None, parent.recv)
        yield base, pid
        parent.send("stop")
    finally:
        await loop.run_in_executor(None, process.join, 30)
        if process.is_alive():
            process.terminate()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def seed(database_url: str, clients: int) -> list[str]:
    """An operator of the housing department per client, each with a session; their tokens."""
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    sessionmaker = create_sessionmaker(engine)
    tokens = []
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        for number in range(clients):
            staff = await add_account(
                session,
                login=f"operator{number}",
                role=Role.OPERATOR,
                now=now,
                name=f"Оператор {number}",
                departments=("housing",),
            )
            await session.flush()
            opened = await staff_auth.open_session(session, staff, now=now, address="127.0.0.1")
            tokens.append(opened.token)
    await engine.dispose()
    return tokens


async def poll_healthz(base: str, seconds: float, clients: int) -> int:
    async with aiohttp.ClientSession() as http:

        async def one() -> int:
            done = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                async with http.get(base + "/healthz") as response:
                    await response.read()
                    done += 1
                await asyncio.sleep(1.0)
            return done

        return sum(await asyncio.gather(*(one() for _ in range(clients))))


async def stream(
    base: str, token: str, arrived: dict[tuple[str, int], list[float]], stop: asyncio.Event
) -> None:
    cookies = {"citybot_desk": token}
    async with (
        aiohttp.ClientSession(cookies=cookies) as http,
        http.get(
            base + "/desk/events",
            headers={"Accept": "text/event-stream"},
            timeout=aiohttp.ClientTimeout(total=None),
        ) as response,
    ):
        assert response.status == 200, response.status
        event = ""
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(response.content.readline(), 1.0)
            except TimeoutError:
                continue
            if not raw:
                return
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event in ("ticket", "message"):
                data = json.loads(line[6:])
                arrived.setdefault((event, data["row"]), []).append(time.monotonic())


async def write_changes(
    database_url: str, rate: float, seconds: float, committed: dict[tuple[str, int], float]
) -> None:
    """``rate`` changes a second: a new ticket, then a message on it, and so on."""
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    interval, start, count, last_ticket = 1.0 / rate, time.monotonic(), 0, None
    try:
        while time.monotonic() - start < seconds:
            now = datetime.now(UTC)
            async with sessionmaker() as session, session.begin():
                if last_ticket is None or count % 2 == 0:
                    row: Ticket | TicketMessage = Ticket(
                        number=f"ВД-2026-{count:06d}",
                        kind="feedback",
                        status=TicketStatus.NEW.value,
                        channel="viber",
                        queue_code="housing",
                        body="Не працює ліфт",
                        received_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    source = "ticket"
                else:
                    row = TicketMessage(
                        ticket_id=last_ticket,
                        direction="resident",
                        text="Ще й світла немає",
                        created_at=now,
                    )
                    source = "message"
                session.add(row)
                await session.flush()
                row_id = row.id
            committed[(source, row_id)] = time.monotonic()
            if source == "ticket":
                last_ticket = row_id
            count += 1
            await asyncio.sleep(max(0.0, start + count * interval - time.monotonic()))
    finally:
        await engine.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(clients: int, rate: float, seconds: float) -> dict[str, Any]:
    async with pg_database() as database_url:
        tokens = await seed(database_url, clients)
        async with server(database_url) as (base, pid):
            await asyncio.sleep(2.0)
            before = cpu_seconds(pid)
            polls = await poll_healthz(base, seconds, clients)
            baseline_cpu = (cpu_seconds(pid) - before) / seconds

            arrived: dict[tuple[str, int], list[float]] = {}
            committed: dict[tuple[str, int], float] = {}
            stop = asyncio.Event()
            readers = [asyncio.create_task(stream(base, t, arrived, stop)) for t in tokens]
            await asyncio.sleep(2.0)
            before = cpu_seconds(pid)
            await write_changes(database_url, rate, seconds, committed)
            await asyncio.sleep(2.0)  # the last events' delivery
            live_cpu = (cpu_seconds(pid) - before) / (seconds + 2.0)
            stop.set()
            await asyncio.gather(*readers, return_exceptions=True)

    latencies = [
        (moment - committed[key]) * 1000
        for key, moments in arrived.items()
        if key in committed
        for moment in moments
    ]
    expected = len(committed) * clients
    return {
        "clients": clients,
        "rate": rate,
        "seconds": seconds,
        "healthz_requests": polls,
        "events_written": len(committed),
        "deliveries": len(latencies),
        "expected": expected,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "mean_ms": statistics.fmean(latencies),
        "baseline_cpu": baseline_cpu,
        "live_cpu": live_cpu,
        "cpu_ratio": live_cpu / baseline_cpu if baseline_cpu else float("inf"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.streams, args.rate, args.seconds))
    print(f"machine: {os.cpu_count()} cores; the bot in its own process, PostgreSQL local")
    print(
        f"{result['clients']} streams, {result['events_written']} changes written in "
        f"{result['seconds']:.0f} s: {result['deliveries']}/{result['expected']} deliveries"
    )
    print(
        f"latency ms: p50 {result['p50_ms']:.0f}, p95 {result['p95_ms']:.0f}, "
        f"p99 {result['p99_ms']:.0f}, max {result['max_ms']:.0f}, mean {result['mean_ms']:.0f}"
    )
    print(
        f"server CPU (share of one core): baseline {result['clients']} clients polling /healthz "
        f"each second {result['baseline_cpu']:.3f} ({result['healthz_requests']} requests); "
        f"live {result['live_cpu']:.3f}; ratio {result['cpu_ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
