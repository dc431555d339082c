"""CSV exports of tickets and residents (UTF-8 with a BOM, so Excel shows Ukrainian text).

Personal data — names, messenger ids, contacts, addresses, the texts residents wrote — is in
the file only when ``personal`` is set (administrators); everybody else gets the same rows
without those columns. Times are in the council's time zone. Cells that a spreadsheet would
evaluate as formulas are quoted (``storage.csv_safe``). Writing the audit entry is the
caller's job (it knows who asked).
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import polls
from storage.csv_safe import SafeCsvWriter
from storage.models import Poll, Resident, ResidentTopic, Ticket

BOM = "\ufeff"
BATCH = 1000


class ExportKind(StrEnum):
    TICKETS = "tickets"
    RESIDENTS = "residents"
    POLLS = "polls"


AVAILABLE = tuple(ExportKind)

TICKET_COLUMNS = (
    "number",
    "kind",
    "status",
    "category",
    "queue",
    "channel",
    "district",
    "appeal_type",
    "urgent",
    "anonymous",
    "received_at",
    "deadline_at",
    "first_answer_at",
    "closed_at",
    "rating",
    "refusal_ground",
)
TICKET_PERSONAL = ("full_name", "contact", "address", "subject", "body", "rating_comment")
RESIDENT_COLUMNS = (
    "id",
    "channel",
    "language",
    "district",
    "topics",
    "digest",
    "subscribed",
    "active",
    "created_at",
    "consent_at",
    "onboarded_at",
    "blocked_at",
    "erased_at",
)
RESIDENT_PERSONAL = ("external_id", "name")
# One row per option of each poll created in the period. Votes are opinions: never per resident,
# for administrators neither, only the totals that the results show.
POLL_COLUMNS = (
    "poll",
    "question",
    "multiple",
    "status",
    "created_at",
    "closes_at",
    "closed_at",
    "reached",
    "voters",
    "option",
    "votes",
    "share_percent",
)


@dataclass(frozen=True, slots=True)
class Period:
    """Whole council days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time(), zone)
        end = datetime.combine(self.last + timedelta(days=1), time(), zone)
        return start, end


_DATE = re.compile(r"^(?:(\d{4})-(\d{2})-(\d{2})|(\d{1,2})\.(\d{1,2})\.(\d{4}))$")


def parse_day(value: str) -> date:
    """``2026-11-27`` or ``27.11.2026``; ValueError otherwise."""
    match = _DATE.match(value.strip())
    if match is None:
        raise ValueError(f"not a date: {value!r}")
    y, m, d, d2, m2, y2 = match.groups()
    if y is not None:
        return date(int(y), int(m), int(d))
    return date(int(y2), int(m2), int(d2))


def parse_period(first: str, last: str) -> Period:
    period = Period(parse_day(first), parse_day(last))
    if period.last < period.first:
        raise ValueError("the period ends before it starts")
    return period


def columns(kind: ExportKind, *, personal: bool) -> tuple[str, ...]:
    if kind is ExportKind.TICKETS:
        return TICKET_COLUMNS + (TICKET_PERSONAL if personal else ())
    if kind is ExportKind.RESIDENTS:
        return RESIDENT_COLUMNS + (RESIDENT_PERSONAL if personal else ())
    return POLL_COLUMNS


def _time(value: datetime | None, zone: ZoneInfo) -> str:
    return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Export:
    kind: ExportKind
    period: Period
    personal: bool
    rows: int
    data: bytes

    @property
    def filename(self) -> str:
        return f"{self.kind.value}_{self.period.first:%Y%m%d}_{self.period.last:%Y%m%d}.csv"

    def audit_details(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "from": self.period.first.isoformat(),
            "to": self.period.last.isoformat(),
            "rows": self.rows,
            "personal": self.personal,
        }


