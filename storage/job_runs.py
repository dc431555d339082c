"""Exactly-once scheduled jobs: one ``job_runs`` row per job and fire time.

Every ``citybot run`` process has the same scheduler; at each fire time each of them tries to
insert the row, and only the one whose insert succeeds runs the job. The same statement works on
SQLite (one process anyway) and PostgreSQL (the primary key decides between processes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import JobRun


async def claim_run(
    session: AsyncSession, *, job: str, fire_at: datetime, now: datetime, runner: str
) -> bool:
    """Record that ``runner`` runs ``job`` for ``fire_at``; False if another process did."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(JobRun)
        .values(job=job, fire_at=fire_at, started_at=now, runner=runner[:128])
        .on_conflict_do_nothing(index_elements=["job", "fire_at"])
        .returning(JobRun.job)
    )
    result = await session.execute(statement)
    return result.first() is not None


async def finish_run(session: AsyncSession, *, job: str, fire_at: datetime, now: datetime) -> None:
    await session.execute(
        update(JobRun)
        .where(JobRun.job == job, JobRun.fire_at == fire_at)
        .values(finished_at=now)
        .execution_options(synchronize_session=False)
    )


async def prune_runs(session: AsyncSession, *, older_than: timedelta, now: datetime) -> int:
    result = await session.execute(delete(JobRun).where(JobRun.fire_at < now - older_than))
    return int(getattr(result, "rowcount", 0) or 0)
