"""The hot path of a resident update through the Telegram webhook, on PostgreSQL, against a bare
aiogram echo bot on the same harness in the same run.

    python -m bench.ticket_webhook [--updates 1000] [--rate 100] [--concurrency 32]

Every server talks to the same fake Bot API on 127.0.0.1 and gets its updates from the same load
generator (this process, with the fake). What is measured:
- follow-ups: a resident's message to their open ticket — claimed, appended, committed before
  the webhook answers; then answered to the resident and copied into the ticket's thread in the
  staff chat (two Bot API calls, a run ends when all arrived). Server CPU per follow-up (utime +
  stime of the server process from ``/proc``, before and after the saturation run), updates/s at
  saturation (``--concurrency`` requests in flight) as a ratio of the echo's, and latency
  percentiles at a fixed ``--rate``;
- poll votes: a resident pressing an option of a poll (``callback_query``): stored, the poll
  message edited in place, the button's spinner stopped (two Bot API calls). CPU per vote;
- two ``citybot run`` processes on one port (``CITYBOT_HTTP_REUSE_PORT``): how many follow-ups
  each handled (by the connection each request came on), and that each was stored once and
  answered once.
The echo stores nothing and makes one Bot API call before it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bench.webhook_load import (
    SECRET,
    Load,
    cpu_seconds,
    listening,
    message_update,
    post_all,
    with_update_id,
)
from bench.webhook_seed import FIRST_USER, drop_pending, poll_presses, reset, seed
from bot.sandbox.fakes.telegram import FakeTelegram
from storage.db import create_engine, create_sessionmaker
from storage.models import (
    ProcessedUpdate,
    TicketMessage,
)
from tests.conftest import free_port, pg_database
from tests.harness import TELEGRAM_TOKEN

STAFF_CHAT = -1_009_000_000
Sessionmaker = Any
_logs: dict[int, str] = {}
IDLE_SAMPLE = 3.0
# Per round: the servers' idle CPU (scheduled jobs) over the round, per update, in seconds.
IDLE_CPU: list[float] = []


@dataclass
class Measured:
    """One server's numbers."""

    saturation_per_s: float
    rate: Load
    cpu_ms_per_followup: float = 0.0
    cpu_ms_per_vote: float = 0.0
    vote_per_s: float = 0.0
    errors: int = 0
    # Of the CPU per update: what the server used at the same rate when idle (its jobs).
    idle_ms_per_followup: float = 0.0
    idle_ms_per_vote: float = 0.0


def _server_env(url: str, fake: FakeTelegram, port: int, **extra: str) -> dict[str, str]:
    return {
        "CITYBOT_DATABASE_URL": url,
        "CITYBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "CITYBOT_TELEGRAM_API_URL": fake.base_url,
        "CITYBOT_TELEGRAM_MODE": "webhook",
        "CITYBOT_WEBHOOK_SECRET": SECRET,
        "CITYBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CITYBOT_HTTP_PORT": str(port),
        "CITYBOT_OPERATOR_CHAT_ID": str(STAFF_CHAT),
        # Telegram's limit for a bot is about 30 messages a second (the default budget): two
        # calls per update would cap every run at 15 updates/s. Paid mode allows 1,000/s;
        # the server's own cost is what is measured here.
        "CITYBOT_TELEGRAM_RATE": "1000",
        **extra,
    }


async def _start_servers(
    make: Callable[[int], tuple[list[str], dict[str, str]]], *, count: int = 1
) -> tuple[int, list[asyncio.subprocess.Process]]:
    """``count`` servers on one free port (``make``: their command and environment for it); on
    a shared machine another program may take the port first: then on another one."""
    for _ in range(5):
        port = free_port()
        argv, env = make(port)
        started: list[asyncio.subprocess.Process] = []
        try:
            for _ in range(count):
                started.append(await _start_server(argv, env, port))
        except RuntimeError as error:
            _progress(f"port {port}: {error}; trying another")
            for process in started:
                await _stop_server(process)
            continue
        return port, started
    raise RuntimeError("no free port for the servers")


