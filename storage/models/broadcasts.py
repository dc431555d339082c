"""Everything pushed to many residents: broadcasts and their deliveries, the RSS feed, news
and poll composer state, polls and votes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId


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
