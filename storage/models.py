"""The persistent domain model (SQLAlchemy 2, typed), identical on SQLite and PostgreSQL.

Every timestamp is timezone-aware UTC. SQLite has no time zone type, so ``UTCDateTime`` attaches
UTC on the way out; PostgreSQL stores ``timestamptz``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so Alembic migrations are the same on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Resident(Base):
    """One messenger identity of a resident (a person on both messengers is two rows)."""

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_residents_identity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str] = mapped_column(String(8), default="uk")
    consent_at: Mapped[datetime | None]
    policy_version: Mapped[str | None] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(16), default="instant")
    # The resident wants news pushes (``/stop`` turns this off; they may still use the bot).
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    # The messenger can reach them: False after "blocked by the user" / Viber unsubscribe.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    blocked_at: Mapped[datetime | None]
    onboarded_at: Mapped[datetime | None]
    # Banned from filing new tickets (by staff, with /ban in a ticket's thread).
    banned_at: Mapped[datetime | None]
    banned_by: Mapped[int | None] = mapped_column(BigInteger)
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # The news a daily/weekly digest covers starts here (None: since the resident subscribed).
    last_digest_at: Mapped[datetime | None]
    # One person in both messengers (storage/linking.py): this row is an alias identity of the
    # primary resident ``linked_to``, which owns every setting, ticket and vote; None for a
    # primary or an unlinked resident. No foreign key (residents are never deleted, and adding
    # one would make SQLite rebuild the table); a unique index allows one alias per primary.
    linked_to: Mapped[int | None] = mapped_column(BigId)
    # On a primary: the messenger news and staff answers go to (None: its own ``channel``).
    preferred_channel: Mapped[str | None] = mapped_column(String(16))

    topics: Mapped[list[ResidentTopic]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def topic_codes(self) -> frozenset[str]:
        return frozenset(item.topic for item in self.topics)

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None


class ResidentTopic(Base):
    """A resident's subscription to one news topic; a table (not a JSON list) so broadcasts can
    select their audience in SQL."""

    __tablename__ = "resident_topics"

    resident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)

    resident: Mapped[Resident] = relationship(back_populates="topics")


Index("ix_resident_topics_topic", ResidentTopic.topic)
# Partial: only the few aliases are indexed, and planning reads the rest with a plain scan.
Index(
    "uq_residents_linked_to",
    Resident.linked_to,
    unique=True,
    postgresql_where=sql_text("linked_to IS NOT NULL"),
    sqlite_where=sql_text("linked_to IS NOT NULL"),
)


class Staff(Base):
    __tablename__ = "staff"

    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]


class ConversationState(Base):
    """Where a resident is in a guided flow; in the database so restarts and several processes
    share it."""

    __tablename__ = "conversation_states"

    resident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class ProcessedUpdate(Base):
    """An incoming update already handled; its primary key makes a redelivery a no-op."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(index=True)
    # The replies not yet sent for this update (handlers.owed), cleared once they went out; a
    # job sends what a process that died left here.
    owed: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (
        Index(
            "ix_processed_updates_owed",
            "processed_at",
            postgresql_where=sql_text("owed IS NOT NULL"),
            sqlite_where=sql_text("owed IS NOT NULL"),
        ),
    )


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


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
    first_answer_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
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


class Template(Base):
    """A canned answer staff send with ``/t NAME``."""

    __tablename__ = "templates"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Holiday(Base):
    """A public holiday (data, not code: administrators may change the list)."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))


class AppSetting(Base):
    """Small runtime switches kept in the database (e.g. martial law)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


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


class Broadcast(Base):
    """A message pushed to many residents (news, an urgent notice): what to send and to whom.

    Its recipients are planned into ``deliveries`` in one statement; the engine works from there.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # news | digest (one per digest run; each delivery carries its resident's own ``body``) |
    # poll | poll_results
    kind: Mapped[str] = mapped_column(String(16), default="news", server_default="news")
    title: Mapped[str | None] = mapped_column(String(256))
    # Catalog-free markup (b, i; values from people already escaped), as in ``Reply.text``.
    text: Mapped[str] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(16))
    media_ref: Mapped[str | None] = mapped_column(Text)
    media_name: Mapped[str | None] = mapped_column(String(256))
    # Empty lists mean "no filter" (every topic / the whole city / every channel).
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    # draft → (awaiting_approval →) scheduled | sending → finished; or cancelled (then
    # finished_at when nothing is in flight).
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    created_at: Mapped[datetime]
    # When a scheduled broadcast starts; None for "send now".
    scheduled_at: Mapped[datetime | None]
    # The second editor under the two-person rule (None when the rule is off).
    approved_by: Mapped[int | None] = mapped_column(BigInteger)
    approved_at: Mapped[datetime | None]
    # Where it came from: None (composed by hand) or "rss" with the item's link in source_ref.
    source: Mapped[str | None] = mapped_column(String(16))
    source_ref: Mapped[str | None] = mapped_column(Text)
    # The composer's message in the operator chat that shows live progress and the Cancel button.
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Final counts, recorded once when the broadcast finishes (progress is computed live).
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    blocked_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_count: Mapped[int] = mapped_column(Integer, default=0)
    # Buttons every recipient gets under the text (a poll's options): rows of [label, action].
    buttons: Mapped[list[list[list[str]]] | None] = mapped_column(JSON)


class Delivery(Base):
    """One recipient of one broadcast: the persistent queue the delivery engine works from."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "resident_id", name="uq_deliveries_recipient"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign keys: PostgreSQL checks one with a trigger per inserted row, which made most of
    # the cost of planning a million recipients. Broadcasts and residents are never deleted
    # (``/forget`` erases a resident's data, not the row), and planning reads both in the same
    # statement that writes the deliveries (migration 0007).
    broadcast_id: Mapped[int] = mapped_column(BigId)
    resident_id: Mapped[int | None] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    # pending | sending | sent | failed | blocked | cancelled
    state: Mapped[str] = mapped_column(String(16))
    # Failed attempts (transient errors); a 429 is not a failure and counts in ``deferrals``.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    deferrals: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime]
    # While ``sending``: the claim is valid until then; past it the delivery is pending again.
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(64))
    # A text of this recipient's own (a digest); None: the broadcast's text.
    body: Mapped[str | None] = mapped_column(Text)