async def _start_server(
    argv: list[str], env: dict[str, str], port: int
) -> asyncio.subprocess.Process:
    """A server in its own process (its own core), as in production."""
    profile = os.environ.get("BENCH_PROFILE")
    if profile and argv[:2] == ["-m", "bot.cli"]:
        # BENCH_PROFILE=<file>: the server under cProfile with a CPU clock (slower; for where
        # the time goes: ``python -m bench.cpu_profile report <file>.<port>``).
        argv = ["-m", "bench.cpu_profile", "run", f"{profile}.{port}", *argv[1:]]
    # The log goes to a file: a pipe read only at the end would fill and stop the server.
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the server's, closed by the OS
        prefix=f"citybot-bench-{port}-", suffix=".log", delete=False
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    _logs[process.pid] = log.name
    deadline = time.perf_counter() + 60
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    # Its own answer: on a shared machine another program may hold the port.
                    if response.status == 200 and listening(process.pid, port):
                        return process
            except aiohttp.ClientError:
                pass
            if process.returncode is not None or time.perf_counter() > deadline:
                if process.returncode is None:
                    process.kill()
                await process.wait()
                _logs.pop(process.pid, None)
                raise RuntimeError(f"server did not start: {argv}")
            await asyncio.sleep(0.1)


async def _stop_server(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), timeout=60)
    log = Path(_logs.pop(process.pid))
    text = log.read_text(errors="replace")  # noqa: ASYNC240 - after the server stopped
    log.unlink()  # noqa: ASYNC240
    if process.returncode != 0:
        raise RuntimeError(f"server failed ({process.returncode}): {text[-2000:]}")
    if text.strip():
        print(f"server {process.pid} logged:\n{text[-3000:]}", file=sys.stderr)


async def _delivered(fake: FakeTelegram, before: int, expected: int) -> float:
    """Wait until the fake Bot API got ``expected`` calls after the first ``before``; returns
    the time it did (replies and staff copies follow the webhook's answer)."""
    deadline = time.perf_counter() + 300
    while len(fake.calls) - before < expected:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(fake.calls) - before} of {expected} Bot API calls")
        await asyncio.sleep(0.005)
    return time.perf_counter()


async def _quiet(fake: FakeTelegram, period: float = 0.5) -> None:
    """Wait until the fake Bot API got no call for ``period`` seconds."""
    while True:
        seen = len(fake.calls)
        await asyncio.sleep(period)
        if len(fake.calls) == seen:
            return


