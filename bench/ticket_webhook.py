"""Resident messages appended to open tickets through the Telegram webhook, on PostgreSQL,
against a bare aiogram echo handler on the same harness in the same run.

    python -m bench.ticket_webhook [--updates 2000] [--rate 200] [--concurrency 32]

Both servers talk to the same fake Bot API on 127.0.0.1 and receive the same updates from the
same load generator, also on 127.0.0.1:
- a fixed-rate run (open loop, ``--rate`` updates/s) gives latency percentiles at that load;
- a saturation run (closed loop, ``--concurrency`` requests in flight) gives updates/s.
Every update of ours is stored (claimed, appended to the resident's open ticket) before the
webhook answers, answered to the resident and copied to the ticket's thread in the staff chat
(these two Bot API calls may follow the webhook's answer: a run ends when they all arrived);
the echo handler stores nothing and makes one Bot API call before it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import delete, func, select

from bot.config import TELEGRAM_API_URL
from bot.migrate import upgrade_to_head
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.channel import create_bot
from storage.db import create_engine, create_sessionmaker
from storage.models import ConversationState, Resident, ResidentTopic, Ticket, TicketMessage
from tests.conftest import free_port, pg_database
from tests.harness import TELEGRAM_TOKEN

SECRET = "bench-secret-0123456789"
FIRST_USER = 10_000_000
STAFF_CHAT = -1_009_000_000


@dataclass
class Result:
    name: str
    rate_latencies_ms: list[float]
    saturation_per_s: float
    errors: int
    # How long after the last webhook answer of the fixed-rate run the last Bot API call of
    # that run arrived (replies sent after the answer, from citybot's outbox).
    rate_tail_ms: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.rate_latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _update(update_id: int, user_id: int, text: str) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": "Bench"},
                "from": {"id": user_id, "is_bot": False, "first_name": "Bench"},
                "text": text,
            },
        }
    ).encode()


async def _load(
    url: str, bodies: list[bytes], *, rate: float | None, concurrency: int
) -> tuple[list[float], float, int]:
    """POST every body; returns (latencies in ms, elapsed seconds, non-200 answers)."""
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=max(concurrency, 256))
    async with aiohttp.ClientSession(connector=connector) as http:

        async def post(body: bytes) -> None:
            nonlocal errors
            started = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

        begin = time.perf_counter()
        if rate is not None:
            # Open loop: requests leave on schedule whether or not earlier ones finished.
            tasks = []
            for index, body in enumerate(bodies):
                delay = begin + index / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post(body)))
            await asyncio.gather(*tasks)
        else:
            queue = list(reversed(bodies))

            async def worker() -> None:
                while queue:
                    await post(queue.pop())

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - begin
    return latencies, elapsed, errors


async def _measure(
    name: str, url: str, make: Callable[[int, int], list[bytes]], args: argparse.Namespace
) -> Result:
    # Warm-up (connections, caches), not measured.
    await _load(url, make(0, 50), rate=None, concurrency=8)
    latencies, _, errors_a = await _load(
        url, make(1, args.updates), rate=args.rate, concurrency=args.concurrency
    )
    _, elapsed, errors_b = await _load(
        url, make(2, args.updates), rate=None, concurrency=args.concurrency
    )
    return Result(name, latencies, args.updates / elapsed, errors_a + errors_b)


async def _seed(sessionmaker: Any, residents: int) -> None:
    """Residents with one open ticket each, in the follow-up step of "my tickets"."""
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        for index in range(residents):
            resident = Resident(
                channel="telegram",
                external_id=str(FIRST_USER + index),
                name="Bench",
                language="uk",
                consent_at=now,
                policy_version="bench",
                district="city",
                digest="instant",
                subscribed=True,
                is_active=True,
                onboarded_at=now,
                created_at=now,
                last_seen_at=now,
                topics=[ResidentTopic(topic="city_news")],
            )
            session.add(resident)
            await session.flush()
            ticket = Ticket(
                number=f"ВД-2000-{index:06d}",
                kind="feedback",
                status="in_progress",
                resident_id=resident.id,
                channel="telegram",
                queue_code="other",
                received_at=now,
                deadline_at=now + timedelta(days=10),
                created_at=now,
                updated_at=now,
            )
            session.add(ticket)
            await session.flush()
            session.add(
                ConversationState(
                    resident_id=resident.id,
                    flow="followup",
                    step="text",
                    data={"ticket_id": ticket.id, "number": ticket.number},
                    updated_at=now,
                )
            )


async def _start_server(
    argv: list[str], env: dict[str, str], port: int
) -> asyncio.subprocess.Process:
    """A server in its own process (its own core), as in production."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    deadline = time.perf_counter() + 60
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            if process.returncode is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"server did not start: {argv}")
            await asyncio.sleep(0.1)


async def _stop_server(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    if process.returncode != 0:
        raise RuntimeError(f"server failed: {err.decode()[-2000:]}")


async def _reset(sessionmaker: Any) -> None:
    """Put every resident back into the follow-up step of their ticket."""
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(ConversationState))
        now = datetime.now(UTC)
        for ticket in (await session.scalars(select(Ticket))).all():
            session.add(
                ConversationState(
                    resident_id=ticket.resident_id,
                    flow="followup",
                    step="text",
                    data={"ticket_id": ticket.id, "number": ticket.number},
                    updated_at=now,
                )
            )


async def _delivered(fake: FakeTelegram, before: int, expected: int) -> float:
    """Wait until the fake Bot API got ``expected`` calls after the first ``before``; returns
    the time it did. citybot answers a webhook once the update is stored and sends its reply
    and staff copy after that, so an update counts as done when both calls arrived."""
    deadline = time.perf_counter() + 300
    while len(fake.calls) - before < expected:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(fake.calls) - before} of {expected} Bot API calls")
        await asyncio.sleep(0.005)
    return time.perf_counter()


