"""Ticket repository: registration numbers, tickets, their threads, lookups. The caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import raw
from storage.deadlines import TicketKind
from storage.models import CategoryRoute, Department, Ticket, TicketCounter, TicketMessage
from storage.vocabulary import (
    CATEGORY_QUEUES,
    NUMBER_PREFIXES,
    OPEN_STATUSES,
    MessageDirection,
    Queue,
    TicketStatus,
)

# Kinds with a queue of their own, whatever the category.
FIXED_QUEUES = {TicketKind.INFO_REQUEST: Queue.PUBLIC_INFO, TicketKind.LEGAL_AID: Queue.LEGAL_AID}

NUMBER_DIGITS = 6


async def next_number(session: AsyncSession, *, kind: str, year: int) -> str:
    """The next registration number for ``kind`` in ``year``, e.g. ``ЗІ-2026-000123``.

    An UPDATE … RETURNING takes the row lock, so concurrent filings (several processes on
    PostgreSQL) never get the same number; the first number of a year inserts the row.
    """
    prefix = NUMBER_PREFIXES[kind]
    for _attempt in range(3):
        result = await session.execute(
            update(TicketCounter)
            .where(TicketCounter.prefix == prefix, TicketCounter.year == year)
            .values(last=TicketCounter.last + 1)
            .returning(TicketCounter.last)
        )
        last = result.scalar_one_or_none()
        if last is not None:
            return f"{prefix}-{year}-{last:0{NUMBER_DIGITS}d}"
        try:
            async with session.begin_nested():
                session.add(TicketCounter(prefix=prefix, year=year, last=1))
            return f"{prefix}-{year}-{1:0{NUMBER_DIGITS}d}"
        except IntegrityError:
            # Another transaction created this year's counter first: increment it instead.
            continue
    raise RuntimeError(f"could not allocate a number for {prefix}-{year}")


async def queue_for_category(session: AsyncSession, *, category: str) -> str | None:
    route = await session.get(CategoryRoute, category)
    return route.queue_code if route else None


async def queue_for_new_ticket(
    session: AsyncSession, *, kind: TicketKind, category: str | None
) -> str:
    """The queue a new ticket goes to: public-information requests and legal aid have their own;
    the other kinds go by category (an administrator's route, else the default map)."""
    fixed = FIXED_QUEUES.get(kind)
    if fixed is not None:
        return fixed.value
    category = category or "other"
    routed = await queue_for_category(session, category=category)
    return routed or CATEGORY_QUEUES.get(category, Queue.OTHER).value


async def get_queue(session: AsyncSession, *, code: str) -> Department | None:
    return await session.get(Department, code)


async def list_queues(session: AsyncSession, *, active_only: bool = False) -> Sequence[Department]:
    query = select(Department).order_by(Department.code)
    if active_only:
        query = query.where(Department.is_active.is_(True))
    return (await session.scalars(query)).all()


async def upsert_queue(
    session: AsyncSession,
    *,
    code: str,
    name: str | None = None,
    chat_id: int | None = None,
    clear_chat: bool = False,
    is_active: bool | None = None,
) -> tuple[Department, bool]:
    queue = await session.get(Department, code)
    created = queue is None
    if queue is None:
        queue = Department(code=code, name=name or code, chat_id=chat_id, is_active=True)
        session.add(queue)
    if name is not None:
        queue.name = name
    if chat_id is not None or clear_chat:
        queue.chat_id = chat_id
    if is_active is not None:
        queue.is_active = is_active
    await session.flush()
    return queue, created


async def set_route(session: AsyncSession, *, category: str, queue_code: str) -> None:
    route = await session.get(CategoryRoute, category)
    if route is None:
        session.add(CategoryRoute(category=category, queue_code=queue_code))
    else:
        route.queue_code = queue_code
    await session.flush()


async def list_routes(session: AsyncSession) -> Sequence[CategoryRoute]:
    return (await session.scalars(select(CategoryRoute).order_by(CategoryRoute.category))).all()


def add_message(
    session: AsyncSession,
    ticket: Ticket,
    *,
    direction: MessageDirection,
    now: datetime,
    text: str | None = None,
    author_id: int | None = None,
    attachment: tuple[str, str, str | None] | None = None,
    staff_chat_id: int | None = None,
    staff_message_id: int | None = None,
) -> TicketMessage:
    kind, ref, name = attachment if attachment else (None, None, None)
    message = TicketMessage(
        ticket_id=ticket.id,
        direction=direction.value,
        author_id=author_id,
        text=text,
        attachment_kind=kind,
        attachment_ref=ref,
        attachment_name=name,
        staff_chat_id=staff_chat_id,
        staff_message_id=staff_message_id,
        created_at=now,
    )
    session.add(message)
    ticket.updated_at = now
    return message


async def append_message(
    session: AsyncSession,
    ticket: Ticket,
    *,
    direction: MessageDirection,
    now: datetime,
    text: str | None = None,
    attachment: tuple[str, str, str | None] | None = None,
) -> int:
    """As :func:`add_message`, for a message nobody reads back in this transaction: one
    ``INSERT … RETURNING id`` straight away instead of a unit-of-work flush (the hot path of a
    resident writing to their ticket). Returns the new message's id."""
    kind, ref, name = attachment if attachment else (None, None, None)
    statement = (
        insert(TicketMessage)
        .values(
            ticket_id=ticket.id,
            direction=direction.value,
            text=text,
            attachment_kind=kind,
            attachment_ref=ref,
            attachment_name=name,
            created_at=now,
        )
        .returning(TicketMessage.id)
    )
    message_id = int((await session.execute(statement)).scalar_one())
    ticket.updated_at = now
    return message_id


async def append_to_open_ticket(
    session: AsyncSession,
    *,
    ticket_id: int,
    resident_id: int,
    direction: MessageDirection,
    now: datetime,
    text: str | None,
    attachment: tuple[str, str, str | None] | None,
) -> tuple[int, str] | None:
    """Add a message to the resident's own open ticket and touch the ticket. Returns (message
    id, ticket number); None when the ticket is not theirs or not open (nothing written).

    On PostgreSQL one round trip (the UPDATE and the INSERT as CTEs) instead of three: this is
    what every follow-up of a resident does."""
    pg = await raw.driver(session)
    if pg is not None:
        kind, ref, name = attachment if attachment else (None, None, None)
        row = await pg.fetchrow(
            _APPEND, ticket_id, resident_id, now, _OPEN, direction.value, text, kind, ref, name
        )
        return None if row is None else (int(row[0]), str(row[1]))
    if session.get_bind().dialect.name == "postgresql":
        found = (
            await session.execute(
                _append_statement(ticket_id, resident_id, direction, now, text, attachment)
            )
        ).one_or_none()
        if found is None:
            return None
        message_id, number = found
        return message_id, number
    ticket = await get_resident_ticket(session, ticket_id=ticket_id, resident_id=resident_id)
    if ticket is None or not is_open(ticket):
        return None
    message_id = await append_message(
        session, ticket, direction=direction, now=now, text=text, attachment=attachment
    )
    return message_id, ticket.number


# The append as one statement, in plain SQL for asyncpg (``storage.raw``); the same as
# ``_append_statement``, which serves a transaction that has not begun yet.
_APPEND = """
WITH touched AS (
    UPDATE tickets SET updated_at = $3
    WHERE id = $1 AND resident_id = $2 AND status = ANY($4::varchar[])
    RETURNING id, number
), added AS (
    INSERT INTO ticket_messages
        (ticket_id, direction, text, attachment_kind, attachment_ref, attachment_name, created_at)
    SELECT id, $5, $6, $7, $8, $9, $3 FROM touched
    RETURNING id, ticket_id
)
SELECT added.id, touched.number FROM added JOIN touched ON touched.id = added.ticket_id
"""
_OPEN = [status.value for status in OPEN_STATUSES]


def _append_statement(
    ticket_id: int,
    resident_id: int,
    direction: MessageDirection,
    now: datetime,
    text: str | None,
    attachment: tuple[str, str, str | None] | None,
) -> Select[int, str]:
    kind, ref, name = attachment if attachment else (None, None, None)
    columns = TicketMessage.__table__.c
    touched = (
        update(Ticket)
        .where(
            Ticket.id == ticket_id,
            Ticket.resident_id == resident_id,
            Ticket.status.in_([status.value for status in OPEN_STATUSES]),
        )
        .values(updated_at=now)
        .returning(Ticket.id, Ticket.number)
        .cte("touched")
    )
    values = select(
        touched.c.id,
        literal(direction.value, columns.direction.type),
        literal(text, columns.text.type),
        literal(kind, columns.attachment_kind.type),
        literal(ref, columns.attachment_ref.type),
        literal(name, columns.attachment_name.type),
        literal(now, columns.created_at.type),
    )
    added = (
        insert(TicketMessage)
        .from_select(
            [
                "ticket_id",
                "direction",
                "text",
                "attachment_kind",
                "attachment_ref",
                "attachment_name",
                "created_at",
            ],
            values,
        )
        .returning(TicketMessage.id, TicketMessage.ticket_id)
        .cte("added")
    )
    return select(added.c.id, touched.c.number).join_from(
        added, touched, touched.c.id == added.c.ticket_id
    )


async def get_ticket(
    session: AsyncSession, *, ticket_id: int, for_update: bool = False
) -> Ticket | None:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        # PostgreSQL: serialise work on one ticket across processes (SQLite has one writer).
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def get_ticket_by_number(session: AsyncSession, *, number: str) -> Ticket | None:
    normalized = number.strip().upper()
    return (await session.scalars(select(Ticket).where(Ticket.number == normalized))).one_or_none()


async def get_resident_ticket(
    session: AsyncSession, *, ticket_id: int, resident_id: int
) -> Ticket | None:
    """A ticket only if it belongs to this resident: residents never see others' tickets."""
    query = select(Ticket).where(Ticket.id == ticket_id, Ticket.resident_id == resident_id)
    return (await session.scalars(query)).one_or_none()


async def resident_tickets(
    session: AsyncSession, *, resident_id: int, limit: int = 10
) -> Sequence[Ticket]:
    query = (
        select(Ticket)
        .where(Ticket.resident_id == resident_id)
        .order_by(Ticket.received_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def thread(session: AsyncSession, *, ticket_id: int, limit: int = 20) -> list[TicketMessage]:
    """The last ``limit`` messages of a ticket's thread, oldest first."""
    query = (
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket_id)
        .order_by(TicketMessage.id.desc())
        .limit(limit)
    )
    return list(reversed((await session.scalars(query)).all()))


async def ticket_by_staff_message(
    session: AsyncSession, *, chat_id: int, message_id: int
) -> Ticket | None:
    """The ticket whose card or thread message is ``message_id`` in the staff chat."""
    card = await session.scalars(
        select(Ticket).where(Ticket.staff_chat_id == chat_id, Ticket.card_message_id == message_id)
    )
    found = card.one_or_none()
    if found is not None:
        return found
    query = (
        select(Ticket)
        .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
        .where(TicketMessage.staff_chat_id == chat_id, TicketMessage.staff_message_id == message_id)
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()


async def ticket_by_thread(session: AsyncSession, *, chat_id: int, thread_id: int) -> Ticket | None:
    query = select(Ticket).where(Ticket.staff_chat_id == chat_id, Ticket.thread_id == thread_id)
    return (await session.scalars(query)).one_or_none()


async def count_filed_since(session: AsyncSession, *, resident_id: int, since: datetime) -> int:
    query = (
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.resident_id == resident_id, Ticket.received_at >= since)
    )
    return int(await session.scalar(query) or 0)


async def open_tickets(session: AsyncSession) -> Sequence[Ticket]:
    query = select(Ticket).where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    return (await session.scalars(query.order_by(Ticket.deadline_at))).all()


def personal_fields(ticket: Ticket) -> dict[str, Any]:
    return {
        "full_name": ticket.full_name,
        "address": ticket.address,
        "contact": ticket.contact,
        "subject": ticket.subject,
        "body": ticket.body,
        "urgent_reason": ticket.urgent_reason,
        "rating_comment": ticket.rating_comment,
    }


def is_open(ticket: Ticket) -> bool:
    return TicketStatus(ticket.status) in OPEN_STATUSES


async def count_shown_messages(session: AsyncSession, *, ticket_id: int) -> int:
    """How many messages of the thread a resident sees (their own and staff answers)."""
    query = (
        select(func.count())
        .select_from(TicketMessage)
        .where(
            TicketMessage.ticket_id == ticket_id,
            TicketMessage.direction.in_(
                [MessageDirection.RESIDENT.value, MessageDirection.STAFF.value]
            ),
        )
    )
    return int(await session.scalar(query) or 0)


async def shown_messages(
    session: AsyncSession, *, ticket_id: int, limit: int
) -> list[TicketMessage]:
    """The last ``limit`` messages a resident sees, oldest first."""
    query = (
        select(TicketMessage)
        .where(
            TicketMessage.ticket_id == ticket_id,
            TicketMessage.direction.in_(
                [MessageDirection.RESIDENT.value, MessageDirection.STAFF.value]
            ),
        )
        .order_by(TicketMessage.id.desc())
        .limit(limit)
    )
    return list(reversed((await session.scalars(query)).all()))
