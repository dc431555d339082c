"""Analytics queries for ``/stats``, the officials' summary and spike alerts.

Every figure is one set-based statement (GROUP BY with conditional sums), written once for
SQLite and PostgreSQL. Durations are seconds between two timestamps (``extract(epoch …)`` on
PostgreSQL, ``julianday`` on SQLite). Medians use ``percentile_cont`` on PostgreSQL and, where it
is missing (SQLite) or asked for, the portable form: count, then the middle row(s) by ORDER BY
with OFFSET.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import (
    Broadcast,
    Delivery,
    Department,
    Resident,
    ResidentTopic,
    Ticket,
    TicketEvent,
)
from storage.ticket_events import Happened
from storage.vocabulary import OPEN_STATUSES

# A column in a query: a mapped attribute or an SQL expression.
Column = ColumnElement[Any] | InstrumentedAttribute[Any]
WEEK = timedelta(days=7)
MONTH = timedelta(days=30)
OPEN = tuple(status.value for status in OPEN_STATUSES)
# The key of rows whose column is empty (a resident without a district, a ticket without one).
NONE = ""
RECENT_BROADCASTS = 5
# Broadcasts whose deliveries are counted: they went out (or began to).
STARTED = ("sending", "finished", "cancelled")


@dataclass(frozen=True, slots=True)
class ResidentRow:
    key: str
    total: int  # reachable now: not erased, not blocked
    new_7: int
    new_30: int
    left_7: int  # blocked the bot or erased their data
    left_30: int


@dataclass(frozen=True, slots=True)
class TicketRow:
    key: str
    total: int
    open: int
    new_7: int


@dataclass(frozen=True, slots=True)
class BroadcastReach:
    broadcast_id: int
    kind: str
    title: str | None
    text: str
    started_at: datetime | None
    states: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.states.values())


@dataclass(frozen=True, slots=True)
class Ratings:
    count: int
    average: float | None
    by_score: dict[int, int]


@dataclass(frozen=True, slots=True)
class Resolutions:
    """Residents' answers to "Питання вирішено?" over the last 30 days: one question per
    closing (a ticket closed, reopened by "no" and closed again was asked twice)."""

    asked: int
    resolved: int
    not_resolved: int
    reopened: int

    @property
    def silent(self) -> int:
        # Answers to closings just before the period can exceed its closings: never below 0.
        return max(0, self.asked - self.resolved - self.not_resolved)


@dataclass(frozen=True, slots=True)
class StatsReport:
    now: datetime
    residents_by_channel: list[ResidentRow]
    residents_by_district: list[ResidentRow]
    residents_by_topic: list[ResidentRow]
    residents: ResidentRow
    tickets_by_kind: list[TicketRow]
    tickets_by_status: list[TicketRow]
    tickets_by_category: list[TicketRow]
    tickets_by_queue: list[TicketRow]
    queue_names: dict[str, str]
    overdue: int
    # Over tickets answered (closed) in the last 30 days; None when there were none.
    median_first_answer: float | None
    median_close: float | None
    ratings: Ratings
    broadcasts: list[BroadcastReach] = field(default_factory=list)
    resolutions: Resolutions | None = None


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def seconds_between(session: AsyncSession, later: Column, earlier: Column) -> ColumnElement[float]:
    """``later - earlier`` in seconds, on either database."""
    if _dialect(session) == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _since(column: Column, start: datetime) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((column >= start, 1), else_=0)), 0)


async def median(
    session: AsyncSession,
    value: Column,
    where: Sequence[ColumnElement[bool]],
    *,
    portable: bool = False,
) -> float | None:
    """The median of ``value`` over the rows matching ``where``; None for no rows.

    PostgreSQL: ``percentile_cont(0.5)``; elsewhere (or with ``portable``): the middle row, or
    the mean of the two middle rows, found by ORDER BY + OFFSET after a count.
    """
    if _dialect(session) == "postgresql" and not portable:
        result = await session.execute(
            select(func.percentile_cont(0.5).within_group(value)).where(*where)
        )
        found = result.scalar_one()
        return None if found is None else float(found)
    count = int((await session.execute(select(func.count()).where(*where))).scalar_one())
    if count == 0:
        return None
    middle = await session.execute(
        select(value.label("v"))
        .where(*where)
        .order_by(value)
        .offset((count - 1) // 2)
        .limit(1 if count % 2 else 2)
    )
    values = [float(v) for v in middle.scalars()]
    return sum(values) / len(values)


# -- residents ---------------------------------------------------------------------------------


def _resident_columns(now: datetime) -> list[ColumnElement[Any]]:
    reachable = and_(Resident.erased_at.is_(None), Resident.is_active.is_(True))
    left = func.coalesce(Resident.erased_at, Resident.blocked_at)
    return [
        func.coalesce(func.sum(case((reachable, 1), else_=0)), 0),
        _since(Resident.created_at, now - WEEK),
        _since(Resident.created_at, now - MONTH),
        _since(left, now - WEEK),
        _since(left, now - MONTH),
    ]


def _resident_row(key: object, values: Sequence[Any]) -> ResidentRow:
    return ResidentRow(
        key=NONE if key is None else str(key),
        total=int(values[0]),
        new_7=int(values[1]),
        new_30=int(values[2]),
        left_7=int(values[3]),
        left_30=int(values[4]),
    )


async def residents_by(
    session: AsyncSession, column: Column | None, *, now: datetime
) -> list[ResidentRow]:
    """Residents per value of ``column`` (None: one row for everybody), biggest first."""
    columns = _resident_columns(now)
    if column is None:
        row = (await session.execute(select(literal(NONE), *columns))).one()
        return [_resident_row(row[0], row[1:])]
    result = await session.execute(select(column, *columns).group_by(column))
    rows = [_resident_row(row[0], row[1:]) for row in result]
    return sorted(rows, key=lambda r: (-r.total, r.key))


async def residents_by_topic(session: AsyncSession, *, now: datetime) -> list[ResidentRow]:
    columns = _resident_columns(now)
    result = await session.execute(
        select(ResidentTopic.topic, *columns)
        .join(Resident, Resident.id == ResidentTopic.resident_id)
        .group_by(ResidentTopic.topic)
    )
    rows = [_resident_row(row[0], row[1:]) for row in result]
    return sorted(rows, key=lambda r: (-r.total, r.key))


# -- tickets -----------------------------------------------------------------------------------


async def tickets_by(session: AsyncSession, column: Column, *, now: datetime) -> list[TicketRow]:
    """Tickets per value of ``column``: all, open, received in the last 7 days."""
    result = await session.execute(
        select(
            column,
            func.count(),
            func.coalesce(func.sum(case((Ticket.status.in_(OPEN), 1), else_=0)), 0),
            _since(Ticket.received_at, now - WEEK),
        ).group_by(column)
    )
    rows = [
        TicketRow(
            key=NONE if row[0] is None else str(row[0]), total=row[1], open=row[2], new_7=row[3]
        )
        for row in result
    ]
    return sorted(rows, key=lambda r: (-r.total, r.key))


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    return and_(Ticket.status.in_(OPEN), Ticket.deadline_at.is_not(None), Ticket.deadline_at < now)


async def count_overdue(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(select(func.count()).where(overdue_clause(now)))
    return int(result.scalar_one())


async def response_medians(
    session: AsyncSession, *, now: datetime, portable: bool = False
) -> tuple[float | None, float | None]:
    """Median seconds from receipt to the first answer and to closing, over the tickets first
    answered (closed) in the last 30 days."""
    since = now - MONTH
    first = await median(
        session,
        seconds_between(session, Ticket.first_answer_at, Ticket.received_at),
        [Ticket.first_answer_at.is_not(None), Ticket.first_answer_at >= since],
        portable=portable,
    )
    closed = await median(
        session,
        seconds_between(session, Ticket.closed_at, Ticket.received_at),
        [Ticket.closed_at.is_not(None), Ticket.closed_at >= since],
        portable=portable,
    )
    return first, closed


async def ratings(session: AsyncSession) -> Ratings:
    result = await session.execute(
        select(Ticket.rating, func.count())
        .where(Ticket.rating.is_not(None))
        .group_by(Ticket.rating)
    )
    by_score = {int(score or 0): int(count) for score, count in result}
    count = sum(by_score.values())
    average = sum(s * c for s, c in by_score.items()) / count if count else None
    return Ratings(count=count, average=average, by_score=dict(sorted(by_score.items())))


async def resolutions(session: AsyncSession, *, now: datetime) -> Resolutions:
    """Closings and the residents' answers of the last 30 days, from ``ticket_events``."""
    wanted = (Happened.CLOSED, Happened.RESOLVED, Happened.NOT_RESOLVED, Happened.REOPENED)
    result = await session.execute(
        select(TicketEvent.kind, func.count())
        .where(
            TicketEvent.at >= now - MONTH,
            TicketEvent.kind.in_([kind.value for kind in wanted]),
        )
        .group_by(TicketEvent.kind)
    )
    counts = {str(kind): int(count) for kind, count in result}
    return Resolutions(
        asked=counts.get(Happened.CLOSED, 0),
        resolved=counts.get(Happened.RESOLVED, 0),
        not_resolved=counts.get(Happened.NOT_RESOLVED, 0),
        reopened=counts.get(Happened.REOPENED, 0),
    )