async def _ours(args: argparse.Namespace, fake: FakeTelegram) -> Result:
    async with pg_database() as url:
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
            sessionmaker = create_sessionmaker(engine)
            await _seed(sessionmaker, args.updates)
            port = free_port()
            env = {
                "CITYBOT_DATABASE_URL": url,
                "CITYBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
                "CITYBOT_TELEGRAM_API_URL": fake.base_url,
                "CITYBOT_TELEGRAM_MODE": "webhook",
                "CITYBOT_WEBHOOK_SECRET": SECRET,
                "CITYBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "CITYBOT_HTTP_PORT": str(port),
                "CITYBOT_OPERATOR_CHAT_ID": str(STAFF_CHAT),
            }
            server = await _start_server(
                ["-m", "bot.cli", "--log-level", "WARNING", "run"], env, port
            )
            try:
                endpoint = f"http://127.0.0.1:{port}/telegram/webhook"
                runs: list[tuple[list[float], float, int]] = []
                tails: list[float] = []
                for round_, rate in ((0, None), (1, args.rate), (2, None)):
                    await _reset(sessionmaker)
                    # Round 0 (not measured) also posts each ticket's card to the staff chat, so
                    # the measured rounds are the steady state: one reply to the resident and
                    # one copy in the ticket's thread per update.
                    count = args.updates
                    bodies = [
                        _update(
                            round_ * 1_000_000 + i,
                            FIRST_USER + i % args.updates,
                            f"Доповнення {round_}/{i}",
                        )
                        for i in range(count)
                    ]
                    before = len(fake.calls)
                    begin = time.perf_counter()
                    latencies, answered, errors = await _load(
                        endpoint, bodies, rate=rate, concurrency=args.concurrency
                    )
                    # At least the reply and the staff copy of every update (round 0 also
                    # posts the cards); throughput counts until both went out.
                    done = await _delivered(fake, before, 2 * count)
                    elapsed = max(answered, done - begin)
                    tails.append(max(0.0, (done - begin - answered) * 1000))
                    runs.append((latencies, elapsed, errors))
                    if round_ == 0:
                        # Let round 0's cards finish before the measured rounds.
                        await _quiet(fake)
            finally:
                await _stop_server(server)
            async with sessionmaker() as session:
                appended = await session.scalar(select(func.count()).select_from(TicketMessage))
            expected = 3 * args.updates
            if appended != expected:
                raise RuntimeError(f"stored {appended} of {expected} messages")
        finally:
            await engine.dispose()
    return Result(
        "citybot (store + append + answer)",
        runs[1][0],
        args.updates / runs[2][1],
        runs[1][2] + runs[2][2],
        rate_tail_ms=tails[1],
    )


async def _quiet(fake: FakeTelegram, period: float = 0.5) -> None:
    """Wait until the fake Bot API got no call for ``period`` seconds."""
    while True:
        seen = len(fake.calls)
        await asyncio.sleep(period)
        if len(fake.calls) == seen:
            return


async def _echo(args: argparse.Namespace, fake: FakeTelegram) -> Result:
    port = free_port()
    server = await _start_server(
        ["-m", "bench.echo_server", str(port), fake.base_url, TELEGRAM_TOKEN], {}, port
    )
    try:

        def make(round_: int, count: int) -> list[bytes]:
            return [
                _update(round_ * 1_000_000 + i, FIRST_USER + i % args.updates, f"echo {i}")
                for i in range(count)
            ]

        endpoint = f"http://127.0.0.1:{port}/telegram/webhook"
        return await _measure("aiogram echo (baseline)", endpoint, make, args)
    finally:
        await _stop_server(server)


async def _drop_pending(fake: FakeTelegram) -> None:
    """Confirm the updates that opened the chats, so no server receives them later."""
    bot = create_bot(TELEGRAM_TOKEN, fake.base_url, default_api_url=TELEGRAM_API_URL)
    try:
        last = await bot.get_updates(offset=-1, timeout=0)
        if last:
            await bot.get_updates(offset=last[-1].update_id + 1, timeout=0)
    finally:
        await bot.session.close()
    assert not fake.pending_updates()


async def main(args: argparse.Namespace) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN, latency=args.api_latency) as fake:
        for index in range(args.updates):
            fake.user(FIRST_USER + index, first_name="Bench")
            # A private chat exists once the user wrote to the bot.
            await fake.send_text(FIRST_USER + index, "/start")
        fake.add_group(STAFF_CHAT, "Оператори")
        await _drop_pending(fake)
        echo = await _echo(args, fake)
        ours = await _ours(args, fake)
    print(f"machine: {os.cpu_count()} cores; servers run in their own processes")
    print(
        f"updates per run: {args.updates}; fixed rate {args.rate}/s; concurrency {args.concurrency}"
    )
    print(f"Bot API latency (fake): {args.api_latency * 1000:.0f} ms")
    for result in (echo, ours):
        print(
            f"{result.name:36s} saturation {result.saturation_per_s:7.1f} updates/s | "
            f"at {args.rate:.0f}/s: p50 {result.percentile(0.50):6.1f} ms  "
            f"p99 {result.percentile(0.99):6.1f} ms  max {max(result.rate_latencies_ms):6.1f} ms"
            f" | last call {result.rate_tail_ms:6.1f} ms after the last answer"
            f" | errors {result.errors}"
        )
    print(f"throughput ratio (citybot / echo): {ours.saturation_per_s / echo.saturation_per_s:.2f}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--api-latency", type=float, default=0.0, help="seconds per Bot API call")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
