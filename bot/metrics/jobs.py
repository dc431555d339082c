"""Counting scheduled job runs: ``citybot_job_runs_total{job, outcome}`` and the time of each
job's last success.

Two kinds of job share the scheduler. Those registered through ``OnceJobs`` (one process runs
each fire time; a failure is logged there and not passed on to APScheduler) are counted by
``CountedJobs``, around the job itself, in the process that ran it. The others (the news
composer's interval jobs) are counted from APScheduler's events. A fire time APScheduler skipped
(the event loop was blocked past the grace time) counts as ``missed`` for either kind.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.metrics.core import Metrics
from broadcasts.jobs import JobFunction, OnceJobs


class CountedJobs(OnceJobs):
    """``OnceJobs`` whose every run in this process is counted (ok or failed)."""

    def __init__(self, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics
        self.names: set[str] = set()

    def add(self, name: str, run: JobFunction, **cron: Any) -> None:
        metrics = self._metrics

        async def counted(fire_at: datetime) -> object:
            try:
                result = await run(fire_at)
            except Exception:
                # Counted, then OnceJobs logs it (a cancellation at shutdown is no failure).
                metrics.job_ran(name, ok=False)
                raise
            metrics.job_ran(name, ok=True)
            return result

        self.names.add(name)
        super().add(name, counted, **cron)


def once_jobs(
    scheduler: Any,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    zone: tzinfo,
    metrics: Metrics | None,
) -> OnceJobs:
    """The scheduler's ``OnceJobs``; with ``metrics``, every job's runs are counted."""
    if metrics is None:
        return OnceJobs(scheduler=scheduler, sessionmaker=sessionmaker, zone=zone)
    jobs = CountedJobs(metrics=metrics, scheduler=scheduler, sessionmaker=sessionmaker, zone=zone)
    watch_scheduler(scheduler, metrics, jobs)
    return jobs


def watch_scheduler(scheduler: Any, metrics: Metrics, counted: CountedJobs) -> None:
    """Count the runs of the jobs ``counted`` does not see, and every missed fire time."""

    def listener(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            metrics.job_missed(event.job_id)
        elif event.job_id not in counted.names:
            metrics.job_ran(event.job_id, ok=event.code == EVENT_JOB_EXECUTED)

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