# -- broadcasts --------------------------------------------------------------------------------


async def broadcast_reach(
    session: AsyncSession,
    *,
    limit: int = RECENT_BROADCASTS,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
) -> list[BroadcastReach]:
    """Deliveries per state of the latest broadcasts that went out (or of those started in
    [``started_from``, ``started_to``)), newest first."""
    query = select(Broadcast).where(Broadcast.status.in_(STARTED))
    if started_from is not None:
        query = query.where(Broadcast.started_at >= started_from)
    if started_to is not None:
        query = query.where(Broadcast.started_at < started_to)
    found = list((await session.scalars(query.order_by(Broadcast.id.desc()).limit(limit))).all())
    if not found:
        return []
    states: dict[int, dict[str, int]] = {b.id: {} for b in found}
    result = await session.execute(
        select(Delivery.broadcast_id, Delivery.state, func.count())
        .where(Delivery.broadcast_id.in_(list(states)))
        .group_by(Delivery.broadcast_id, Delivery.state)
    )
    for broadcast_id, state, count in result:
        states[broadcast_id][state] = int(count)
    return [
        BroadcastReach(
            broadcast_id=b.id,
            kind=b.kind,
            title=b.title,
            text=b.text,
            started_at=b.started_at,
            states=states[b.id],
        )
        for b in found
    ]


