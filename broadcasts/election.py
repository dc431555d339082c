"""One sender per channel across processes: leadership by PostgreSQL advisory lock.

Claims with ``FOR UPDATE SKIP LOCKED`` already make several processes send each delivery once;
what they cannot share is the rate limit. Two processes each sending at 30/s would make 60/s
and collect 429s, so each channel's sender runs only in the process that holds that channel's
advisory lock. The lock lives on a dedicated connection: if the process dies, PostgreSQL drops
the connection and the lock with it, and another process takes over at its next attempt
(``poll`` seconds). The leader pings its connection every ``check`` seconds and stops sending if
the connection (so possibly the lock) is gone. A short overlap while a leader notices the loss
can only cost a few 429s, never a duplicate: the claims still decide who sends what.

SQLite is one process by design: there the process is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.errors import TRY_AGAIN_LATER

log = logging.getLogger(__name__)

# The work done while leading gets an event that is set when it must stop (shutdown or loss).
Term = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class Election(Protocol):
    async def lead(self, role: str, stop: asyncio.Event, term: Term) -> None:
        """Run ``term`` whenever this process leads ``role``, until ``stop`` is set."""
        ...


class AlwaysLeader:
    """One process (SQLite, or a deployment that runs a single ``citybot run``)."""

    # The Election protocol's signature: the only process leads every role.
    async def lead(self, role: str, stop: asyncio.Event, term: Term) -> None:  # noqa: ARG002
        await term(stop)


def lock_key(role: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``role``."""
    digest = hashlib.sha256(f"citybot:{role}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLockElection:
    """Leadership per role through ``pg_try_advisory_lock`` on a connection of its own."""

    def __init__(self, engine: AsyncEngine, *, poll: float = 5.0, check: float = 5.0) -> None:
        self._engine = engine
        self._poll = poll
        self._check = check

    async def lead(self, role: str, stop: asyncio.Event, term: Term) -> None:
        key = lock_key(role)
        while not stop.is_set():
            connection = await self._try_acquire(role, key)
            if connection is None:
                await _wait(stop, self._poll)
                continue
            log.info("this process now sends for %s", role)
            try:
                await self._serve(role, connection, stop, term)
            finally:
                await self._release(role, key, connection)
            # Leadership lost, or the sender ended on its own (it logged why): pause before
            # trying again rather than spin.
            await _wait(stop, self._poll)

    async def _try_acquire(self, role: str, key: int) -> AsyncConnection | None:
        connection: AsyncConnection | None = None
        try:
            connection = await self._engine.connect()
            # Session-level locks outlive transactions; autocommit keeps the connection from
            # sitting "idle in transaction" for as long as it leads.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            result = await connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            )
            if result.scalar_one():
                return connection
        except TRY_AGAIN_LATER as error:
            log.warning("%s: leadership attempt failed: %s", role, error)
        if connection is not None:
            with contextlib.suppress(*TRY_AGAIN_LATER):
                await connection.close()
        return None

    async def _serve(
        self, role: str, connection: AsyncConnection, stop: asyncio.Event, term: Term
    ) -> None:
        term_stop = asyncio.Event()
        work: asyncio.Task[None] = asyncio.create_task(term(term_stop), name=f"lead-{role}")
        try:
            while not work.done():
                waiter = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait(
                    {work, waiter}, timeout=self._check, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                if work in done:
                    break
                if stop.is_set():
                    break
                if not await self._alive(connection):
                    log.warning("%s: lost the leadership connection; stopping to send", role)
                    break
        finally:
            term_stop.set()
            # The term finishes its batches in flight and records them before the lock goes.
            (outcome,) = await asyncio.gather(work, return_exceptions=True)
            if isinstance(outcome, Exception):
                log.error("%s: sender failed: %r", role, outcome)

    @staticmethod
    async def _alive(connection: AsyncConnection) -> bool:
        try:
            await connection.execute(text("SELECT 1"))
        except TRY_AGAIN_LATER:
            return False
        return True

    @staticmethod
    async def _release(role: str, key: int, connection: AsyncConnection) -> None:
        try:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        except TRY_AGAIN_LATER as error:
            # The connection is gone, and the lock went with it.
            log.debug("%s: unlock failed: %s", role, error)
        with contextlib.suppress(*TRY_AGAIN_LATER):
            await connection.close()
        log.info("this process no longer sends for %s", role)


def election_for(engine: AsyncEngine) -> Election:
    """Advisory locks on PostgreSQL; a single process everywhere else."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLockElection(engine)
    return AlwaysLeader()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
