"""What a Viber callback must look like before viberbot parses it and the bot acts on it.

viberbot checks no types: a signed callback whose ``text`` is a number, whose ``message`` is a
list or whose ``sender`` is missing used to fail deep inside the handlers (a 500, which Viber
redelivers for an hour). ``problem`` names what is wrong, or returns None; only the fields the bot
reads are checked, and unknown fields are ignored (Viber adds some now and then).

``freshness`` refuses replays: a callback's claim (``processed_updates``) is pruned after
``storage.dedup.DEDUP_RETENTION``, so a captured callback older than that would be accepted again.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from storage.dedup import DEDUP_RETENTION

# Callbacks the bot knows (``message`` and ``webhook`` always come; the others are subscribed).
EVENTS = frozenset(
    {
        "message",
        "conversation_started",
        "subscribed",
        "unsubscribed",
        "delivered",
        "seen",
        "failed",
        "webhook",
    }
)
# The messages viberbot can parse.
MESSAGE_TYPES = frozenset(
    {
        "text",
        "picture",
        "video",
        "file",
        "sticker",
        "contact",
        "url",
        "location",
        "rich_media",
        "keyboard",
    }
)
# Ids are stored in columns of these lengths (storage.models): a longer one is not Viber's.
ID_MAX = 64
TOKEN_MAX = 64
# JSON integers the bot may store or compare (a file's size, a token): no bignums.
INT_MAX = 2**63 - 1
# How far Viber's clock and ours may disagree. A callback is accepted from ``REPLAY_WINDOW``
# before now to ``CLOCK_SKEW`` after it: anything older may already have lost its claim.
CLOCK_SKEW = timedelta(hours=1)
REPLAY_WINDOW = DEDUP_RETENTION - CLOCK_SKEW

# Per message field, the JSON type it must have when present.
_MESSAGE_FIELDS: dict[str, type] = {
    "text": str,
    "media": str,
    "thumbnail": str,
    "file_name": str,
    "size": int,
    "duration": int,
    "sticker_id": int,
    "tracking_data": str,
    "contact": dict,
    "location": dict,
}
_USER_FIELDS: dict[str, type] = {
    "name": str,
    "avatar": str,
    "language": str,
    "country": str,
    "api_version": int,
}
_NAMES = {str: "text", int: "an integer", bool: "true or false", dict: "an object"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -INT_MAX <= value <= INT_MAX


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_int(value)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= ID_MAX


def _matches(value: Any, wanted: type) -> bool:
    if wanted is int:
        return _is_int(value)
    if wanted is bool:
        return isinstance(value, bool)
    return isinstance(value, wanted) and not isinstance(value, bool)


def _fields(where: str, data: dict[str, Any], types: dict[str, type]) -> str | None:
    """Each field present (and not null) has its type."""
    for name, wanted in types.items():
        value = data.get(name)
        if value is not None and not _matches(value, wanted):
            return f"{where}.{name} is not {_NAMES[wanted]}"
    return None


def _user(where: str, user: Any) -> str | None:
    if not isinstance(user, dict):
        return f"{where} is not an object"
    if not _is_id(user.get("id")):
        return f"{where}.id is missing or not an id"
    return _fields(where, user, _USER_FIELDS)


def _message(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "message is not an object"
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        return "message.type is missing or not text"
    problem = _fields("message", message, _MESSAGE_FIELDS)
    if problem is not None:
        return problem
    contact = message.get("contact")
    if contact is not None:
        problem = _fields("message.contact", contact, {"name": str, "phone_number": str})
        if problem is not None:
            return problem
    location = message.get("location")
    if location is not None:
        for axis in ("lat", "lon"):
            if not _is_number(location.get(axis)):
                return f"message.location.{axis} is not a number"
    return None


def problem(raw: Any) -> str | None:
    """What makes this (signed, JSON-decoded) callback unusable, or None."""
    if not isinstance(raw, dict):
        return "not a JSON object"
    event = raw.get("event")
    if not isinstance(event, str) or event not in EVENTS:
        return "event is missing or unknown"
    return _envelope(event, raw) or _event_body(event, raw)


def _envelope(event: str, raw: dict[str, Any]) -> str | None:
    """The fields every event carries: the timestamp and (where Viber sends one) the token."""
    if not _is_int(raw.get("timestamp")):
        return "timestamp is missing or not an integer"
    token = raw.get("message_token")
    if token is None:
        if event in ("message", "conversation_started", "delivered", "seen", "failed"):
            return "message_token is missing"
    elif not (_is_int(token) or (isinstance(token, str) and 0 < len(token) <= TOKEN_MAX)):
        return "message_token is not a token"
    return None


def _event_body(event: str, raw: dict[str, Any]) -> str | None:
    """The fields of this kind of event."""
    if event == "message":
        return _user("sender", raw.get("sender")) or _message(raw.get("message"))
    if event == "conversation_started":
        if not isinstance(raw.get("type"), str):
            return "type is missing or not text"
        return _user("user", raw.get("user")) or _fields(
            "conversation_started", raw, {"context": str, "subscribed": bool}
        )
    if event == "subscribed":
        return _user("user", raw.get("user"))
    if event in ("unsubscribed", "seen", "failed") and not _is_id(raw.get("user_id")):
        return "user_id is missing or not an id"
    if event == "failed" and not isinstance(raw.get("desc"), str):
        return "desc is missing or not text"
    if event == "delivered" and raw.get("user_id") is not None and not _is_id(raw["user_id"]):
        return "user_id is not an id"
    return None


def unknown_message(raw: dict[str, Any]) -> bool:
    """A well-formed message (``problem`` found nothing) of a type viberbot cannot parse: one
    Viber added after it. A person sent it, so it is answered (politely), not refused."""
    if raw.get("event") != "message":
        return False
    return raw["message"]["type"] not in MESSAGE_TYPES


def freshness(timestamp_ms: int, now: datetime) -> str | None:
    """Why a callback sent at ``timestamp_ms`` (Viber's epoch milliseconds) is not accepted
    ``now``, or None. Integer arithmetic: an absurd timestamp cannot overflow anything."""
    now_ms = int(now.timestamp() * 1000)
    if timestamp_ms < now_ms - REPLAY_WINDOW // timedelta(milliseconds=1):
        return "stale: older than the replay window"
    if timestamp_ms > now_ms + CLOCK_SKEW // timedelta(milliseconds=1):
        return "timestamp is in the future"
    return None
