"""Viber broadcast throughput: the delivery engine (``broadcast_message``, 300 receivers a call,
at most 500 calls per 10 s) against one ``send_message`` per resident in turn, on PostgreSQL.

    python -m bench.broadcast_viber [--residents 100000] [--baseline 500] [--latency 0.05]

The fake Viber server runs in its own process, enforces the broadcast window (status 12 past 500
calls in 10 s) and answers each call after ``--latency``. Reported: recipients/s from the end of
planning to the broadcast's end, and the status-12 answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from sqlalchemy import insert

from bench.child import served_in_child
from bench.finished import wait_finished
from bench.proc_cpu import CpuWatch, watching
from bot.migrate import upgrade_to_head
from bot.sandbox.fakes.viber import FakeViber
from bot.viber import render
from bot.viber.client import ViberClient
from broadcasts import sender_loop
from broadcasts.engine import DeliveryEngine, EngineConfig, ViberTransport
from messaging.contract import Reply
from storage.broadcasts import broadcast_progress, create_broadcast, record_outcomes
from storage.db import create_engine, create_sessionmaker
from storage.models import Resident
from storage.planning import plan_broadcast
from tests.conftest import pg_database
from tests.harness import VIBER_TOKEN

TEXT = "<b>Новини міста</b>: графік відключень на завтра"
SENDER = {"name": "Міська рада"}


def user_id(index: int) -> str:
    return f"bench-viber-{index:07d}=="


async def seed(url: str, count: int) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        now = datetime.now(UTC)
        maker = create_sessionmaker(engine)
        for start in range(0, count, 20_000):
            rows = [
                {
                    "channel": "viber",
                    "external_id": user_id(index),
                    "language": "uk",
                    "consent_at": now,
                    "district": "city",
                    "digest": "instant",
                    "subscribed": True,
                    "is_active": True,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for index in range(start, min(count, start + 20_000))
            ]
            async with maker() as session, session.begin():
                await session.execute(insert(Resident), rows)
    finally:
        await engine.dispose()


def _serve_fake(latency: float, users: int, conn: Connection) -> None:
    async def serve() -> None:
        async with FakeViber(
            VIBER_TOKEN, broadcast_rate_limit=(500, 10.0), latency=latency
        ) as fake:
            for index in range(users):
                fake.user(user_id(index), subscribed=True)
            # Viber refuses to send before a webhook is set; the fake's state stands in for it.
            fake.webhook_url = "http://127.0.0.1:9/viber/webhook"
            conn.send(fake.base_url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            conn.send((fake.stats.recipients_reached, fake.stats.rate_limited, fake.stats.calls))

    asyncio.run(serve())


@contextlib.asynccontextmanager
async def fake_process(latency: float, users: int) -> AsyncIterator[tuple[str, list[int]]]:
    async with served_in_child(_serve_fake, latency, users) as (base_url, counters):
        yield base_url, counters


@dataclass
class EngineRun:
    sent: int
    elapsed: float
    planning: float
    # CPU seconds from the end of planning to the broadcast's end, by process (/proc).
    cpu: dict[str, float]


# Waits the engine spends in each step (--phases): seconds and counts, by step.
PHASES: dict[str, list[float]] = {}


def time_phases() -> None:
    """Time the engine's steps (instrumentation for --phases: wall time of each await, which on
    a busy machine includes waiting for a core)."""

    def timed(name: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                phase = PHASES.setdefault(name, [0.0, 0.0])
                phase[0] += 1
                phase[1] += time.perf_counter() - started

        return wrapper

    sender_loop.SenderLoop._claim = timed(  # type: ignore[method-assign]
        "claim (transaction, serial in the loop)", sender_loop.SenderLoop._claim
    )
    # The loop calls the function it imported: replace that name in its module.
    sender_loop.__dict__["record_outcomes"] = timed("record (statements)", record_outcomes)
    ViberClient.call = timed("broadcast_message call", ViberClient.call)  # type: ignore[method-assign]


async def run_engine(url: str, base_url: str, calls: int, fake_pid: int) -> EngineRun:
    """Recipients sent, seconds from planned to finished, planning seconds, and the CPU the
    engine's process, the fake and PostgreSQL used meanwhile."""
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    stop = asyncio.Event()
    database = url.rsplit("/", 1)[1].split("?")[0]
    try:
        async with aiohttp.ClientSession() as http:
            client = ViberClient(session=http, api_url=base_url, token=VIBER_TOKEN)
            async with sessionmaker() as session, session.begin():
                broadcast = await create_broadcast(session, text=TEXT, now=datetime.now(UTC))
                broadcast_id = broadcast.id
            started = time.perf_counter()
            async with sessionmaker() as session, session.begin():
                await plan_broadcast(session, broadcast_id=broadcast_id, now=datetime.now(UTC))
            planned = time.perf_counter()
            watch = CpuWatch({"engine": os.getpid(), "fake": fake_pid}, database)
            async with watching(watch):
                delivery = DeliveryEngine(
                    sessionmaker=sessionmaker,
                    viber=ViberTransport(api=client, render=render.messages, sender_info=SENDER),
                    config=EngineConfig(idle_poll=0.2, viber_calls_per_batch=calls),
                )
                task = asyncio.create_task(delivery.run(stop))
                await wait_finished(sessionmaker, broadcast_id)
                elapsed = time.perf_counter() - planned
                cpu = watch.used()
            stop.set()
            await task
            async with sessionmaker() as session:
                state = await broadcast_progress(
                    session, broadcast_id=broadcast_id, now=datetime.now(UTC)
                )
            assert state is not None
            print(f"  failed {state.failed}, blocked {state.blocked}")
            return EngineRun(state.sent, elapsed, planned - started, cpu)
    finally:
        await engine.dispose()


