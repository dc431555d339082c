"""One sender per channel across processes (PostgreSQL advisory locks): only one process leads
a role, a dead leader's role is taken over, and two delivery engines share a broadcast with one
of them sending."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.migrate import upgrade_to_head
from bot.sandbox.fakes.telegram import FakeTelegram
from broadcasts.election import AdvisoryLockElection, AlwaysLeader, election_for, lock_key
from broadcasts.engine import DeliveryEngine
from messaging.contract import Reply, Sender, Sent
from storage.db import create_engine, create_sessionmaker
from tests.harness import TELEGRAM_TOKEN
from tests.test_broadcast_helpers import (
    FAST,
    Person,
    add_residents,
    new_broadcast,
    open_telegram_chats,
    running,
    telegram_sender,
    wait_done,
)

pytestmark = pytest.mark.migrated_database

# Fast takeover for tests; production polls every 5 s.
QUICK = {"poll": 0.05, "check": 0.05}
WAIT = 10.0


class Leading:
    """A term that records when it leads and ends when told."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.terms = 0
        self.leading = asyncio.Event()
        self.ended = asyncio.Event()

    async def __call__(self, term_stop: asyncio.Event) -> None:
        self.terms += 1
        self.ended.clear()
        self.leading.set()
        try:
            await term_stop.wait()
        finally:
            self.leading.clear()
            self.ended.set()


@contextlib.asynccontextmanager
async def engines(url: str, count: int) -> AsyncIterator[list[AsyncEngine]]:
    made = [create_engine(url) for _ in range(count)]
    try:
        yield made
    finally:
        for engine in made:
            await engine.dispose()


async def terminate_lock_holder(url: str, role: str) -> None:
    """Kill the backend holding ``role``'s advisory lock, as a crashed process would drop it."""
    key = lock_key(role)
    parsed = make_url(url)
    admin = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.username)
    try:
        # pg_locks splits a bigint advisory key into two 32-bit halves.
        high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
        # Advisory locks are per database: other tests' databases hold the same keys.
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid::bigint = $1 AND objid::bigint = $2 AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = $3)",
            high,
            low,
            parsed.database,
        )
    finally:
        await admin.close()
    assert killed == 1


async def test_one_leader_and_a_takeover_when_it_dies(pg_url: str) -> None:
    async with engines(pg_url, 2) as (first_engine, second_engine):
        first, second = Leading("first"), Leading("second")
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                AdvisoryLockElection(first_engine, **QUICK).lead("sender:telegram", stop, first)
            )
        ]
        await asyncio.wait_for(first.leading.wait(), WAIT)
        tasks.append(
            asyncio.create_task(
                AdvisoryLockElection(second_engine, **QUICK).lead("sender:telegram", stop, second)
            )
        )
        # The follower keeps trying; it must not lead while the first one does.
        await asyncio.sleep(0.3)
        assert first.leading.is_set() and second.terms == 0
        # Another role is independent.
        other = Leading("other")
        tasks.append(
            asyncio.create_task(
                AdvisoryLockElection(second_engine, **QUICK).lead("sender:viber", stop, other)
            )
        )
        await asyncio.wait_for(other.leading.wait(), WAIT)

        await terminate_lock_holder(pg_url, "sender:telegram")
        await asyncio.wait_for(first.ended.wait(), WAIT)
        await asyncio.wait_for(second.leading.wait(), WAIT)
        assert second.terms == 1

        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        assert not second.leading.is_set() and not other.leading.is_set()


async def test_a_stopped_leader_releases_the_lock_at_once(pg_url: str) -> None:
    async with engines(pg_url, 2) as (first_engine, second_engine):
        first, second = Leading("first"), Leading("second")
        stop_first, stop_all = asyncio.Event(), asyncio.Event()
        one = asyncio.create_task(
            AdvisoryLockElection(first_engine, **QUICK).lead("jobs", stop_first, first)
        )
        await asyncio.wait_for(first.leading.wait(), WAIT)
        two = asyncio.create_task(
            AdvisoryLockElection(second_engine, **QUICK).lead("jobs", stop_all, second)
        )
        stop_first.set()
        await asyncio.wait_for(one, WAIT)
        await asyncio.wait_for(second.leading.wait(), WAIT)
        stop_all.set()
        await asyncio.wait_for(two, WAIT)


async def test_sqlite_is_always_its_own_leader(tmp_path: object) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    try:
        assert isinstance(election_for(engine), AlwaysLeader)
    finally:
        await engine.dispose()


class CountingSender:
    """The real Telegram sender, counting what this engine sent."""

    def __init__(self, inner: Sender) -> None:
        self._inner = inner
        self.channel = inner.channel
        self.sent = 0

    async def send(self, recipient: str, reply: Reply) -> Sent:
        self.sent += 1
        return await self._inner.send(recipient, reply)

    async def edit(self, recipient: str, message_id: str, reply: Reply) -> Sent:
        return await self._inner.edit(recipient, message_id, reply)

    def parts(self, reply: Reply) -> tuple[Reply, ...]:
        return self._inner.parts(reply)


async def test_two_engines_one_sender_and_takeover(pg_url: str) -> None:
    people = [Person("telegram", str(5000 + index)) for index in range(120)]
    async with engines(pg_url, 2) as (first_engine, second_engine):
        await upgrade_to_head(first_engine)
        first, second = create_sessionmaker(first_engine), create_sessionmaker(second_engine)
        await add_residents(first, people)
        async with FakeTelegram(TELEGRAM_TOKEN) as tg, telegram_sender(tg) as sender:
            await open_telegram_chats(tg, [int(p.external_id) for p in people])
            counters = [CountingSender(sender), CountingSender(sender)]
            pair = [
                DeliveryEngine(
                    sessionmaker=maker,
                    telegram=counter,
                    config=FAST,
                    election=AdvisoryLockElection(engine, **QUICK),
                )
                for maker, counter, engine in zip(
                    (first, second), counters, (first_engine, second_engine), strict=True
                )
            ]
            async with running(pair):
                broadcast_id, _ = await new_broadcast(first)
                done = await wait_done(first, broadcast_id)
                assert (done.sent, done.failed) == (120, 0)
                # Exactly one of the two engines sent, and each resident got one message.
                assert sorted(counter.sent for counter in counters) == [0, 120]
                leader = 0 if counters[0].sent else 1

                await terminate_lock_holder(pg_url, "sender:telegram")
                second_id, _ = await new_broadcast(first, text="Друга новина")
                done = await wait_done(first, second_id)
                assert (done.sent, done.failed) == (120, 0)
            assert counters[1 - leader].sent > 0
            assert tg.sent_count == 240
            assert all(len(tg.messages(int(p.external_id))) == 2 for p in people)