Index("ix_deliveries_due", Delivery.broadcast_id, Delivery.state, Delivery.next_attempt_at)


class FeedItem(Base):
    """An RSS/Atom item already seen, so each becomes at most one draft (or auto-published
    broadcast). Keys are SHA-256 hex digests: feed URLs and item ids can be long."""

    __tablename__ = "feed_items"

    feed_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    link: Mapped[str | None] = mapped_column(Text)
    broadcast_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("broadcasts.id", ondelete="SET NULL")
    )
    seen_at: Mapped[datetime]


class JobRun(Base):
    """One row per scheduled job per fire time: the process that inserts it runs the job, the
    others skip it, so scheduled jobs run once however many ``citybot run`` processes there are."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    fire_at: Mapped[datetime] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    runner: Mapped[str | None] = mapped_column(String(128))


class NewsPrompt(Base):
    """A question the news composer asked in a staff chat (ForceReply): the news text, a new
    text, or a time. The answer is a reply to this message; the row survives a restart and a
    second answer is refused (``done_at``)."""

    __tablename__ = "news_prompts"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # "compose" (a new news item), "text" (replace a draft's text), "time" (schedule it).
    action: Mapped[str] = mapped_column(String(16))
    broadcast_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("broadcasts.id", ondelete="CASCADE")
    )
    staff_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class NewsPreview(Base):
    """A news item's preview in a staff chat: the message under the resident's copy that carries
    the item's number, its state and the composer's buttons. ``shown`` is the state its text
    shows (a broadcast status, or ``outdated`` once a newer preview replaced it); a job edits
    the previews whose ``shown`` lags behind (sent, cancelled, …)."""

    __tablename__ = "news_previews"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    broadcast_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    shown: Mapped[str] = mapped_column(String(24))
    posted_at: Mapped[datetime]
    # When a newer preview of the same item was posted: this one's buttons do nothing since.
    replaced_at: Mapped[datetime | None]


class NewsReport(Base):
    """The live progress message of a broadcast (``broadcasts.progress_*``): when it was last
    edited (claimed, so several processes edit it at most once per interval) and when the final
    report replaced it (then it is left alone)."""

    __tablename__ = "news_reports"

    broadcast_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    edited_at: Mapped[datetime | None]
    final_at: Mapped[datetime | None]


class Poll(Base):
    """A poll: its question goes out as a broadcast (kind ``poll``) whose recipients get one
    button per option. ``status`` is ``open`` until the closing job (or staff) closes it, once:
    ``UPDATE … WHERE status = 'open'``."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("broadcasts.id", ondelete="CASCADE"), unique=True
    )
    question: Mapped[str] = mapped_column(Text)
    # The option labels, in order; votes refer to them by position.
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether a resident sees the current results after voting, and the final ones after closing.
    results_after_vote: Mapped[bool] = mapped_column(Boolean, default=True)
    results_after_close: Mapped[bool] = mapped_column(Boolean, default=True)
    # Publish the results to the voters (a broadcast of kind ``poll_results``) when it closes.
    publish_results: Mapped[bool] = mapped_column(Boolean, default=False)
    # open | closed (a cancelled poll's broadcast is cancelled; the poll is closed with it).
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    closes_at: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    # The staff chat the poll was composed in (results and the chart go there too).
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    results_broadcast_id: Mapped[int | None] = mapped_column(BigId)


class PollVote(Base):
    """One chosen option of one resident in one poll (a multiple-choice poll: one row per chosen
    option). The primary key makes the same vote written twice one row. ``channel`` and
    ``district`` are the resident's at voting time, for the breakdowns."""

    __tablename__ = "poll_votes"

    poll_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    resident_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    option: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(32))
    voted_at: Mapped[datetime]


class PollPrompt(Base):
    """A question the poll composer asked in a staff chat (ForceReply): the poll's text, its
    closing time, or when to send it. A second answer is refused (``done_at``)."""

    __tablename__ = "poll_prompts"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # "compose" | "closes" | "time"
    action: Mapped[str] = mapped_column(String(16))
    poll_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("polls.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
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


class LinkCode(Base):
    """A code a resident got with ``/link`` (storage/linking.py): typed in the other messenger
    within ``expires_at`` it links the two identities. Single use: the row is deleted when used
    or replaced; expired rows are pruned when codes are issued."""

    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
