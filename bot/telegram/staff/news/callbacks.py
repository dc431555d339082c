"""Callback data of the composer's buttons: ``nw:<verb>:<broadcast id>[:<argument>]``.

The longest argument is a district code (17 characters), so every button fits Telegram's 64 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.telegram.staff import callback_data

PREFIX: Final = "nw"
MAX_BYTES: Final = callback_data.MAX_BYTES

AUDIENCE: Final = "aud"  # recount the audience (the first row)
PAGE: Final = "pg"  # nw:pg:<id>:main|topics|districts|compact
TOPIC: Final = "tp"  # nw:tp:<id>:<topic>
DISTRICT: Final = "ds"  # nw:ds:<id>:<district>
CHANNEL: Final = "ch"  # nw:ch:<id>:telegram|viber
URGENT: Final = "urg"
TEXT: Final = "txt"  # ask for a new text
SEND: Final = "send"  # send now (or ask for approval)
SCHEDULE: Final = "sch"  # ask for a time
SAVE: Final = "save"
CANCEL: Final = "cancel"  # cancel a draft, a scheduled or a pending news item
APPROVE: Final = "ok"
EDIT: Final = "edit"  # back to draft (scheduled or pending news), full keyboard
OPEN: Final = "open"  # post the preview again (from the list)
STOP: Final = "stop"  # stop a broadcast being sent (progress message)
CONFIRM: Final = "yes"  # nw:yes:<id>:<count>[@<epoch>]: send (schedule) to the count confirmed
DECLINE: Final = "no"  # not now: back to the draft's keyboard

VERBS: Final = frozenset(
    {
        AUDIENCE,
        PAGE,
        TOPIC,
        DISTRICT,
        CHANNEL,
        URGENT,
        TEXT,
        SEND,
        SCHEDULE,
        SAVE,
        CANCEL,
        APPROVE,
        EDIT,
        OPEN,
        STOP,
        CONFIRM,
        DECLINE,
    }
)

PAGE_MAIN: Final = "main"
PAGE_TOPICS: Final = "topics"
PAGE_DISTRICTS: Final = "districts"
PAGE_COMPACT: Final = "compact"
PAGES: Final = frozenset({PAGE_MAIN, PAGE_TOPICS, PAGE_DISTRICTS, PAGE_COMPACT})
# "Send to N residents? Yes / No" (never from a button's argument: only the composer shows it).
PAGE_CONFIRM: Final = "confirm"


@dataclass(frozen=True, slots=True)
class NewsAction:
    verb: str
    broadcast_id: int
    argument: str = ""


def pack(verb: str, broadcast_id: int, argument: str = "") -> str:
    return callback_data.pack(PREFIX, verb, broadcast_id, argument)


def unpack(data: str) -> NewsAction | None:
    """The pressed button's action, or None for anything malformed (callback data comes from the
    client and is not trusted)."""
    parts = callback_data.split(data, PREFIX, VERBS, max_argument=32)
    if parts is None:
        return None
    verb, number, argument = parts
    return NewsAction(verb=verb, broadcast_id=number, argument=argument)
