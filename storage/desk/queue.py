"""The Queues screen: a department's tickets with filters, sorted by deadline, in keyset pages,
and the counts per department.

Order: deadline, earliest first, tickets without a deadline last; ties by id. Pages are read by
KEYSET, never OFFSET: the cursor carries the (deadline, id) of the row the page starts after (or
ends before), so page 1,000 costs what page 1 costs. Rows with and without a deadline are read
as two index ranges, one after the other (``NULLS LAST`` would defeat SQLite's index, and a
single ``OR deadline IS NULL`` would defeat PostgreSQL's row comparison): two statements at most
per page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.calendar import WorkCalendar
from storage.desk.search import search_clause
from storage.models import Resident, Ticket
from storage.stats import OPEN
from storage.vocabulary import parse_aware

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
SNIPPET = 120
UNASSIGNED: Literal["unassigned"] = "unassigned"


class BadCursor(ValueError):
    """A cursor this module did not make (edited, truncated, from another version)."""


@dataclass(frozen=True, slots=True)
class QueueFilters:
    """What the staff member narrowed the queue to; an empty set means "any". ``statuses``
    defaults to the open ones. ``assignee`` is a staff id or ``"unassigned"``. ``overdue``:
    open and past the deadline; ``due_soon``: not yet overdue, due by the end of the next working
    day (:func:`due_soon_until`). ``search``: a number, words or a name
    (``storage.desk.search``)."""

    kinds: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset(OPEN)
    categories: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    assignee: int | Literal["unassigned"] | None = None
    overdue: bool = False
    due_soon: bool = False
    search: str | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One line of the list."""

    id: int
    number: str
    queue_code: str
    kind: str
    status: str
    category: str | None
    channel: str
    district: str | None
    assignee_id: int | None
    received_at: datetime
    deadline_at: datetime | None
    overdue: bool
    # The subject, or the first SNIPPET characters of the text (None once erased).
    snippet: str | None
    # The name on the ticket, else the resident's messenger name; None if anonymous or erased.
    resident_name: str | None
    urgent: bool


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    # Opaque cursors for the neighbouring pages (None: there is none).
    next: str | None = None
    previous: str | None = None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    queue_code: str
    open: int = 0
    overdue: int = 0
    due_soon: int = 0
    unassigned: int = 0


@dataclass(frozen=True, slots=True)
class _Key:
    deadline: datetime | None
    id: int


@dataclass(frozen=True, slots=True)
class _Cursor:
    key: _Key
    forward: bool


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet ``condition`` (0 for none), in one aggregate."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def due_soon_until(now: datetime, calendar: WorkCalendar, zone: ZoneInfo) -> datetime:
    """The end (in the council's zone) of the next working day after today: a ticket due by
    then, and not overdue, is "due within a working day"."""
    today = now.astimezone(zone).date()
    return datetime.combine(calendar.next_working_day(today), time.max, tzinfo=zone).astimezone(UTC)


