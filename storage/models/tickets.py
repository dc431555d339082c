"""Tickets and what hangs on them: department queues and routes, registration counters, the
thread, the timeline, copies in staff chats, templates, the files residents sent, and the
keywords of the category suggester."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import ONLY_ON, Base, BigId
from storage.textfold import fold_fields


class Department(Base):
    """A queue: the department that answers a kind of ticket, in its own Telegram chat (or the
    operator chat when ``chat_id`` is empty)."""

    __tablename__ = "queues"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class CategoryRoute(Base):
    """Which queue a resident-chosen category goes to."""

    __tablename__ = "category_routes"

    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    queue_code: Mapped[str] = mapped_column(String(32), ForeignKey("queues.code"))


class TicketCounter(Base):
    """The last registration number per prefix and year (ЗІ-2026-000123)."""

    __tablename__ = "ticket_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    resident_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    queue_code: Mapped[str] = mapped_column(String(32), ForeignKey("queues.code"), index=True)
    category: Mapped[str | None] = mapped_column(String(32))
    # The category the keyword suggester proposed when the ticket was filed (None: no
    # suggestion was made), kept beside the final one so its accuracy in real use is measured
    # (``citybot keywords report``).
    suggested_category: Mapped[str | None] = mapped_column(String(32))
    appeal_type: Mapped[str | None] = mapped_column(String(16))
    appeal_term: Mapped[str | None] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent_reason: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # Personal data, erased by /forget (the council keeps number, kind, dates and status).
    full_name: Mapped[str | None] = mapped_column(String(256))
    address: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(256))
    subject: Mapped[str | None] = mapped_column(String(256))
    body: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    extended_at: Mapped[datetime | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    refusal_ground: Mapped[str | None] = mapped_column(String(32))
    refusal_comment: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    taken_at: Mapped[datetime | None]
    # Indexed for the 30-day medians of the dashboard and /stats (migration 0017).
    first_answer_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    # The resident's answer to "Питання вирішено?" after the last closing: "resolved" or
    # "not_resolved"; None while not asked or not answered (cleared at every closing).
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolution_at: Mapped[datetime | None]
    # A ticket filed because the resident said the first one was not resolved: the first
    # ticket, and how this one follows it ("repeated", "complaint", "new_request").
    parent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    parent_link: Mapped[str | None] = mapped_column(String(16))
    erased_at: Mapped[datetime | None]
    # The number, name, subject and text folded for search (``storage.textfold``), kept by the
    # mapper events below on every ORM insert and update: erasing the text erases it here too.
    search_text: Mapped[str | None] = mapped_column(Text)
    # Where the ticket lives in Telegram: the chat, its forum topic, and the card message.
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket",
        cascade="all, delete-orphan",
        order_by="TicketMessage.id",
        lazy="raise",
    )


class TicketMessage(Base):
    """One message of a ticket's thread: the resident's, a staff answer, a note, a notice."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    attachment_kind: Mapped[str | None] = mapped_column(String(16))
    attachment_ref: Mapped[str | None] = mapped_column(Text)
    attachment_name: Mapped[str | None] = mapped_column(String(256))
    # The copy of this message in the staff chat, so a reply to it finds the ticket.
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_message_id: Mapped[int | None] = mapped_column(BigInteger)
    delivery_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    ticket: Mapped[Ticket] = relationship(back_populates="messages")


