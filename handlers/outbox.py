"""Work that follows a committed event (the replies, the staff copy), done after the webhook
was answered, in order per resident.

A webhook answered right after the commit frees Telegram's (and Viber's) connection and keeps
the answer's latency to the database work; the Bot API calls run here. Nothing is lost that
was acknowledged: what the event changed is committed before the answer, the staff desk's
catch-up job posts whatever a crash kept from the staff chat, and only the resident's replies
of the events in flight are lost on a crash — as they were when the crash came between the
commit and the answer.

Every task is owned (DESIGN.md habit 6): kept in a set until it ends, its failure logged,
drained on shutdown (then cancelled after a timeout).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]


class Outbox:
    """``limit``: work submitted and not ended; a submit beyond it waits for room. So an
    overloaded bot slows its webhook answers down (Telegram then sends less) instead of
    answering fast while replies pile up in memory and wait for database connections."""

    def __init__(self, *, limit: int = 64) -> None:
        self._room = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        # The last task of each key: the next one of that key waits for it.
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    async def submit(self, key: str, work: Work) -> None:
        """Run ``work`` after every earlier work of ``key`` ended (however it ended); waits
        while ``limit`` works are outstanding (waiters get room in the order they came)."""
        if self._closed:
            raise RuntimeError("the outbox is closed")
        await self._room.acquire()
        previous = self._tails.get(key)
        task = asyncio.create_task(self._run(key, previous, work), name=f"outbox:{key}")
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(key, done))

    async def _run(self, key: str, previous: asyncio.Task[None] | None, work: Work) -> None:
        if previous is not None:
            # Its outcome is its own (logged there): only the order matters here.
            await asyncio.wait({previous})
        try:
            await work()
        except Exception:
            log.exception("work after the commit failed for %s", key)

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.release()
        if self._tails.get(key) is task:
            del self._tails[key]

    async def drain(self) -> None:
        """Wait until everything submitted so far (and anything it submits) has ended."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, grace: float) -> None:
        """Refuse new work, wait up to ``grace`` seconds for the rest, then cancel it."""
        self._closed = True
        try:
            await asyncio.wait_for(self.drain(), grace)
        except TimeoutError:
            pending = set(self._tasks)
            log.warning("cancelling %d unfinished deliveries at shutdown", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
