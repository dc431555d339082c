"""What the web desk's live feed reads: everything that happened since its cursors, in one
query for every subscriber together, and the typing pings behind "Марія відповідає…".

Four append-only sources, each read by id: new tickets, thread messages, ticket events (taken,
answered, closed, extended, handed over…) and typing pings. Each row comes joined with its
ticket's current number, status, department and assignee and with the acting staff member's
display name, so a change of status or assignee arrives with the event that caused it. No
resident's personal data is read here: pages fetch what they show with their own checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import DeskPresence, Staff, StaffSession, Ticket, TicketEvent, TicketMessage


class Source(StrEnum):
    TICKET = "ticket"
    MESSAGE = "message"
    EVENT = "event"
    PRESENCE = "presence"


_TABLES: dict[
    Source, type[Ticket] | type[TicketMessage] | type[TicketEvent] | type[DeskPresence]
] = {
    Source.TICKET: Ticket,
    Source.MESSAGE: TicketMessage,
    Source.EVENT: TicketEvent,
    Source.PRESENCE: DeskPresence,
}

# Pings older than this are deleted by the next ping (the page shows one for 20 s).
PRESENCE_KEPT = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Change:
    """One row of a source with its ticket as it is now."""

    source: Source
    row_id: int
    ticket_id: int
    # The event's kind (taken, answered…) or the message's direction (resident, staff, note…).
    detail: str | None
    staff_id: int | None
    # The department an event happened in (a ticket handed over leaves it).
    other_queue: str | None
    actor: str | None
    number: str
    status: str
    queue_code: str
    ticket_kind: str
    assignee_id: int | None
    assignee: str | None
    deadline_at: datetime | None


async def heads(session: AsyncSession) -> dict[Source, int]:
    """The last id of each source (0 when empty): where a new feed starts reading."""
    row = (
        await session.execute(
            select(
                *(
                    select(func.coalesce(func.max(table.id), 0)).scalar_subquery()
                    for table in _TABLES.values()
                )
            )
        )
    ).one()
    return {source: int(value) for source, value in zip(_TABLES, row, strict=True)}


async def changes_after(session: AsyncSession, after: Mapping[Source, int]) -> list[Change]:
    """Every row past ``after`` in each source, oldest first within a source: one query."""
    rows = union_all(
        select(
            literal_column("'ticket'").label("source"),
            Ticket.id.label("row_id"),
            Ticket.id.label("ticket_id"),
            null().label("detail"),
            null().label("staff_id"),
            null().label("other_queue"),
        ).where(Ticket.id > after[Source.TICKET]),
        select(
            literal_column("'message'"),
            TicketMessage.id,
            TicketMessage.ticket_id,
            TicketMessage.direction,
            TicketMessage.author_id,
            null(),
        ).where(TicketMessage.id > after[Source.MESSAGE]),
        select(
            literal_column("'event'"),
            TicketEvent.id,
            TicketEvent.ticket_id,
            TicketEvent.kind,
            TicketEvent.staff_id,
            TicketEvent.queue_code,
        ).where(TicketEvent.id > after[Source.EVENT]),
        select(
            literal_column("'presence'"),
            DeskPresence.id,
            DeskPresence.ticket_id,
            null(),
            DeskPresence.staff_id,
            null(),
        ).where(DeskPresence.id > after[Source.PRESENCE]),
    ).subquery("changed")
    actor = aliased(Staff, name="actor")
    assignee = aliased(Staff, name="assignee")
    query = (
        select(
            rows.c.source,
            rows.c.row_id,
            rows.c.ticket_id,
            rows.c.detail,
            rows.c.staff_id,
            rows.c.other_queue,
            func.coalesce(actor.name, actor.login),
            Ticket.number,
            Ticket.status,
            Ticket.queue_code,
            Ticket.kind,
            Ticket.assignee_id,
            func.coalesce(assignee.name, assignee.login),
            Ticket.deadline_at,
        )
        .join(Ticket, Ticket.id == rows.c.ticket_id)
        .outerjoin(actor, actor.id == rows.c.staff_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
        .order_by(rows.c.source, rows.c.row_id)
    )
    return [
        Change(
            source=Source(source),
            row_id=int(row_id),
            ticket_id=int(ticket_id),
            detail=detail,
            staff_id=None if staff_id is None else int(staff_id),
            other_queue=other_queue,
            actor=actor_name,
            number=number,
            status=status,
            queue_code=queue_code,
            ticket_kind=kind,
            assignee_id=assignee_id,
            assignee=assignee_name,
            deadline_at=deadline_at,
        )
        for (
            source,
            row_id,
            ticket_id,
            detail,
            staff_id,
            other_queue,
            actor_name,
            number,
            status,
            queue_code,
            kind,
            assignee_id,
            assignee_name,
            deadline_at,
        ) in (await session.execute(query)).all()
    ]


async def ping_presence(
    session: AsyncSession, *, ticket_id: int, staff_id: int, now: datetime
) -> None:
    """Someone types in the ticket's answer box; old pings go."""
    await session.execute(delete(DeskPresence).where(DeskPresence.at < now - PRESENCE_KEPT))
    session.add(DeskPresence(ticket_id=ticket_id, staff_id=staff_id, at=now))


async def session_alive(
    session: AsyncSession,
    token_hash: str,
    *,
    now: datetime,
    idle: timedelta,
    lifetime: timedelta,
) -> bool:
    """Whether a desk session still stands (its account enabled, within both timeouts), read
    only: an open live stream is not activity, so it does not keep the session from idling."""
    query = (
        select(StaffSession.last_seen_at, StaffSession.created_at, Staff.disabled_at)
        .join(Staff, Staff.id == StaffSession.staff_id)
        .where(StaffSession.token_hash == token_hash)
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return False
    last_seen, created, disabled = row
    return disabled is None and now - last_seen <= idle and now - created <= lifetime


async def ticket_queue(session: AsyncSession, ticket_id: int) -> str | None:
    """The ticket's department (None: no such ticket), for the department checks."""
    return await session.scalar(select(Ticket.queue_code).where(Ticket.id == ticket_id))
