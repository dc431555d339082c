"""Resident repository: keyword-only functions over an AsyncSession; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage import audit
from storage.models import ConversationState, Resident, ResidentTopic
from storage.vocabulary import Topic

NAME_MAX = 256
# "Last seen" to the minute is enough, and saves an UPDATE on every message of a conversation.
LAST_SEEN_PRECISION = timedelta(minutes=1)

# Built once: every incoming event runs these, and building a statement (and its cache key)
# cost a resident's event more CPU than PostgreSQL's work for it.
_BY_IDENTITY = (
    Resident.channel == bindparam("channel"),
    Resident.external_id == bindparam("external_id"),
)
# One round trip for the resident and their topics (every event reads both).
_GET = select(Resident).options(joinedload(Resident.topics)).where(*_BY_IDENTITY)
# The same with the conversation state.
_FOR_EVENT = (
    select(Resident, ConversationState)
    .outerjoin(ConversationState, ConversationState.resident_id == Resident.id)
    .options(joinedload(Resident.topics))
    .where(*_BY_IDENTITY)
)


async def get_resident(session: AsyncSession, *, channel: str, external_id: str) -> Resident | None:
    result = await session.execute(_GET, {"channel": channel, "external_id": external_id})
    return result.unique().scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class Known:
    """The resident an event comes from, with their conversation state (None when idle)."""

    resident: Resident
    state: ConversationState | None
    created: bool


async def get_or_create_resident(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    name: str | None,
    language: str,
    now: datetime,
) -> tuple[Resident, bool]:
    """Return the resident for this messenger identity, creating it on first contact.

    Returns ``(resident, created)``. Two first messages racing are serialised by the unique
    constraint: the loser's transaction fails and the messenger redelivers its update.
    """
    known = await resident_for_event(
        session, channel=channel, external_id=external_id, name=name, language=language, now=now
    )
    return known.resident, known.created


async def resident_for_event(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    name: str | None,
    language: str,
    now: datetime,
) -> Known:
    """As :func:`get_or_create_resident`, and the conversation state in the same round trip
    (every event reads the resident, their topics and their state)."""
    result = await session.execute(_FOR_EVENT, {"channel": channel, "external_id": external_id})
    row = result.unique().one_or_none()
    if row is not None:
        resident, state = row
        if now - resident.last_seen_at >= LAST_SEEN_PRECISION:
            resident.last_seen_at = now
        if name and not resident.name:
            resident.name = name[:NAME_MAX]
        return Known(resident=resident, state=state, created=False)
    resident = Resident(
        channel=channel,
        external_id=external_id,
        name=name[:NAME_MAX] if name else None,
        language=language,
        digest="instant",
        subscribed=True,
        is_active=True,
        created_at=now,
        last_seen_at=now,
        # Every topic by default: residents untick what they do not want.
        topics=[ResidentTopic(topic=topic.value) for topic in Topic],
    )
    session.add(resident)
    await session.flush()
    return Known(resident=resident, state=None, created=True)


def set_topics(resident: Resident, topics: Iterable[str]) -> None:
    wanted = set(topics)
    resident.topics = [item for item in resident.topics if item.topic in wanted] + [
        ResidentTopic(topic=topic) for topic in sorted(wanted - resident.topic_codes)
    ]


def mark_blocked(resident: Resident, *, now: datetime) -> None:
    """The state change alone, for the delivery engine's outcomes: each delivery row records
    already that its resident blocked the bot. Anything else calls ``record_blocked``."""
    if resident.is_active:
        resident.is_active = False
        resident.blocked_at = now


def record_blocked(
    session: AsyncSession,
    account: Resident,
    *,
    now: datetime,
    actor: str | None = None,
    detected: str | None = None,
) -> bool:
    """Mark the messenger ``account`` blocked and audit it, once: an account blocked already
    changes nothing and gets no second entry (a redelivered ``kicked`` update, a notice and an
    owed reply meeting the same 403). Returns whether it changed.

    ``actor``: whom the audit names (default the account; a conversation names the person it
    belongs to); ``detected``: how we learnt it ("send", "notify"; None: the messenger said so in
    an event)."""
    if not account.is_active:
        return False
    audit.record(
        session,
        actor=actor or f"resident:{account.id}",
        action="resident.blocked",
        now=now,
        details={"detected": detected} if detected is not None else None,
    )
    mark_blocked(account, now=now)
    return True


def mark_reachable(resident: Resident) -> None:
    resident.is_active = True
    resident.blocked_at = None
