"""Scheduled jobs that run once per fire time, however many ``citybot run`` processes there are.

Every process registers the same cron jobs. When one fires, each process works out the fire
time from the trigger (not from its own start time, so the processes agree) and tries to record
it in ``job_runs``; the process whose insert succeeds runs the job, the others skip it. Triggers
are cron-style so fire times line up across processes; use ``second="*/15"`` rather than an
interval trigger, whose phase depends on when each process started.

A job that fails is logged and not retried until its next fire time; its row keeps
``finished_at`` empty, which ``job_runs`` shows to an administrator.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.errors import TRY_AGAIN_LATER
from storage.job_runs import claim_run, finish_run
from storage.vocabulary import Clock, system_clock

log = logging.getLogger(__name__)

# A job receives the fire time it runs for (UTC), so it can work "as of" that moment.
JobFunction = Callable[[datetime], Awaitable[object]]

_TICK = timedelta(microseconds=1)
# A job that starts later than this after its fire time (the event loop was blocked, the
# machine slept) is skipped by APScheduler rather than run late.
MISFIRE_GRACE_SECONDS = 60


def runner_name() -> str:
    """Who ran a job, for the ``job_runs`` table: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def latest_fire(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The trigger's last fire time at or before ``now`` (UTC), or None if it never fired."""
    first = trigger.get_next_fire_time(None, now)
    if first is None:
        return None
    second = trigger.get_next_fire_time(None, first + _TICK)
    period = (second - first) if second is not None else timedelta(days=1)
    candidate = trigger.get_next_fire_time(None, now - 2 * period)
    latest: datetime | None = None
    while candidate is not None and candidate <= now:
        latest = candidate
        candidate = trigger.get_next_fire_time(None, candidate + _TICK)
    return latest.astimezone(UTC) if latest is not None else None


class OnceJobs:
    """Registers cron jobs on an APScheduler scheduler so each fire time runs in one process."""

    def __init__(
        self,
        *,
        scheduler: Any,
        sessionmaker: async_sessionmaker[AsyncSession],
        zone: tzinfo,
        runner: str | None = None,
        wall_clock: Clock = system_clock,
    ) -> None:
        self._scheduler = scheduler
        self._sessionmaker = sessionmaker
        self._zone = zone
        self._runner = runner or runner_name()
        # APScheduler fires on the real clock, so the fire time is worked out on it too (an
        # injected test clock may be days away).
        self._wall = wall_clock

    def add(self, name: str, run: JobFunction, **cron: Any) -> None:
        """Run ``run(fire_at)`` at the cron fields ``cron`` (council time zone), once."""
        trigger = CronTrigger(timezone=self._zone, **cron)
        self._scheduler.add_job(
            self._fire,
            trigger,
            args=[name, trigger, run],
            id=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
        )

    async def _fire(self, name: str, trigger: CronTrigger, run: JobFunction) -> None:
        now = self._wall()
        fire_at = latest_fire(trigger, now) or now
        await self.run_once(name, fire_at, run)

    async def run_once(self, name: str, fire_at: datetime, run: JobFunction) -> bool:
        """Run ``run`` for ``fire_at`` unless some process already did; True if this one ran it.

        A database error while claiming skips this fire time (the job runs at the next one):
        running it unclaimed could run it twice.
        """
        try:
            async with self._sessionmaker() as session, session.begin():
                claimed = await claim_run(
                    session, job=name, fire_at=fire_at, now=self._wall(), runner=self._runner
                )
        except TRY_AGAIN_LATER as error:
            log.warning("job %s at %s skipped, database unavailable: %s", name, fire_at, error)
            return False
        if not claimed:
            log.debug("job %s at %s runs in another process", name, fire_at)
            return False
        try:
            await run(fire_at)
        except Exception:
            # Broad on purpose: a job may fail in any way, and it must not take the scheduler
            # with it. Logged with the traceback; the run stays unfinished.
            log.exception("job %s at %s failed", name, fire_at)
            return True
        try:
            async with self._sessionmaker() as session, session.begin():
                await finish_run(session, job=name, fire_at=fire_at, now=self._wall())
        except TRY_AGAIN_LATER as error:
            log.warning("job %s at %s ran but was not marked finished: %s", name, fire_at, error)
        return True
