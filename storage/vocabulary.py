"""Named constants of the domain: channels, roles, topics, districts, digest choices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

# Bump when the personal-data policy text changes: residents' consent records which one they saw.
POLICY_VERSION = "2026-11"

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def parse_aware(text: str) -> datetime:
    """An ISO 8601 time we stored (always with its offset). A naive one raises ValueError, like
    any other malformed value, rather than a TypeError later when it meets an aware one."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time without an offset: {text!r}")
    return value


class Channel(StrEnum):
    TELEGRAM = "telegram"
    VIBER = "viber"


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    OPERATOR = "operator"
    # Read-only: a head of department sees queues, tickets and the dashboard, acts on nothing.
    HEAD = "head"


class Digest(StrEnum):
    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"


class Topic(StrEnum):
    CITY_NEWS = "city_news"
    DECISIONS = "decisions"
    OUTAGES = "outages"
    EVENTS = "events"


# The seven districts of Kryvyi Rih, plus the whole city.
class District(StrEnum):
    DOVHYNTSIVSKYI = "dovhyntsivskyi"
    INHULETSKYI = "inhuletskyi"
    METALURHIINYI = "metalurhiinyi"
    POKROVSKYI = "pokrovskyi"
    SAKSAHANSKYI = "saksahanskyi"
    TERNIVSKYI = "ternivskyi"
    TSENTRALNO_MISKYI = "tsentralno_miskyi"
    WHOLE_CITY = "city"


class TicketStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    REFUSED = "refused"
    CLOSED = "closed"


OPEN_STATUSES = frozenset({TicketStatus.NEW, TicketStatus.IN_PROGRESS, TicketStatus.ANSWERED})


class AppealType(StrEnum):
    PROPOSAL = "proposal"  # пропозиція (зауваження)
    APPLICATION = "application"  # заява (клопотання)
    COMPLAINT = "complaint"  # скарга


class MessageDirection(StrEnum):
    RESIDENT = "resident"  # from the resident
    STAFF = "staff"  # a staff answer relayed to the resident
    NOTE = "note"  # an internal note, never relayed
    SYSTEM = "system"  # status changes and notices


# Registration number prefixes per ticket kind: ЗІ-2026-000123.
NUMBER_PREFIXES = {
    "feedback": "ВД",
    "appeal": "ЗВ",
    "info_request": "ЗІ",
    "legal_aid": "ПД",
}


class Queue(StrEnum):
    """The departments seeded at the first migration (editable later with `citybot queue`)."""

    INFORMATION_POLICY = "information_policy"
    HOUSING = "housing"
    TRANSPORT = "transport"
    IMPROVEMENT = "improvement"
    SOCIAL = "social"
    LEGAL_AID = "legal_aid"
    PUBLIC_INFO = "public_info"
    OTHER = "other"


# Categories residents choose for feedback and appeals, and the queue each goes to.
CATEGORY_QUEUES = {
    "housing": Queue.HOUSING,
    "roads_transport": Queue.TRANSPORT,
    "improvement": Queue.IMPROVEMENT,
    "social": Queue.SOCIAL,
    "council_work": Queue.INFORMATION_POLICY,
    "other": Queue.OTHER,
}
