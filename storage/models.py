"""The persistent domain model (SQLAlchemy 2, typed), identical on SQLite and PostgreSQL.

Every timestamp is timezone-aware UTC. SQLite has no time zone type, so ``UTCDateTime`` attaches
UTC on the way out; PostgreSQL stores ``timestamptz``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
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
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

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


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
