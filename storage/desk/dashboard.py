"""The Dashboard screen: per department the open work (open, overdue, due within a working day,
unassigned), how fast and how punctually it was answered over the last 30 days, the residents'
ratings, and new tickets per day by category.

Medians: PostgreSQL computes them (``percentile_cont(0.5)`` grouped by department, one
statement per measure); SQLite has no percentile function, so it selects the durations of the
window (bounded: the tickets first answered, or closed, in 30 days) and Python takes the median.
Both give the same number: the middle value, or the mean of the two middle values.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.calendar import WorkCalendar
from storage.desk.queue import QueueCounts, count_where, queue_counts
from storage.models import Ticket
from storage.stats import MONTH, NONE, Column, seconds_between

# The longest chart the dashboard asks for (a quarter); bounds the rows read.
MAX_DAYS = 92


@dataclass(frozen=True, slots=True)
class DepartmentFigures:
    queue_code: str
    open: int
    overdue: int
    due_soon: int
    unassigned: int
    # Seconds from receipt, over the tickets first answered (closed) in the last 30 days;
    # None when there were none.
    median_first_answer: float | None
    median_close: float | None
    # Tickets closed in the last 30 days that had a deadline, and those closed by it.
    closed_with_deadline: int
    closed_on_time: int
    # Ratings of the tickets closed in the last 30 days.
    rating_count: int
    rating_average: float | None

    @property
    def on_time_share(self) -> float | None:
        """Closed by the deadline / closed with a deadline; None when none was closed."""
        if not self.closed_with_deadline:
            return None
        return self.closed_on_time / self.closed_with_deadline


@dataclass(frozen=True, slots=True)
class NewTickets:
    """New tickets per local day and category, ready for a chart: ``counts[category][i]`` is
    the number received on ``days[i]`` (zeros included). A ticket without a category counts
    under ``""``."""

    days: list[date]
    counts: dict[str, list[int]]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _medians(
    session: AsyncSession,
    departments: Collection[str],
    until: Column,
    since: datetime,
) -> dict[str, float]:
    """Median seconds from receipt to ``until`` per department, over rows with ``until`` in the
    window."""
    where = [
        Ticket.queue_code.in_(sorted(departments)),
        until.is_not(None),
        until >= since,
    ]
    duration = seconds_between(session, until, Ticket.received_at)
    if _dialect(session) == "postgresql":
        result = await session.execute(
            select(Ticket.queue_code, func.percentile_cont(0.5).within_group(duration))
            .where(*where)
            .group_by(Ticket.queue_code)
        )
        return {code: float(value) for code, value in result}
    values: dict[str, list[float]] = defaultdict(list)
    for code, value in await session.execute(select(Ticket.queue_code, duration).where(*where)):
        values[code].append(float(value))
    return {code: statistics.median(found) for code, found in values.items()}


async def _closings(
    session: AsyncSession, departments: Collection[str], since: datetime
) -> dict[str, tuple[int, int, int, float | None]]:
    """Per department: closed with a deadline, closed by it, ratings, average rating."""
    has_deadline = Ticket.deadline_at.is_not(None)
    result = await session.execute(
        select(
            Ticket.queue_code,
            count_where(has_deadline),
            count_where(and_(has_deadline, Ticket.closed_at <= Ticket.deadline_at)),
            func.count(Ticket.rating),
            func.avg(cast(Ticket.rating, Float)),
        )
        .where(
            Ticket.queue_code.in_(sorted(departments)),
            Ticket.closed_at.is_not(None),
            Ticket.closed_at >= since,
        )
        .group_by(Ticket.queue_code)
    )
    return {
        code: (int(dated), int(on_time), int(rated), None if mean is None else float(mean))
        for code, dated, on_time, rated, mean in result
    }


async def department_dashboard(
    session: AsyncSession,
    *,
    departments: Collection[str],
    now: datetime,
    calendar: WorkCalendar,
    zone: ZoneInfo,
) -> list[DepartmentFigures]:
    """The figures of each of ``departments``, in the order of their codes (four statements
    whatever the number of departments)."""
    if not departments:
        return []
    since = now - MONTH
    counts = await queue_counts(
        session, departments=departments, now=now, calendar=calendar, zone=zone
    )
    first = await _medians(session, departments, Ticket.first_answer_at, since)
    closed = await _medians(session, departments, Ticket.closed_at, since)
    closings = await _closings(session, departments, since)
    figures = []
    for code in sorted(departments):
        count = counts.get(code, QueueCounts(queue_code=code))
        dated, on_time, rated, mean = closings.get(code, (0, 0, 0, None))
        figures.append(
            DepartmentFigures(
                queue_code=code,
                open=count.open,
                overdue=count.overdue,
                due_soon=count.due_soon,
                unassigned=count.unassigned,
                median_first_answer=first.get(code),
                median_close=closed.get(code),
                closed_with_deadline=dated,
                closed_on_time=on_time,
                rating_count=rated,
                rating_average=mean,
            )
        )
    return figures


async def new_tickets_per_day(
    session: AsyncSession,
    *,
    departments: Collection[str],
    now: datetime,
    zone: ZoneInfo,
    days: int = 30,
) -> NewTickets:
    """Tickets of ``departments`` received per local day (in ``zone``) and category over the
    last ``days`` days, today included. Days are cut in the council's zone, which SQLite
    cannot do in SQL, so the (bounded) receipt times are grouped here."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, got {days}")
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    chart_days = [first + timedelta(days=offset) for offset in range(days)]
    counts: dict[str, list[int]] = {}
    if not departments:
        return NewTickets(days=chart_days, counts=counts)
    result = await session.execute(
        select(Ticket.received_at, Ticket.category).where(
            Ticket.queue_code.in_(sorted(departments)),
            Ticket.received_at >= start,
            Ticket.received_at <= now,
        )
    )
    for received, category in result:
        index = (received.astimezone(zone).date() - first).days
        if 0 <= index < days:
            counts.setdefault(category or NONE, [0] * days)[index] += 1
    return NewTickets(days=chart_days, counts=dict(sorted(counts.items())))