def encode_cursor(deadline: datetime | None, ticket_id: int, *, forward: bool) -> str:
    """The cursor of the page after (``forward``) or before the row ``(deadline, ticket_id)``."""
    when = deadline.isoformat() if deadline else None
    raw = json.dumps([1 if forward else 0, when, ticket_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> _Cursor:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        direction, deadline, ticket_id = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(ticket_id, int) or direction not in (0, 1):
            raise BadCursor(cursor)
        when = parse_aware(deadline) if deadline is not None else None
    except (ValueError, TypeError, binascii.Error) as error:
        raise BadCursor(cursor) from error
    return _Cursor(key=_Key(deadline=when, id=ticket_id), forward=bool(direction))


def status_in(statuses: Collection[str]) -> ColumnElement[bool]:
    """``status IN (…)`` with the values as literals, sorted: for the open statuses this is the
    predicate of the partial index ``ix_tickets_open_deadline``, which SQLite and PostgreSQL's
    generic plans can only prove from literals, not from bound parameters. (Statuses are
    vocabulary words; literal rendering quotes them anyway.)"""
    values: BindParameter[list[str]] = bindparam(
        None, sorted(statuses), expanding=True, literal_execute=True
    )
    return Ticket.status.in_(values)


def _filter_clauses(
    filters: QueueFilters, *, now: datetime, soon: datetime, dialect: str
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.statuses:
        clauses.append(status_in(filters.statuses))
    for column, wanted in (
        (Ticket.kind, filters.kinds),
        (Ticket.category, filters.categories),
        (Resident.district, filters.districts),
        (Ticket.channel, filters.channels),
    ):
        if wanted:
            clauses.append(column.in_(sorted(wanted)))
    if filters.assignee == UNASSIGNED:
        clauses.append(Ticket.assignee_id.is_(None))
    elif filters.assignee is not None:
        clauses.append(Ticket.assignee_id == filters.assignee)
    if filters.overdue:
        clauses += [status_in(OPEN), Ticket.deadline_at < now]
    if filters.due_soon:
        clauses += [status_in(OPEN), Ticket.deadline_at >= now, Ticket.deadline_at <= soon]
    if filters.search is not None:
        found = search_clause(filters.search, dialect=dialect)
        if found is not None:
            clauses.append(found)
    return clauses


def _base(
    departments: Collection[str], clauses: Sequence[ColumnElement[bool]]
) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Ticket.id,
            Ticket.number,
            Ticket.queue_code,
            Ticket.kind,
            Ticket.status,
            Ticket.category,
            Ticket.channel,
            Resident.district,
            Ticket.assignee_id,
            Ticket.received_at,
            Ticket.deadline_at,
            func.coalesce(Ticket.subject, func.substr(Ticket.body, 1, SNIPPET)),
            case((Ticket.anonymous, None), else_=func.coalesce(Ticket.full_name, Resident.name)),
            Ticket.urgent,
        )
        .outerjoin(Resident, Resident.id == Ticket.resident_id)
        .where(Ticket.queue_code.in_(sorted(departments)), *clauses)
    )


async def _dated(
    session: AsyncSession,
    base: Select[*tuple[Any, ...]],
    after: _Key | None,
    forward: bool,
    limit: int,
) -> list[Any]:
    """Rows with a deadline, beyond ``after`` in the direction of travel."""
    query = base.where(Ticket.deadline_at.is_not(None))
    if after is not None and after.deadline is not None:
        key = tuple_(Ticket.deadline_at, Ticket.id)
        # Typed, so SQLite gets the deadline in the form it stores.
        bound = tuple_(literal(after.deadline, Ticket.deadline_at.type), literal(after.id))
        query = query.where(key > bound if forward else key < bound)
    if forward:
        query = query.order_by(Ticket.deadline_at, Ticket.id)
    else:
        query = query.order_by(Ticket.deadline_at.desc(), Ticket.id.desc())
    return list((await session.execute(query.limit(limit))).all())


async def _undated(
    session: AsyncSession,
    base: Select[*tuple[Any, ...]],
    after: _Key | None,
    forward: bool,
    limit: int,
) -> list[Any]:
    """Rows without a deadline (they come last), beyond ``after`` in the direction of travel."""
    query = base.where(Ticket.deadline_at.is_(None))
    if after is not None and after.deadline is None:
        query = query.where(Ticket.id > after.id if forward else Ticket.id < after.id)
    query = query.order_by(Ticket.id if forward else Ticket.id.desc())
    return list((await session.execute(query.limit(limit))).all())


async def _read(
    session: AsyncSession,
    base: Select[*tuple[Any, ...]],
    after: _Key | None,
    forward: bool,
    limit: int,
) -> list[Any]:
    """Up to ``limit`` rows after (or, backwards, before) ``after``, in travel order."""
    in_dated = after is None or after.deadline is not None
    if forward:
        rows = await _dated(session, base, after, True, limit) if in_dated else []
        if len(rows) < limit:
            rows += await _undated(session, base, after, True, limit - len(rows))
        return rows
    if after is None:
        return []
    rows = [] if in_dated else await _undated(session, base, after, False, limit)
    if len(rows) < limit:
        rows += await _dated(session, base, after if in_dated else None, False, limit - len(rows))
    return rows


def _row(values: Any, now: datetime) -> QueueRow:
    deadline = values[10]
    return QueueRow(
        id=values[0],
        number=values[1],
        queue_code=values[2],
        kind=values[3],
        status=values[4],
        category=values[5],
        channel=values[6],
        district=values[7],
        assignee_id=values[8],
        received_at=values[9],
        deadline_at=deadline,
        overdue=values[4] in OPEN and deadline is not None and deadline < now,
        snippet=values[11],
        resident_name=values[12],
        urgent=bool(values[13]),
    )


async def list_queue(
    session: AsyncSession,
    *,
    departments: Collection[str],
    filters: QueueFilters,
    now: datetime,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    page: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> QueuePage:
    """One page of the tickets of ``departments`` (queue codes) matching ``filters``.

    ``page`` is a cursor from a previous page's ``next`` or ``previous`` (None: the first
    page); a cursor this module did not make raises :class:`BadCursor`. A staff member with no
    department gets an empty page.
    """
    if not departments:
        return QueuePage(rows=[])
    limit = max(1, min(limit, MAX_LIMIT))
    soon = due_soon_until(now, calendar, zone)
    dialect = session.get_bind().dialect.name
    base = _base(departments, _filter_clauses(filters, now=now, soon=soon, dialect=dialect))
    cursor = decode_cursor(page) if page is not None else None
    forward = cursor is None or cursor.forward
    rows = await _read(session, base, cursor.key if cursor else None, forward, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
        if not more:
            # Back at the start: show a whole first page rather than a short one.
            return await list_queue(
                session,
                departments=departments,
                filters=filters,
                now=now,
                calendar=calendar,
                zone=zone,
                limit=limit,
            )
    found = [_row(values, now) for values in rows]
    if not found:
        return QueuePage(rows=[])
    first, last = (_Key(r.deadline_at, r.id) for r in (found[0], found[-1]))
    has_next = more if forward else True
    has_previous = cursor is not None if forward else more
    return QueuePage(
        rows=found,
        next=encode_cursor(last.deadline, last.id, forward=True) if has_next else None,
        previous=encode_cursor(first.deadline, first.id, forward=False) if has_previous else None,
    )


async def queue_counts(
    session: AsyncSession,
    *,
    departments: Collection[str],
    now: datetime,
    calendar: WorkCalendar,
    zone: ZoneInfo,
) -> dict[str, QueueCounts]:
    """Open, overdue, due within a working day and unassigned tickets of each department (one
    statement); every department asked for has an entry, zeros included."""
    if not departments:
        return {}
    soon = due_soon_until(now, calendar, zone)
    count = count_where
    result = await session.execute(
        select(
            Ticket.queue_code,
            func.count(),
            count(Ticket.deadline_at < now),
            count(and_(Ticket.deadline_at >= now, Ticket.deadline_at <= soon)),
            count(Ticket.assignee_id.is_(None)),
        )
        .where(Ticket.queue_code.in_(sorted(departments)), status_in(OPEN))
        .group_by(Ticket.queue_code)
    )
    counts = {code: QueueCounts(queue_code=code) for code in departments}
    for code, total, overdue, soon_count, unassigned in result:
        counts[code] = QueueCounts(
            queue_code=code,
            open=int(total),
            overdue=int(overdue),
            due_soon=int(soon_count),
            unassigned=int(unassigned),
        )
    return counts


async def queue_row(
    session: AsyncSession, *, departments: Collection[str], ticket_id: int, now: datetime
) -> QueueRow | None:
    """One ticket as a queue row (the live page inserts it), if it is of ``departments``."""
    found = (await session.execute(_base(departments, [Ticket.id == ticket_id]))).first()
    return None if found is None else _row(found, now)