def _progress(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _followups(round_: int, count: int) -> list[bytes]:
    return [
        message_update(round_ * 1_000_000 + i, FIRST_USER + i, f"Доповнення {round_}/{i}")
        for i in range(count)
    ]


async def _round(
    fake: FakeTelegram,
    endpoint: str,
    bodies: list[bytes],
    *,
    rate: float | None,
    concurrency: int,
    calls: int,
    pids: tuple[int, ...],
    owners: dict[int, int] | None = None,
    port: int = 0,
) -> tuple[Load, float, float]:
    """POST ``bodies`` and wait for ``calls`` Bot API calls; returns the load, the seconds until
    the last call, and the CPU seconds the server processes used meanwhile."""
    _progress(f"{len(bodies)} updates, expecting {calls} Bot API calls")
    # What the servers use idle (scheduled jobs), to be told apart from the updates' cost.
    idle_from = sum(cpu_seconds(pid) for pid in pids)
    await asyncio.sleep(IDLE_SAMPLE)
    idle_rate = (sum(cpu_seconds(pid) for pid in pids) - idle_from) / IDLE_SAMPLE
    before_cpu = sum(cpu_seconds(pid) for pid in pids)
    before = len(fake.calls)
    begin = time.perf_counter()
    load = await post_all(
        endpoint,
        bodies,
        rate=rate,
        concurrency=concurrency,
        owners=owners,
        server_port=port,
        pids=pids,
    )
    done = await _delivered(fake, before, calls)
    await _quiet(fake, 0.3)
    cpu = sum(cpu_seconds(pid) for pid in pids) - before_cpu
    idle = idle_rate * (time.perf_counter() - begin)
    _progress(f"CPU {cpu:.2f} s, of which idle work (jobs) about {idle:.2f} s")
    IDLE_CPU.append(idle / max(1, len(bodies)))
    return load, max(load.elapsed, done - begin), cpu


async def _ours(
    args: argparse.Namespace,
    fake: FakeTelegram,
    url: str,
    sessionmaker: Sessionmaker,
    votes: list[list[dict[str, Any]]],
) -> Measured:
    n = args.updates
    port, (server,) = await _start_servers(
        lambda port: (
            ["-m", "bot.cli", "--log-level", "WARNING", "run"],
            _server_env(url, fake, port),
        )
    )
    pids = (server.pid,)
    endpoint = f"http://127.0.0.1:{port}/telegram/webhook"
    try:
        # Warm-up (not measured): also posts each ticket's card to the staff chat, so the
        # measured rounds are the steady state (one reply, one copy in the thread per update).
        await reset(sessionmaker)
        await _round(
            fake,
            endpoint,
            _followups(0, n),
            rate=None,
            concurrency=args.concurrency,
            calls=2 * n,
            pids=pids,
        )
        await reset(sessionmaker)
        load, seconds, cpu = await _round(
            fake,
            endpoint,
            _followups(1, n),
            rate=None,
            concurrency=args.concurrency,
            calls=2 * n,
            pids=pids,
        )
        measured = Measured(n / seconds, Load([], 0, 0), cpu_ms_per_followup=cpu * 1000 / n)
        measured.idle_ms_per_followup = IDLE_CPU[-1] * 1000
        measured.errors += load.errors
        await reset(sessionmaker)
        rate_load, _, _ = await _round(
            fake,
            endpoint,
            _followups(2, n),
            rate=args.rate,
            concurrency=args.concurrency,
            calls=2 * n,
            pids=pids,
        )
        measured.rate = rate_load
        measured.errors += rate_load.errors
        # Votes: a warm-up on option 0 of a tenth of them, then everyone on option 1.
        warm = votes[0][: max(1, n // 10)]
        await _round(
            fake,
            endpoint,
            [with_update_id(u, 5_000_000 + i) for i, u in enumerate(warm)],
            rate=None,
            concurrency=args.concurrency,
            calls=2 * len(warm),
            pids=pids,
        )
        bodies = [with_update_id(u, 6_000_000 + i) for i, u in enumerate(votes[1])]
        load, seconds, cpu = await _round(
            fake, endpoint, bodies, rate=None, concurrency=args.concurrency, calls=2 * n, pids=pids
        )
        measured.cpu_ms_per_vote = cpu * 1000 / n
        measured.idle_ms_per_vote = IDLE_CPU[-1] * 1000
        measured.vote_per_s = n / seconds
        measured.errors += load.errors
    finally:
        await _stop_server(server)
    async with sessionmaker() as session:
        appended = await session.scalar(select(func.count()).select_from(TicketMessage))
    if appended != 3 * n:
        raise RuntimeError(f"stored {appended} of {3 * n} messages")
    return measured


async def _two_processes(
    args: argparse.Namespace, fake: FakeTelegram, url: str, sessionmaker: Sessionmaker
) -> tuple[Counter[int], float, float]:
    """Two servers on one port: follow-ups per process, each stored once and answered once.
    Returns (updates per pid, updates/s, CPU ms per follow-up over both)."""
    n = args.updates
    argv = ["-m", "bot.cli", "--log-level", "WARNING", "run"]
    port, servers = await _start_servers(
        lambda port: (argv, _server_env(url, fake, port, CITYBOT_HTTP_REUSE_PORT="true")), count=2
    )
    pids = tuple(server.pid for server in servers)
    # The first one answers /healthz while the second is still starting.
    deadline = time.perf_counter() + 60
    while not all(listening(pid, port) for pid in pids):
        if time.perf_counter() > deadline:
            raise RuntimeError("the second server does not listen")
        await asyncio.sleep(0.1)
    owners: dict[int, int] = {}
    try:
        await reset(sessionmaker)
        before = len(fake.calls)
        async with sessionmaker() as session:
            stored_before = await session.scalar(select(func.count()).select_from(TicketMessage))
        load, seconds, cpu = await _round(
            fake,
            f"http://127.0.0.1:{port}/telegram/webhook",
            _followups(3, n),
            rate=None,
            concurrency=args.concurrency,
            calls=2 * n,
            pids=pids,
            owners=owners,
            port=port,
        )
    finally:
        for server in servers:
            await _stop_server(server)
    per_process = Counter(owners.get(p, 0) for p in load.ports)
    async with sessionmaker() as session:
        stored = await session.scalar(select(func.count()).select_from(TicketMessage))
        claims = await session.scalar(
            select(func.count()).where(ProcessedUpdate.update_key.like("%:3______"))
        )
    replies = Counter(
        int(call.params["chat_id"])
        for call in fake.calls[before:]
        if call.method == "sendMessage" and int(call.params["chat_id"]) >= FIRST_USER
    )
    # The copies of these follow-ups (a standalone run also posts the tickets' cards first).
    staff = sum(
        1
        for call in fake.calls[before:]
        if call.method == "sendMessage"
        and int(call.params["chat_id"]) == STAFF_CHAT
        and "Доповнення 3/" in str(call.params.get("text"))
    )
    if stored - stored_before != n or claims != n or load.errors:
        raise RuntimeError(f"stored {stored - stored_before}, {claims} claims of {n}")
    if len(replies) != n or set(replies.values()) != {1} or staff != n:
        raise RuntimeError(f"replies {sum(replies.values())} to {len(replies)}, staff {staff}")
    return per_process, n / seconds, cpu * 1000 / n


async def _echo(args: argparse.Namespace, fake: FakeTelegram) -> Measured:
    port, (server,) = await _start_servers(
        lambda port: (["-m", "bench.echo_server", str(port), fake.base_url, TELEGRAM_TOKEN], {})
    )
    pids = (server.pid,)
    endpoint = f"http://127.0.0.1:{port}/telegram/webhook"
    n = args.updates

    def bodies(round_: int) -> list[bytes]:
        return [
            message_update(round_ * 1_000_000 + i, FIRST_USER + i, f"echo {i}") for i in range(n)
        ]

    try:
        await _round(fake, endpoint, bodies(7)[:50], rate=None, concurrency=8, calls=50, pids=pids)
        load, seconds, cpu = await _round(
            fake, endpoint, bodies(8), rate=None, concurrency=args.concurrency, calls=n, pids=pids
        )
        rate_load, _, _ = await _round(
            fake,
            endpoint,
            bodies(9),
            rate=args.rate,
            concurrency=args.concurrency,
            calls=n,
            pids=pids,
        )
    finally:
        await _stop_server(server)
    return Measured(
        n / seconds,
        rate_load,
        cpu_ms_per_followup=cpu * 1000 / n,
        idle_ms_per_followup=IDLE_CPU[-2] * 1000,
        errors=load.errors + rate_load.errors,
    )


async def main(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    n = args.updates
    async with pg_database() as url:
        engine = create_engine(url)
        try:
            from bot.migrate import upgrade_to_head

            await upgrade_to_head(engine)
            sessionmaker = create_sessionmaker(engine)
            poll_id = await seed(sessionmaker, n)
            async with FakeTelegram(
                TELEGRAM_TOKEN, latency=args.api_latency, callback_query_ttl=3600
            ) as fake:
                for index in range(n):
                    fake.user(FIRST_USER + index, first_name="Bench")
                    # A private chat exists once the user wrote to the bot.
                    await fake.send_text(FIRST_USER + index, "/start")
                fake.add_group(STAFF_CHAT, "Оператори")
                votes = await poll_presses(fake, sessionmaker, poll_id, n)
                await drop_pending(fake)
                parts = set(args.parts.split(","))
                empty = Measured(1.0, Load([0.0], 0, 0))
                echo = await _echo(args, fake) if "echo" in parts else empty
                ours = (
                    await _ours(args, fake, url, sessionmaker, votes) if "ours" in parts else empty
                )
                _print(args, echo, ours, load_before)
                if "two" in parts:
                    shares, two_rate, two_cpu = await _two_processes(args, fake, url, sessionmaker)
                    counts = ", ".join(
                        f"pid {pid}: {count}" for pid, count in sorted(shares.items())
                    )
                    print(
                        f"two processes on one port: {two_rate:.1f} updates/s, CPU {two_cpu:.2f} "
                        f"ms/update over both; handled {counts}; each stored once, answered once"
                    )
        finally:
            await engine.dispose()
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def _print(
    args: argparse.Namespace,
    echo: Measured,
    ours: Measured,
    load_before: tuple[float, float, float],
) -> None:
    print(
        f"machine: {os.cpu_count()} cores; load average {load_before[0]:.1f} before, "
        f"{os.getloadavg()[0]:.1f} now; servers run in their own processes"
    )
    print(
        f"updates per run: {args.updates}; fixed rate {args.rate:.0f}/s; "
        f"concurrency {args.concurrency}; Bot API latency (fake) {args.api_latency * 1000:.0f} ms"
    )
    for name, result in (("aiogram echo (baseline)", echo), ("citybot follow-ups", ours)):
        rate = result.rate
        print(
            f"{name:24s} saturation {result.saturation_per_s:7.1f} updates/s | "
            f"CPU {result.cpu_ms_per_followup:5.2f} ms/update "
            f"(jobs ~{result.idle_ms_per_followup:4.2f}) | at {args.rate:.0f}/s: "
            f"p50 {rate.percentile(0.5):6.1f} ms p99 {rate.percentile(0.99):6.1f} ms "
            f"max {max(rate.latencies_ms):6.1f} ms | errors {result.errors}"
        )
    print(
        f"citybot poll votes       {ours.vote_per_s:7.1f} votes/s | "
        f"CPU {ours.cpu_ms_per_vote:5.2f} ms/vote (jobs ~{ours.idle_ms_per_vote:4.2f})"
    )
    print(
        f"throughput ratio (citybot follow-ups / echo): "
        f"{ours.saturation_per_s / echo.saturation_per_s:.2f}"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--parts", default="echo,ours,two", help="which of echo,ours,two")
    parser.add_argument("--api-latency", type=float, default=0.0, help="seconds per Bot API call")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