async def queue_names(session: AsyncSession) -> dict[str, str]:
    result = await session.execute(select(Department.code, Department.name))
    return {code: name for code, name in result}


async def stats_report(
    session: AsyncSession, *, now: datetime, portable: bool = False
) -> StatsReport:
    """Everything ``/stats`` shows."""
    first, closed = await response_medians(session, now=now, portable=portable)
    return StatsReport(
        now=now,
        residents=(await residents_by(session, None, now=now))[0],
        residents_by_channel=await residents_by(session, Resident.channel, now=now),
        residents_by_district=await residents_by(session, Resident.district, now=now),
        residents_by_topic=await residents_by_topic(session, now=now),
        tickets_by_kind=await tickets_by(session, Ticket.kind, now=now),
        tickets_by_status=await tickets_by(session, Ticket.status, now=now),
        tickets_by_category=await tickets_by(session, Ticket.category, now=now),
        tickets_by_queue=await tickets_by(session, Ticket.queue_code, now=now),
        queue_names=await queue_names(session),
        overdue=await count_overdue(session, now=now),
        median_first_answer=first,
        median_close=closed,
        ratings=await ratings(session),
        broadcasts=await broadcast_reach(session),
        resolutions=await resolutions(session, now=now),
    )


# -- periods (summaries, spikes) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodRow:
    key: str
    current: int
    previous: int

    @property
    def change(self) -> int:
        return self.current - self.previous


async def new_tickets_by(
    session: AsyncSession,
    column: Column,
    *,
    start: datetime,
    end: datetime,
    previous_start: datetime,
) -> list[PeriodRow]:
    """Tickets received in [start, end) and in [previous_start, start) per value of ``column``
    (a Ticket column, or ``Resident.district``: joined through the ticket's resident)."""
    query = select(
        column,
        _since(Ticket.received_at, start),
        func.coalesce(func.sum(case((Ticket.received_at < start, 1), else_=0)), 0),
    ).where(Ticket.received_at >= previous_start, Ticket.received_at < end)
    if column is Resident.district:
        query = query.outerjoin(Resident, Resident.id == Ticket.resident_id)
    result = await session.execute(query.group_by(column))
    rows = [
        PeriodRow(key=NONE if row[0] is None else str(row[0]), current=row[1], previous=row[2])
        for row in result
    ]
    return sorted(rows, key=lambda r: (-r.current, -r.previous, r.key))


async def ticket_texts(
    session: AsyncSession, *, start: datetime, end: datetime
) -> list[tuple[str, list[str]]]:
    """The subject and text of each ticket received in [start, end), with the words of its
    author's name and address (to be kept out of any word list)."""
    result = await session.execute(
        select(Ticket.subject, Ticket.body, Ticket.full_name, Ticket.address).where(
            Ticket.received_at >= start,
            Ticket.received_at < end,
            Ticket.erased_at.is_(None),
            or_(Ticket.body.is_not(None), Ticket.subject.is_not(None)),
        )
    )
    texts: list[tuple[str, list[str]]] = []
    for subject, body, name, address in result:
        text = " ".join(part for part in (subject, body) if part)
        texts.append((text, [part for part in (name, address) if part]))
    return texts
