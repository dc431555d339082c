"""Callback data of the poll composer's buttons: ``pl:<verb>:<poll id>[:<argument>]``.

The longest argument is a district code (17 characters), so every button fits Telegram's 64 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.telegram.staff import callback_data

PREFIX: Final = "pl"
MAX_BYTES: Final = callback_data.MAX_BYTES

AUDIENCE: Final = "aud"  # recount the audience
PAGE: Final = "pg"  # pl:pg:<id>:main|topics|districts
TOPIC: Final = "tp"  # pl:tp:<id>:<topic>|all
DISTRICT: Final = "ds"  # pl:ds:<id>:<district>|all
CHANNEL: Final = "ch"  # pl:ch:<id>:telegram|viber
MULTIPLE: Final = "mul"  # single <-> multiple choice
AFTER_VOTE: Final = "rv"  # results after voting: on/off
AFTER_CLOSE: Final = "rc"  # results after closing: on/off
PUBLISH: Final = "pub"  # publish the results to the voters at closing: on/off
CLOSES: Final = "cl"  # ask for the closing time
SEND: Final = "send"
SCHEDULE: Final = "sch"  # ask for the sending time
CANCEL: Final = "cancel"
CONFIRM: Final = "yes"  # pl:yes:<id>:<count>[@<epoch>]: send (schedule) to the count confirmed
DECLINE: Final = "no"

VERBS: Final = frozenset(
    {
        AUDIENCE,
        PAGE,
        TOPIC,
        DISTRICT,
        CHANNEL,
        MULTIPLE,
        AFTER_VOTE,
        AFTER_CLOSE,
        PUBLISH,
        CLOSES,
        SEND,
        SCHEDULE,
        CANCEL,
        CONFIRM,
        DECLINE,
    }
)
TOGGLES: Final = frozenset({MULTIPLE, AFTER_VOTE, AFTER_CLOSE, PUBLISH})

PAGE_MAIN: Final = "main"
PAGE_TOPICS: Final = "topics"
PAGE_DISTRICTS: Final = "districts"
PAGES: Final = frozenset({PAGE_MAIN, PAGE_TOPICS, PAGE_DISTRICTS})
PAGE_CONFIRM: Final = "confirm"  # shown by the composer only, never from a button's argument


@dataclass(frozen=True, slots=True)
class PollAction:
    verb: str
    poll_id: int
    argument: str = ""


def pack(verb: str, poll_id: int, argument: str = "") -> str:
    return callback_data.pack(PREFIX, verb, poll_id, argument)


def unpack(data: str) -> PollAction | None:
    """The pressed button's action, or None for anything malformed (not trusted)."""
    parts = callback_data.split(data, PREFIX, VERBS, max_argument=32)
    if parts is None:
        return None
    verb, number, argument = parts
    return PollAction(verb=verb, poll_id=number, argument=argument)
