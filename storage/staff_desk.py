"""Repository functions of the staff desk (the operator side in Telegram): where a ticket lives in
the staff chats, prompts waiting for a staff answer, canned answers. The caller commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage import raw
from storage.desk.search import search_clause
from storage.models import Department, DeskPost, Resident, Template, Ticket, TicketMessage
from storage.tickets import ticket_by_staff_message
from storage.vocabulary import OPEN_STATUSES, MessageDirection

PURPOSE_TEXT = "text"
PURPOSE_NOTICE = "notice"
PURPOSE_PROMPT = "prompt"
PURPOSE_RATING = "rating"

TEMPLATE_NAME_MAX = 64


async def is_staff_chat(
    session: AsyncSession, *, chat_id: int, operator_chat_id: int | None
) -> bool:
    """The operator chat or the chat of any queue (queues are edited at runtime, so this asks
    the database every time)."""
    if operator_chat_id is not None and chat_id == operator_chat_id:
        return True
    query = select(exists().where(Department.chat_id == chat_id))
    return bool(await session.scalar(query))


async def chat_of_queue(
    session: AsyncSession, *, code: str, operator_chat_id: int | None
) -> int | None:
    """The chat a queue's tickets are posted in: its own, else the operator chat."""
    queue = await session.get(Department, code)
    if queue is not None and queue.chat_id is not None:
        return queue.chat_id
    return operator_chat_id


