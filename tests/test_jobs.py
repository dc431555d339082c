"""Exactly-once scheduled jobs: fire times agreed from the trigger, one run per fire time
however many processes (schedulers) race for it, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.migrate import upgrade_to_head
from broadcasts.jobs import OnceJobs, latest_fire
from storage.db import create_engine, create_sessionmaker
from storage.job_runs import prune_runs
from storage.models import JobRun
from tests.conftest import set_connections_allowed

pytestmark = pytest.mark.migrated_database

KYIV = ZoneInfo("Europe/Kyiv")


def kyiv(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=KYIV).astimezone(UTC)


def test_latest_fire_of_an_hourly_job() -> None:
    hourly = CronTrigger(minute=5, timezone=KYIV)
    # APScheduler calls a few milliseconds after the fire time.
    assert latest_fire(hourly, kyiv(2026, 11, 26, 12, 5) + timedelta(milliseconds=4)) == kyiv(
        2026, 11, 26, 12, 5
    )
    assert latest_fire(hourly, kyiv(2026, 11, 26, 12, 4, 59)) == kyiv(2026, 11, 26, 11, 5)
    assert latest_fire(hourly, kyiv(2026, 11, 26, 12, 5)) == kyiv(2026, 11, 26, 12, 5)


def test_latest_fire_of_a_weekly_job_and_across_a_dst_change() -> None:
    weekly = CronTrigger(day_of_week="mon", hour=9, timezone=KYIV)
    # Thursday 26 November 2026: the last Monday 09:00 was the 23rd.
    assert latest_fire(weekly, kyiv(2026, 11, 26, 12, 0)) == kyiv(2026, 11, 23, 9, 0)
    daily = CronTrigger(hour=8, minute=30, timezone=KYIV)
    # Kyiv leaves summer time on 25 October 2026: 08:30 is 05:30 UTC before, 06:30 after.
    assert latest_fire(daily, kyiv(2026, 10, 26, 9, 0)) == datetime(2026, 10, 26, 6, 30, tzinfo=UTC)
    assert latest_fire(daily, kyiv(2026, 10, 24, 9, 0)) == datetime(2026, 10, 24, 5, 30, tzinfo=UTC)


def test_latest_fire_of_a_seconds_job_is_aligned_to_the_clock() -> None:
    every_15 = CronTrigger(second="*/15", timezone=KYIV)
    at = datetime(2026, 11, 26, 10, 0, 44, 900_000, tzinfo=UTC)
    assert latest_fire(every_15, at) == datetime(2026, 11, 26, 10, 0, 30, tzinfo=UTC)


async def test_a_fire_time_runs_once_across_processes(database_url: str) -> None:
    """Four schedulers (separate engines, as separate processes would have) race for the same
    fire times: each fire time runs exactly once."""
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        await upgrade_to_head(engines[0])
        runs: list[tuple[str, datetime]] = []

        def job_for(runner: str):  # type: ignore[no-untyped-def]
            async def job(fire_at: datetime) -> None:
                runs.append((runner, fire_at))
                await asyncio.sleep(0.01)

            return job

        books = [
            OnceJobs(
                scheduler=None,
                sessionmaker=create_sessionmaker(engine),
                zone=KYIV,
                runner=f"process-{index}",
            )
            for index, engine in enumerate(engines)
        ]
        fire_times = [kyiv(2026, 11, 26, hour, 5) for hour in (9, 10, 11)]
        outcomes = await asyncio.gather(
            *(
                book.run_once("sla-hourly", at, job_for(f"process-{index}"))
                for at in fire_times
                for index, book in enumerate(books)
            )
        )
        assert sum(outcomes) == 3
        assert sorted(at for _, at in runs) == fire_times
        # Another job at the same time is a different row.
        assert await books[0].run_once("sla-morning", fire_times[0], job_for("process-0"))
        async with create_sessionmaker(engines[0])() as session:
            rows = (await session.execute(select(JobRun).order_by(JobRun.fire_at))).scalars().all()
        assert len(rows) == 4
        assert all(row.finished_at is not None for row in rows)
        assert {row.runner for row in rows} <= {f"process-{index}" for index in range(4)}
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_failed_job_is_logged_and_left_unfinished(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    book = OnceJobs(scheduler=None, sessionmaker=sessionmaker, zone=KYIV, runner="me")
    at = kyiv(2026, 11, 26, 9, 5)

    async def broken(_fire_at: datetime) -> None:
        raise RuntimeError("boom")

    assert await book.run_once("broken", at, broken)
    # Not run a second time for the same fire time, even by the same process.
    assert not await book.run_once("broken", at, broken)
    async with sessionmaker() as session:
        row = await session.get(JobRun, ("broken", at))
        assert row is not None and row.finished_at is None


async def test_old_runs_are_pruned(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    book = OnceJobs(scheduler=None, sessionmaker=sessionmaker, zone=KYIV, runner="me")

    async def nothing(_fire_at: datetime) -> None:
        return None

    now = kyiv(2026, 11, 26, 12, 0)
    for days in (40, 31, 29, 1):
        assert await book.run_once("daily", now - timedelta(days=days), nothing)
    async with sessionmaker() as session, session.begin():
        assert await prune_runs(session, older_than=timedelta(days=30), now=now) == 2
    async with sessionmaker() as session:
        left = (await session.execute(select(JobRun.fire_at))).scalars().all()
    assert sorted(left) == [now - timedelta(days=29), now - timedelta(days=1)]


async def test_database_down_skips_the_fire_time_without_running(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        await upgrade_to_head(engine)
        book = OnceJobs(
            scheduler=None, sessionmaker=create_sessionmaker(engine), zone=KYIV, runner="me"
        )
        ran: list[datetime] = []

        async def job(fire_at: datetime) -> None:
            ran.append(fire_at)

        await set_connections_allowed(pg_url, False)
        try:
            assert not await book.run_once("sla-hourly", kyiv(2026, 11, 26, 9, 5), job)
        finally:
            await set_connections_allowed(pg_url, True)
        assert ran == []
    finally:
        await engine.dispose()


async def test_two_real_schedulers_run_each_second_once(pg_url: str) -> None:
    """APScheduler itself, twice, firing every second for about 2.5 s."""
    engines = [create_engine(pg_url) for _ in range(2)]
    schedulers = [AsyncIOScheduler(timezone=KYIV) for _ in range(2)]
    try:
        await upgrade_to_head(engines[0])
        runs: list[datetime] = []

        async def job(fire_at: datetime) -> None:
            runs.append(fire_at)

        for index, (engine, scheduler) in enumerate(zip(engines, schedulers, strict=True)):
            book = OnceJobs(
                scheduler=scheduler,
                sessionmaker=create_sessionmaker(engine),
                zone=KYIV,
                runner=f"process-{index}",
            )
            book.add("tick", job, second="*")
        for scheduler in schedulers:
            scheduler.start()
        await asyncio.sleep(2.5)
    finally:
        for scheduler in schedulers:
            if scheduler.running:
                scheduler.shutdown(wait=False)
        for engine in engines:
            await engine.dispose()
    assert len(runs) >= 2
    assert len(runs) == len(set(runs))
    assert all(at.microsecond == 0 for at in runs)