async def _ticket_rows(
    session: AsyncSession, start: datetime, end: datetime, zone: ZoneInfo, personal: bool
) -> AsyncIterator[list[Any]]:
    query = (
        select(Ticket, Resident.district)
        .outerjoin(Resident, Resident.id == Ticket.resident_id)
        .where(Ticket.received_at >= start, Ticket.received_at < end)
        .order_by(Ticket.received_at, Ticket.id)
        .execution_options(yield_per=BATCH)
    )
    async for ticket, district in await session.stream(query):
        row: list[Any] = [
            ticket.number,
            ticket.kind,
            ticket.status,
            ticket.category,
            ticket.queue_code,
            ticket.channel,
            district,
            ticket.appeal_type,
            ticket.urgent,
            ticket.anonymous,
            _time(ticket.received_at, zone),
            _time(ticket.deadline_at, zone),
            _time(ticket.first_answer_at, zone),
            _time(ticket.closed_at, zone),
            ticket.rating,
            ticket.refusal_ground,
        ]
        if personal:
            row += [
                ticket.full_name,
                ticket.contact,
                ticket.address,
                ticket.subject,
                ticket.body,
                ticket.rating_comment,
            ]
        yield row


async def _resident_rows(
    session: AsyncSession, start: datetime, end: datetime, zone: ZoneInfo, personal: bool
) -> AsyncIterator[list[Any]]:
    # Topics as one "a;b" cell, aggregated in Python per batch (no string_agg on SQLite).
    query = (
        select(Resident)
        .where(Resident.created_at >= start, Resident.created_at < end)
        .order_by(Resident.created_at, Resident.id)
        .execution_options(yield_per=BATCH)
    )
    async for partition in (await session.stream_scalars(query)).partitions(BATCH):
        ids = [r.id for r in partition]
        topics: dict[int, list[str]] = {}
        found = await session.execute(
            select(ResidentTopic.resident_id, ResidentTopic.topic)
            .where(ResidentTopic.resident_id.in_(ids))
            .order_by(ResidentTopic.topic)
        )
        for resident_id, topic in found:
            topics.setdefault(resident_id, []).append(topic)
        for resident in partition:
            row: list[Any] = [
                resident.id,
                resident.channel,
                resident.language,
                resident.district,
                ";".join(topics.get(resident.id, [])),
                resident.digest,
                resident.subscribed,
                resident.is_active,
                _time(resident.created_at, zone),
                _time(resident.consent_at, zone),
                _time(resident.onboarded_at, zone),
                _time(resident.blocked_at, zone),
                _time(resident.erased_at, zone),
            ]
            if personal:
                row += [resident.external_id, resident.name]
            yield row


async def _poll_rows(
    session: AsyncSession, start: datetime, end: datetime, zone: ZoneInfo, _personal: bool
) -> AsyncIterator[list[Any]]:
    """Polls are anonymous: their rows are the same with or without personal data."""
    found = await session.execute(
        select(Poll.id, Poll.created_at, Poll.closed_at)
        .where(Poll.created_at >= start, Poll.created_at < end)
        .order_by(Poll.created_at, Poll.id)
    )
    for poll_id, created_at, closed_at in found.all():
        tally = await polls.results(session, poll_id=poll_id)
        if tally is None:
            continue
        percents = tally.total.percents()
        for index, option in enumerate(tally.options):
            yield [
                tally.poll_id,
                tally.question,
                tally.multiple,
                tally.status,
                _time(created_at, zone),
                _time(tally.closes_at, zone),
                _time(closed_at, zone),
                tally.reached,
                tally.total.voters,
                option,
                tally.total.votes[index],
                percents[index],
            ]


async def export_csv(
    session: AsyncSession,
    *,
    kind: ExportKind,
    period: Period,
    zone: ZoneInfo,
    personal: bool,
) -> Export:
    """The rows of ``kind`` created (tickets: received) in ``period`` as CSV bytes."""
    header = columns(kind, personal=personal)
    start, end = period.bounds(zone)
    buffer = io.StringIO()
    buffer.write(BOM)
    # Names, addresses and texts come from residents: no cell may be a spreadsheet formula.
    writer = SafeCsvWriter(buffer)
    writer.writerow(header)
    source = {
        ExportKind.TICKETS: _ticket_rows,
        ExportKind.RESIDENTS: _resident_rows,
        ExportKind.POLLS: _poll_rows,
    }[kind]
    count = 0
    async for row in source(session, start, end, zone, personal):
        writer.writerow(row)
        count += 1
    return Export(
        kind=kind,
        period=period,
        personal=personal,
        rows=count,
        data=buffer.getvalue().encode("utf-8"),
    )