async def lock_ticket(session: AsyncSession, *, ticket_id: int) -> Ticket | None:
    """The ticket with its row locked for this transaction (PostgreSQL; SQLite has one writer)
    and its attributes read again under the lock, even if the session had loaded it before."""
    query = (
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one_or_none()


# Built once (the staff copy of every follow-up runs it; building it cost more CPU than running).
_LOCK_WITH_UNPOSTED = (
    select(Ticket, Resident.name, TicketMessage)
    .outerjoin(Resident, Resident.id == Ticket.resident_id)
    .outerjoin(
        TicketMessage,
        and_(
            TicketMessage.ticket_id == Ticket.id,
            TicketMessage.direction == MessageDirection.RESIDENT.value,
            TicketMessage.staff_message_id.is_(None),
        ),
    )
    .where(Ticket.id == bindparam("ticket_id"))
    .order_by(TicketMessage.id)
    .limit(bindparam("limit"))
    .with_for_update(of=Ticket)
)


async def lock_ticket_with_unposted(
    session: AsyncSession, *, ticket_id: int, limit: int
) -> tuple[Ticket, str | None, list[TicketMessage]] | None:
    """The ticket with its row locked (as :func:`storage.tickets.get_ticket` ``for_update``),
    its resident's stored name and the resident's messages not yet copied to the staff chat
    (oldest first, at most ``limit``), in one round trip: the staff copy of every follow-up needs
    all three."""
    rows = (
        await session.execute(_LOCK_WITH_UNPOSTED, {"ticket_id": ticket_id, "limit": limit})
    ).all()
    if not rows:
        return None
    ticket, name = rows[0][0], rows[0][1]
    return ticket, name, [message for _, _, message in rows if message is not None]


async def mark_posted(
    session: AsyncSession, message: TicketMessage, *, chat_id: int, message_id: int
) -> bool:
    """Record where the resident's ``message`` was copied in the staff chat (one UPDATE; the
    staff copy of every follow-up ends with it). False when it was recorded copied meanwhile
    (``lone_unposted``'s path, in another process): the caller's copy is one too many."""
    pg = await raw.driver(session)
    if pg is None:
        message.staff_chat_id = chat_id
        message.staff_message_id = message_id
        return True
    marked = await mark_posted_once(pg, message_id=message.id, chat_id=chat_id, sent_id=message_id)
    if marked:
        # The object agrees with the row, and the session has nothing left to write for it.
        set_committed_value(message, "staff_chat_id", chat_id)
        set_committed_value(message, "staff_message_id", message_id)
    return marked


async def mark_posted_once(pg: Any, *, message_id: int, chat_id: int, sent_id: int) -> bool:
    """Record the copy ``sent_id`` of message ``message_id`` unless one is recorded already
    (asyncpg ``pg``); whether it was recorded."""
    return await pg.fetchval(_MARK_POSTED, chat_id, sent_id, message_id) is not None


_MARK_POSTED = (
    "UPDATE ticket_messages SET staff_chat_id = $1, staff_message_id = $2 "
    "WHERE id = $3 AND staff_message_id IS NULL RETURNING 1"
)
_TICKET_COLUMNS = tuple(column.key for column in Ticket.__table__.columns)
_MESSAGE_COLUMNS = tuple(column.key for column in TicketMessage.__table__.columns)
# A resident's message with its ticket and the resident's name, when no other message of the
# ticket waits to be copied (the copies keep the order the resident wrote in).
_LONE_UNPOSTED = f"""
SELECT {", ".join(f"t.{key}" for key in _TICKET_COLUMNS)}, r.name,
    {", ".join(f"m.{key}" for key in _MESSAGE_COLUMNS)}
FROM ticket_messages m
JOIN tickets t ON t.id = m.ticket_id
LEFT JOIN residents r ON r.id = t.resident_id
WHERE m.id = $1 AND m.direction = $2 AND m.staff_message_id IS NULL
    AND NOT EXISTS (
        SELECT 1 FROM ticket_messages o
        WHERE o.ticket_id = m.ticket_id AND o.direction = $2 AND o.staff_message_id IS NULL
            AND o.id <> m.id
    )
"""


async def lone_unposted(
    pg: Any, *, message_id: int
) -> tuple[Ticket, str | None, TicketMessage] | None:
    """The resident's message ``message_id``, not yet copied to the staff chat, when it is the
    only one of its ticket waiting, with the ticket and the resident's stored name, read by the
    asyncpg connection ``pg`` outside any transaction (no BEGIN and COMMIT, no row lock: the
    copy is recorded with ``mark_posted_once``, which tells a copy made twice). None otherwise.

    The ticket and the message are transient objects, every column set: the copy reads them."""
    row = await pg.fetchrow(_LONE_UNPOSTED, message_id, MessageDirection.RESIDENT.value)
    if row is None:
        return None
    values = list(row)
    width = len(_TICKET_COLUMNS)
    ticket = Ticket(**dict(zip(_TICKET_COLUMNS, values[:width], strict=True)))
    name = values[width]
    message = TicketMessage(**dict(zip(_MESSAGE_COLUMNS, values[width + 1 :], strict=True)))
    return ticket, name, message


async def tickets_without_card(
    session: AsyncSession, *, limit: int, with_chat_only: bool = False
) -> Sequence[Ticket]:
    """Open tickets whose card never reached a staff chat (Telegram was down, or just filed).

    ``with_chat_only``: only tickets whose queue has its own chat (when there is no operator
    chat to fall back to, the others have nowhere to go and would only fill the batch).
    """
    query = select(Ticket).where(
        Ticket.card_message_id.is_(None),
        Ticket.status.in_([status.value for status in OPEN_STATUSES]),
    )
    if with_chat_only:
        query = query.join(Department, Department.code == Ticket.queue_code).where(
            Department.chat_id.is_not(None)
        )
    return (await session.scalars(query.order_by(Ticket.id).limit(limit))).all()


async def tickets_with_unposted_messages(
    session: AsyncSession, *, limit: int, with_chat_only: bool = False
) -> list[int]:
    """Ids of tickets that have resident messages not yet shown to staff (``with_chat_only``:
    as in :func:`tickets_without_card`)."""
    query = select(TicketMessage.ticket_id).where(
        TicketMessage.direction == MessageDirection.RESIDENT.value,
        TicketMessage.staff_message_id.is_(None),
    )
    if with_chat_only:
        query = (
            query.join(Ticket, Ticket.id == TicketMessage.ticket_id)
            .join(Department, Department.code == Ticket.queue_code)
            .where(Department.chat_id.is_not(None))
        )
    query = query.group_by(TicketMessage.ticket_id).order_by(TicketMessage.ticket_id).limit(limit)
    return [int(ticket_id) for ticket_id in (await session.scalars(query)).all()]


async def resident_attachments(
    session: AsyncSession, *, ticket_id: int, limit: int
) -> Sequence[TicketMessage]:
    query = (
        select(TicketMessage)
        .where(
            TicketMessage.ticket_id == ticket_id,
            TicketMessage.direction == MessageDirection.RESIDENT.value,
            TicketMessage.attachment_kind.is_not(None),
        )
        .order_by(TicketMessage.id)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def forget_staff_copies(session: AsyncSession, *, ticket_id: int) -> None:
    """After a hand-over: the new queue's chat gets the thread again, and nothing in the old
    chat leads to the ticket any more."""
    await session.execute(
        update(TicketMessage)
        .where(TicketMessage.ticket_id == ticket_id)
        .values(staff_chat_id=None, staff_message_id=None)
    )
    await session.execute(delete(DeskPost).where(DeskPost.ticket_id == ticket_id))


def remember_post(
    session: AsyncSession,
    *,
    chat_id: int,
    message_id: int,
    ticket_id: int,
    purpose: str,
    now: datetime,
    action: str | None = None,
    staff_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> DeskPost:
    post = DeskPost(
        chat_id=chat_id,
        message_id=message_id,
        ticket_id=ticket_id,
        purpose=purpose,
        action=action,
        staff_id=staff_id,
        data=data or {},
        created_at=now,
    )
    session.add(post)
    return post


async def get_post(session: AsyncSession, *, chat_id: int, message_id: int) -> DeskPost | None:
    return await session.get(DeskPost, (chat_id, message_id))


async def last_post(session: AsyncSession, *, ticket_id: int, purpose: str) -> DeskPost | None:
    query = (
        select(DeskPost)
        .where(DeskPost.ticket_id == ticket_id, DeskPost.purpose == purpose)
        .order_by(DeskPost.created_at.desc(), DeskPost.message_id.desc())
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()


async def ticket_for_message(
    session: AsyncSession, *, chat_id: int, message_id: int
) -> Ticket | None:
    """The ticket whose card, thread message or desk post is ``message_id`` in ``chat_id``."""
    found = await ticket_by_staff_message(session, chat_id=chat_id, message_id=message_id)
    if found is not None:
        return found
    post = await get_post(session, chat_id=chat_id, message_id=message_id)
    if post is None:
        return None
    return await session.get(Ticket, post.ticket_id)


async def search_tickets(
    session: AsyncSession, *, text: str, limit: int, departments: Collection[str] | None = None
) -> Sequence[Ticket]:
    """Tickets whose number, name, subject or text contains ``text``, or whose resident is so
    named, in any letter case and apostrophe spelling, on both databases (the desk's search:
    ``storage.desk.search``), the newest first; only of ``departments`` when given (None: every
    department)."""
    clause = search_clause(text, dialect=session.get_bind().dialect.name)
    if clause is None:
        return []
    query = select(Ticket).where(clause)
    if departments is not None:
        query = query.where(Ticket.queue_code.in_(departments))
    query = query.order_by(Ticket.received_at.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def list_templates(session: AsyncSession, *, limit: int = 100) -> Sequence[Template]:
    return (await session.scalars(select(Template).order_by(Template.name).limit(limit))).all()


async def get_template(session: AsyncSession, *, name: str) -> Template | None:
    return await session.get(Template, name.lower())


async def save_template(
    session: AsyncSession, *, name: str, text: str, now: datetime
) -> tuple[Template, bool]:
    """Add a canned answer or replace its text; returns ``(template, created)``."""
    key = name.lower()
    template = await session.get(Template, key)
    if template is None:
        template = Template(name=key, text=text, created_at=now)
        session.add(template)
        await session.flush()
        return template, True
    template.text = text
    return template, False


async def delete_template(session: AsyncSession, *, name: str) -> bool:
    template = await session.get(Template, name.lower())
    if template is None:
        return False
    await session.delete(template)
    await session.flush()
    return True


async def forget_staff_places(session: AsyncSession) -> int:
    """Open tickets as if never posted to a staff chat, so the desk's catch-up posts them again
    (card, topic, the residents' messages) into the chat their queue uses. For a staff chat
    whose history is gone: the sandbox's stand-in keeps chats in memory only. Returns the
    tickets affected."""
    open_ids = (
        select(Ticket.id)
        .where(
            Ticket.status.in_([status.value for status in OPEN_STATUSES]),
            Ticket.card_message_id.is_not(None) | Ticket.thread_id.is_not(None),
        )
        .scalar_subquery()
    )
    await session.execute(
        update(TicketMessage)
        .where(TicketMessage.ticket_id.in_(open_ids))
        .values(staff_chat_id=None, staff_message_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(DeskPost)
        .where(DeskPost.ticket_id.in_(open_ids))
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id.in_(open_ids))
        .values(thread_id=None, card_message_id=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
