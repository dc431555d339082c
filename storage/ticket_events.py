"""The steps of a ticket's life (``ticket_events``): what the resident's timeline shows, what
the morning summary and ``/stats`` count. The caller commits.

Written where each step happens (the staff service, the resident's "resolved?" answer); tickets
older than migration 0014 got theirs from the ticket's own columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Ticket, TicketEvent


class Happened(StrEnum):
    TAKEN = "taken"
    HANDED_OVER = "handed_over"
    EXTENDED = "extended"
    ANSWERED = "answered"
    CLOSED = "closed"
    REFUSED = "refused"
    # The resident's answer to "Питання вирішено?".
    RESOLVED = "resolved"
    NOT_RESOLVED = "not_resolved"
    # A closed ticket open again because the resident said it was not resolved.
    REOPENED = "reopened"
    # The resident filed a linked ticket (repeated appeal, complaint, new request).
    REFILED = "refiled"


class Resolution(StrEnum):
    RESOLVED = "resolved"
    NOT_RESOLVED = "not_resolved"


class Link(StrEnum):
    """How a linked ticket follows the first (``tickets.parent_link``)."""

    REPEATED = "repeated"  # повторне звернення (Law 393/96-ВР art. 8)
    COMPLAINT = "complaint"  # скарга (Law 393/96-ВР art. 16-17; Law 2939-VI art. 23)
    NEW_REQUEST = "new_request"  # a new request for public information


def record(
    session: AsyncSession,
    ticket: Ticket,
    kind: Happened,
    *,
    now: datetime,
    staff_id: int | None = None,
    deadline_at: datetime | None = None,
    other_ticket_id: int | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        kind=kind.value,
        queue_code=ticket.queue_code,
        staff_id=staff_id,
        deadline_at=deadline_at,
        other_ticket_id=other_ticket_id,
    )
    session.add(event)
    return event


async def of_ticket(session: AsyncSession, *, ticket_id: int) -> list[TicketEvent]:
    """Every event of the ticket, oldest first."""
    query = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(TicketEvent.at, TicketEvent.id)
    )
    return list((await session.scalars(query)).all())


async def answers_between(
    session: AsyncSession, *, start: datetime, end: datetime
) -> Sequence[tuple[Ticket, str]]:
    """The residents' "resolved?" answers given in [start, end] with their tickets, oldest
    first (the morning summary: the last day up to now)."""
    query = (
        select(Ticket, TicketEvent.kind)
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(
            TicketEvent.kind.in_([Happened.RESOLVED.value, Happened.NOT_RESOLVED.value]),
            TicketEvent.at >= start,
            TicketEvent.at <= end,
        )
        .order_by(TicketEvent.at, TicketEvent.id)
    )
    return [(ticket, kind) for ticket, kind in (await session.execute(query)).all()]


async def linked_tickets(session: AsyncSession, *, parent_id: int) -> dict[str, Ticket]:
    """The tickets filed as follow-ups of ``parent_id``, by link (the latest of each)."""
    query = select(Ticket).where(Ticket.parent_id == parent_id).order_by(Ticket.id)
    return {
        ticket.parent_link: ticket
        for ticket in (await session.scalars(query)).all()
        if ticket.parent_link is not None
    }
