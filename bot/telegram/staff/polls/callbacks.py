"""Callback data of the poll composer's buttons: ``pl:<verb>:<poll id>[:<argument>]``
(``bot.telegram.staff.button_data``).

The longest argument is a district code (17 characters), so every button fits Telegram's 64 bytes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from bot.telegram.staff.button_data import MAX_BYTES, StaffButton

__all__ = ["MAX_BYTES", "PollData", "Verb", "pack"]

PREFIX: Final = "pl"


class Verb(StrEnum):
    AUDIENCE = "aud"  # recount the audience
    PAGE = "pg"  # pl:pg:<id>:main|topics|districts
    TOPIC = "tp"  # pl:tp:<id>:<topic>|all
    DISTRICT = "ds"  # pl:ds:<id>:<district>|all
    CHANNEL = "ch"  # pl:ch:<id>:telegram|viber
    MULTIPLE = "mul"  # single <-> multiple choice
    AFTER_VOTE = "rv"  # results after voting: on/off
    AFTER_CLOSE = "rc"  # results after closing: on/off
    PUBLISH = "pub"  # publish the results to the voters at closing: on/off
    CLOSES = "cl"  # ask for the closing time
    SEND = "send"
    SCHEDULE = "sch"  # ask for the sending time
    CANCEL = "cancel"
    CONFIRM = "yes"  # pl:yes:<id>:<count>[@<epoch>]: send (schedule) to the count confirmed
    DECLINE = "no"


PAGE_MAIN: Final = "main"
PAGE_TOPICS: Final = "topics"
PAGE_DISTRICTS: Final = "districts"
PAGES: Final = frozenset({PAGE_MAIN, PAGE_TOPICS, PAGE_DISTRICTS})
PAGE_CONFIRM: Final = "confirm"  # shown by the composer only, never from a button's argument


class PollData(StaffButton, prefix=PREFIX):
    verb: Verb  # narrowed to the poll verbs


def pack(verb: Verb, poll_id: int, argument: str = "") -> str:
    return PollData(verb=verb, id=poll_id, arg=argument).pack()