class TicketEvent(Base):
    """One step of a ticket's life as the resident's timeline shows it: taken (by which
    department), handed over, extended (to which date), answered, closed, refused, the
    resident's "resolved?" answer, reopened, followed by a linked ticket. No free text is kept
    here (the reason of an extension stays on the ticket, where /forget erases it)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(24))
    # The ticket's department at that moment (the one that took it, or received it).
    queue_code: Mapped[str | None] = mapped_column(String(32))
    staff_id: Mapped[int | None] = mapped_column(BigInteger)
    # The new deadline (extended) or the linked ticket (refiled).
    deadline_at: Mapped[datetime | None]
    other_ticket_id: Mapped[int | None] = mapped_column(BigId)


Index(
    "ix_ticket_messages_staff_message", TicketMessage.staff_chat_id, TicketMessage.staff_message_id
)


class SentTicketMessage(Base):
    """A message we sent a resident about one of their tickets (a staff answer, a notice), by
    its id in the resident's messenger: a resident who replies to it (Telegram's Reply) is
    writing about that ticket. One row per message sent (a long answer is several)."""

    __tablename__ = "sent_ticket_messages"

    resident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    # "answer" (a staff answer) or "notice" (taken, extended, closed…).
    kind: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime]


Index("ix_tickets_thread", Ticket.staff_chat_id, Ticket.thread_id)
# The desk's Queues screen: open tickets by deadline (storage/desk/queue.py). Partial, so the
# closed tickets of years past (most rows, with the earliest deadlines) are not walked through;
# the queries name the open statuses as literals in this order, which is what lets SQLite and
# PostgreSQL's generic plans prove the predicate.
OPEN_PREDICATE = "status IN ('answered', 'in_progress', 'new')"
Index(
    "ix_tickets_open_deadline",
    Ticket.deadline_at,
    Ticket.id,
    postgresql_where=sql_text(OPEN_PREDICATE),
    sqlite_where=sql_text(OPEN_PREDICATE),
)
# The open tickets by department, deadline and assignee (migration 0018): the desk's counts
# per department (open, overdue, due soon, unassigned) read this, not every ticket.
Index(
    "ix_tickets_open_queue",
    Ticket.queue_code,
    Ticket.deadline_at,
    Ticket.assignee_id,
    postgresql_where=sql_text(OPEN_PREDICATE),
    sqlite_where=sql_text(OPEN_PREDICATE),
)
# Substring search over the folded text on PostgreSQL (pg_trgm, created by migration 0017 when
# the server has the extension); SQLite scans.
Index(
    "ix_tickets_search_text_trgm",
    Ticket.search_text,
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
    info={ONLY_ON: "postgresql"},
).ddl_if(dialect="postgresql")

SEARCHED_TICKET_FIELDS = ("number", "full_name", "subject", "body")


def ticket_search_text(ticket: Ticket) -> str:
    return fold_fields(getattr(ticket, name) for name in SEARCHED_TICKET_FIELDS)


@event.listens_for(Ticket, "before_insert")
def _fold_new_ticket_text(_mapper: Any, _connection: Any, ticket: Ticket) -> None:
    ticket.search_text = ticket_search_text(ticket)


@event.listens_for(Ticket, "before_update")
def _fold_ticket_text(_mapper: Any, _connection: Any, ticket: Ticket) -> None:
    """Keep ``search_text`` in step with the fields it folds (erasure, any edit)."""
    state = inspect(ticket)
    if any(state.attrs[name].history.has_changes() for name in SEARCHED_TICKET_FIELDS):
        ticket.search_text = ticket_search_text(ticket)


class Template(Base):
    """A canned answer staff send with ``/t NAME``."""

    __tablename__ = "templates"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class DeskPost(Base):
    """A bot message in a staff chat that belongs to a ticket but is neither its card nor a copy
    of a thread message: the rest of a long text, notices to staff, and prompts (ForceReply)
    waiting for a staff member's answer. A reply to any of them finds the ticket, and a prompt's
    pending action (extend, refuse) survives a restart."""

    __tablename__ = "desk_posts"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ticket_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    # "text" (part of a long text), "notice", "prompt", "rating".
    purpose: Mapped[str] = mapped_column(String(16))
    # For prompts: the staff action the answer completes ("extend", "refuse").
    action: Mapped[str | None] = mapped_column(String(32))
    staff_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    # A prompt that was answered (or abandoned) is done; a second answer is refused.
    done_at: Mapped[datetime | None]


class KeptFile(Base):
    """A copy of a file a resident sent through Viber, downloaded when it arrived: Viber's media
    URLs expire (signed CDN links, about an hour), so the copy is what staff get and what a
    ticket's attachment (``kept:<id>``) names. Kept in the database, with everything else a
    resident gave us: one backup, one erasure (``/forget`` deletes the resident's rows), both
    databases. At most ``storage.kept_files.MAX_BYTES`` each."""

    __tablename__ = "kept_files"
    __table_args__ = (UniqueConstraint("channel", "update_key", name="uq_kept_files_update"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Whose file: the messenger identity (the resident row may not exist yet on first contact).
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    # The delivery it came with: a redelivered callback finds the copy instead of a second one.
    update_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(256))
    mime_type: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Loaded only when asked for (``undefer``): listing or checking files never reads the bytes.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime]


Index("ix_kept_files_owner", KeptFile.channel, KeptFile.external_id)


class CategoryKeyword(Base):
    """A keyword or phrase of a category's list for the category suggester
    (``storage.classifier``). Data, not code: seeded from ``storage/data/category_keywords.json``
    at the first use, then changed by administrators (``citybot keywords``)."""

    __tablename__ = "category_keywords"
    __table_args__ = (UniqueConstraint("category", "phrase", name="uq_category_keywords_term"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    # Lower-case, single spaces, one kind of apostrophe (``storage.keyword_store.normalize``).
    phrase: Mapped[str] = mapped_column(String(200))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime]
    # "default" (from the shipped list) or who added it ("cli", "staff:123").
    created_by: Mapped[str] = mapped_column(String(64))
