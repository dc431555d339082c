"""Who the bot talks to: residents (with their topics and messenger links), the conversation
state, processed updates and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
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


class Resident(Base):
    """One messenger identity of a resident (a person on both messengers is two rows)."""

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_residents_identity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(256))
    # ``name`` folded for the desk's search (``storage.textfold``), kept by the mapper events
    # below on every ORM insert and update.
    search_name: Mapped[str | None] = mapped_column(Text)
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


# Substring search of names on PostgreSQL (pg_trgm, migration 0017 when available).
Index(
    "ix_residents_search_name_trgm",
    Resident.search_name,
    postgresql_using="gin",
    postgresql_ops={"search_name": "gin_trgm_ops"},
    info={ONLY_ON: "postgresql"},
).ddl_if(dialect="postgresql")


@event.listens_for(Resident, "before_insert")
def _fold_new_resident_name(_mapper: Any, _connection: Any, resident: Resident) -> None:
    resident.search_name = fold_fields([resident.name]) or None


@event.listens_for(Resident, "before_update")
def _fold_resident_name(_mapper: Any, _connection: Any, resident: Resident) -> None:
    if inspect(resident).attrs.name.history.has_changes():
        resident.search_name = fold_fields([resident.name]) or None


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
