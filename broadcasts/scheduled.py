"""Scheduled news: start the broadcasts whose time has come.

Run every few seconds by the app's scheduler, in any number of processes. Each due broadcast is
started by ``plan_broadcast`` from status ``scheduled``: its guard is one conditional UPDATE
(``… SET status='sending' WHERE id=… AND status='scheduled'``), so of two processes that both see
it due, exactly one plans its recipients (on PostgreSQL the second waits for the first's row lock,
then finds the status changed and skips it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit
from storage.broadcasts import BroadcastStatus
from storage.errors import TRY_AGAIN_LATER
from storage.news import due_scheduled
from storage.planning import plan_broadcast
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 15


async def start_due(sessionmaker: async_sessionmaker[AsyncSession], *, clock: Clock) -> list[int]:
    """Plan every scheduled broadcast that is due; returns the ids this process started."""
    started: list[int] = []
    async with sessionmaker() as session:
        due = await due_scheduled(session, now=clock())
    for broadcast_id in due:
        # One transaction per broadcast: a big audience does not hold the others back.
        async with sessionmaker() as session, session.begin():
            now = clock()
            count = await plan_broadcast(
                session,
                broadcast_id=broadcast_id,
                now=now,
                statuses=(BroadcastStatus.SCHEDULED.value,),
            )
            if count is None:
                continue
            audit.record(
                session,
                actor="scheduler",
                action="news.started",
                now=now,
                subject=f"broadcast:{broadcast_id}",
                details={"recipients": count},
            )
        started.append(broadcast_id)
        log.info("scheduled broadcast %d started: %d recipient(s)", broadcast_id, count)
    return started


class ScheduledNews:
    """The job: start due broadcasts, then wake the delivery engine. Failures are logged."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        wake: Callable[[], None],
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.wake = wake

    async def run_once(self) -> list[int]:
        try:
            started = await start_due(self.sessionmaker, clock=self.clock)
        except TRY_AGAIN_LATER as error:
            log.warning("scheduled news not started, retrying later: %s", error)
            return []
        if started:
            self.wake()
        return started