async def run_baseline(base_url: str, count: int) -> tuple[int, float]:
    sent = 0
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        client = ViberClient(session=http, api_url=base_url, token=VIBER_TOKEN)
        for index in range(count):
            for message in render.messages(Reply(text=TEXT)):
                await client.call(
                    "send_message", {"receiver": user_id(index), "sender": SENDER, **message}
                )
            sent += 1
    return sent, time.perf_counter() - started


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--calls-per-batch", type=int, default=5)
    parser.add_argument("--phases", action="store_true", help="time the engine's steps")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; latency {args.latency * 1000:.0f} ms")
    if args.phases:
        time_phases()
    if args.residents:
        async with pg_database() as url:
            await seed(url, args.residents)
            children = _children_cpu()
            async with fake_process(args.latency, args.residents) as (base_url, stats):
                (child,) = multiprocessing.active_children()
                assert child.pid is not None
                run = await run_engine(url, base_url, args.calls_per_batch, child.pid)
            # The fake's CPU (its whole life, registering its users included): on 2 cores it
            # competes with the engine and PostgreSQL.
            print(f"  fake Viber server CPU, whole life: {_children_cpu() - children:.1f} s")
            sent = run.sent
            print(
                f"engine: {sent} recipients in {run.elapsed:.1f} s = {sent / run.elapsed:.0f}/s "
                f"(planning {run.planning:.2f} s); status 12: {stats[1]}; "
                f"server reached {stats[0]} in {stats[2]} calls"
            )
            total = sum(run.cpu.values())
            print(
                "  CPU per recipient from planned to finished (/proc): "
                + ", ".join(
                    f"{name} {seconds / max(sent, 1) * 1e6:.0f} µs"
                    for name, seconds in run.cpu.items()
                )
                + f"; together {total / max(sent, 1) * 1e6:.0f} µs = "
                f"{total / run.elapsed:.2f} cores busy on average"
            )
            for name, (count, seconds) in PHASES.items():
                print(
                    f"  {name}: {count:.0f} × {seconds / max(count, 1) * 1000:.0f} ms, "
                    f"{seconds:.1f} s = {seconds / run.elapsed:.0%} of the run"
                )
    if args.baseline:
        async with fake_process(args.latency, args.baseline) as (base_url, stats):
            sent, elapsed = await run_baseline(base_url, args.baseline)
        print(
            f"baseline (send_message in turn): {sent} in {elapsed:.1f} s = {sent / elapsed:.1f}/s"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the benchmark process (engine, without the fake): {peak:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
