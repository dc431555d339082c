"""Deadline reminders for staff: an hourly post of tickets that just became due soon or
overdue, and a morning summary per queue.

The hourly job is stateless: a ticket is listed in the hour it crosses a threshold (it was not
due-soon/overdue an hour ago and is now), so each crossing is announced once when the job runs
hourly. The morning summary lists everything still open, due soon or overdue.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from messaging import labels
from messaging.i18n import Catalog, Markup
from storage.calendar import WorkCalendar
from storage.calendar_store import load_calendar
from storage.deadlines import due_within_working_days, is_overdue
from storage.models import Ticket
from storage.ticket_events import Happened, answers_between
from storage.tickets import list_queues, open_tickets
from storage.vocabulary import Clock, TicketStatus

log = logging.getLogger(__name__)

# "Due within one working day": by the end of today's or the next working day.
DUE_SOON_WORKING_DAYS = 2
HOUR = timedelta(hours=1)
# The morning summary tells residents' "resolved?" answers of the last day.
ANSWERS_WINDOW = timedelta(days=1)
LISTED = 30  # at most this many tickets per section of one post


class Poster(Protocol):
    """Posts staff-facing text (HTML) to a Telegram chat."""

    async def post(self, chat_id: int, text: str) -> None: ...


@dataclass
class QueueReport:
    code: str
    name: str
    chat_id: int | None
    open_count: int = 0
    new: list[Ticket] = field(default_factory=list)
    due_soon: list[Ticket] = field(default_factory=list)
    overdue: list[Ticket] = field(default_factory=list)
    # Residents' answers to "Питання вирішено?" in the last day (morning summary only).
    resolved: int = 0
    unresolved: list[Ticket] = field(default_factory=list)

    @property
    def has_answers(self) -> bool:
        return bool(self.resolved or self.unresolved)


def _due_soon(ticket: Ticket, now: datetime, calendar: WorkCalendar, zone: ZoneInfo) -> bool:
    assert ticket.deadline_at is not None
    return due_within_working_days(
        ticket.deadline_at, now, DUE_SOON_WORKING_DAYS, calendar=calendar, zone=zone
    )


async def collect(
    session: AsyncSession, *, now: datetime, zone: ZoneInfo, crossed_only: bool
) -> list[QueueReport]:
    """Open tickets per queue, sorted into due-soon and overdue.

    With ``crossed_only`` only the tickets that entered either state within the last hour.
    """
    calendar = await load_calendar(session)
    reports = {
        queue.code: QueueReport(code=queue.code, name=queue.name, chat_id=queue.chat_id)
        for queue in await list_queues(session)
    }
    for ticket in await open_tickets(session):
        report = reports.get(ticket.queue_code)
        if report is None:
            continue
        report.open_count += 1
        if ticket.status == TicketStatus.NEW:
            report.new.append(ticket)
        if ticket.deadline_at is None:
            continue
        if is_overdue(ticket.deadline_at, now):
            if not crossed_only or not is_overdue(ticket.deadline_at, now - HOUR):
                report.overdue.append(ticket)
        elif _due_soon(ticket, now, calendar, zone) and (
            not crossed_only or not _due_soon(ticket, now - HOUR, calendar, zone)
        ):
            report.due_soon.append(ticket)
    if not crossed_only:
        await _collect_answers(session, reports, now=now)
    return list(reports.values())


async def _collect_answers(
    session: AsyncSession, reports: dict[str, QueueReport], *, now: datetime
) -> None:
    for ticket, kind in await answers_between(session, start=now - ANSWERS_WINDOW, end=now):
        report = reports.get(ticket.queue_code)
        if report is None:
            continue
        if kind == Happened.RESOLVED:
            report.resolved += 1
        elif all(listed.id != ticket.id for listed in report.unresolved):
            report.unresolved.append(ticket)


def _lines(catalog: Catalog, language: str, tickets: Sequence[Ticket], zone: ZoneInfo) -> str:
    lines = [
        catalog.text(
            language,
            "sla.line",
            number=t.number,
            deadline=t.deadline_at.astimezone(zone).strftime("%d.%m.%Y %H:%M")
            if t.deadline_at
            else "—",
            status=catalog.text(language, labels.STATUS[t.status]),
        )
        for t in tickets[:LISTED]
    ]
    if len(tickets) > LISTED:
        lines.append(catalog.text(language, "sla.more", count=len(tickets) - LISTED))
    return "\n".join(lines)


def reminder_text(
    report: QueueReport, catalog: Catalog, language: str, zone: ZoneInfo
) -> Markup | None:
    if not report.due_soon and not report.overdue:
        return None
    parts: list[str] = [catalog.text(language, "sla.reminder.title", queue=report.name)]
    if report.overdue:
        parts.append(catalog.text(language, "sla.overdue", count=len(report.overdue)))
        parts.append(_lines(catalog, language, report.overdue, zone))
    if report.due_soon:
        parts.append(catalog.text(language, "sla.due_soon", count=len(report.due_soon)))
        parts.append(_lines(catalog, language, report.due_soon, zone))
    return Markup("\n".join(parts))


def morning_text(report: QueueReport, catalog: Catalog, language: str, zone: ZoneInfo) -> Markup:
    parts: list[str] = [
        catalog.text(
            language,
            "sla.morning.title",
            queue=report.name,
            open=report.open_count,
            new=len(report.new),
            due_soon=len(report.due_soon),
            overdue=len(report.overdue),
        )
    ]
    if report.overdue:
        parts.append(catalog.text(language, "sla.overdue", count=len(report.overdue)))
        parts.append(_lines(catalog, language, report.overdue, zone))
    if report.due_soon:
        parts.append(catalog.text(language, "sla.due_soon", count=len(report.due_soon)))
        parts.append(_lines(catalog, language, report.due_soon, zone))
    if report.has_answers:
        parts.extend(_answer_lines(report, catalog, language))
    return Markup("\n".join(parts))


def _answer_lines(report: QueueReport, catalog: Catalog, language: str) -> list[str]:
    """The residents' "resolved?" answers of the last day; the "not resolved" ones by number
    (a feedback ticket is open again, an appeal may be followed by a repeated one)."""
    lines: list[str] = [
        catalog.text(
            language,
            "closure.sla.answers",
            resolved=report.resolved,
            unresolved=len(report.unresolved),
        )
    ]
    for ticket in report.unresolved[:LISTED]:
        lines.append(
            catalog.text(
                language,
                "closure.sla.unresolved_line",
                number=ticket.number,
                kind=catalog.text(language, labels.STAFF_KIND[ticket.kind]),
                status=catalog.text(language, labels.STAFF_STATUS[ticket.status]),
            )
        )
    if len(report.unresolved) > LISTED:
        lines.append(catalog.text(language, "sla.more", count=len(report.unresolved) - LISTED))
    return lines


@dataclass
class SlaJobs:
    sessionmaker: async_sessionmaker[AsyncSession]
    poster: Poster
    catalog: Catalog
    zone: ZoneInfo
    language: str
    operator_chat_id: int | None
    clock: Clock

    def _chat(self, report: QueueReport) -> int | None:
        return report.chat_id if report.chat_id is not None else self.operator_chat_id

    async def _reports(self, *, crossed_only: bool) -> list[QueueReport]:
        async with self.sessionmaker() as session:
            return await collect(
                session, now=self.clock(), zone=self.zone, crossed_only=crossed_only
            )

    async def hourly(self) -> int:
        """Post what crossed a threshold in the last hour; returns the number of posts."""
        posts = 0
        for report in await self._reports(crossed_only=True):
            text = reminder_text(report, self.catalog, self.language, self.zone)
            chat = self._chat(report)
            if text is None or chat is None:
                continue
            await self.poster.post(chat, text)
            posts += 1
        return posts

    async def morning(self) -> int:
        """One summary per queue with open tickets; returns the number of posts."""
        posts = 0
        per_chat: dict[int, list[str]] = defaultdict(list)
        for report in await self._reports(crossed_only=False):
            chat = self._chat(report)
            if chat is None or (report.open_count == 0 and not report.has_answers):
                continue
            per_chat[chat].append(morning_text(report, self.catalog, self.language, self.zone))
        for chat, texts in per_chat.items():
            # Queues that share the operator chat get one message each, in queue order.
            for text in texts:
                await self.poster.post(chat, text)
                posts += 1
        return posts
