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


class Channel(StrEnum):
    TELEGRAM = "telegram"
    VIBER = "viber"


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    OPERATOR = "operator"


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
