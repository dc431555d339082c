"""Callback data of the news composer's buttons: ``nw:<verb>:<broadcast id>[:<argument>]``
(``bot.telegram.staff.button_data``).

The longest argument is a district code (17 characters), so every button fits Telegram's 64 bytes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from bot.telegram.staff.button_data import MAX_BYTES, StaffButton

__all__ = ["MAX_BYTES", "NewsData", "Verb", "pack"]

PREFIX: Final = "nw"


class Verb(StrEnum):
    AUDIENCE = "aud"  # recount the audience (the first row)
    PAGE = "pg"  # nw:pg:<id>:main|topics|districts|compact
    TOPIC = "tp"  # nw:tp:<id>:<topic>
    DISTRICT = "ds"  # nw:ds:<id>:<district>
    CHANNEL = "ch"  # nw:ch:<id>:telegram|viber
    URGENT = "urg"
    TEXT = "txt"  # ask for a new text
    SEND = "send"  # send now (or ask for approval)
    SCHEDULE = "sch"  # ask for a time
    SAVE = "save"
    CANCEL = "cancel"  # cancel a draft, a scheduled or a pending news item
    APPROVE = "ok"
    EDIT = "edit"  # back to draft (scheduled or pending news), full keyboard
    OPEN = "open"  # post the preview again (from the list)
    STOP = "stop"  # stop a broadcast being sent (progress message)
    CONFIRM = "yes"  # nw:yes:<id>:<count>[@<epoch>]: send (schedule) to the count confirmed
    DECLINE = "no"  # not now: back to the draft's keyboard


AUDIENCE: Final = Verb.AUDIENCE
PAGE: Final = Verb.PAGE
TOPIC: Final = Verb.TOPIC
DISTRICT: Final = Verb.DISTRICT
CHANNEL: Final = Verb.CHANNEL
URGENT: Final = Verb.URGENT
TEXT: Final = Verb.TEXT
SEND: Final = Verb.SEND
SCHEDULE: Final = Verb.SCHEDULE
SAVE: Final = Verb.SAVE
CANCEL: Final = Verb.CANCEL
APPROVE: Final = Verb.APPROVE
EDIT: Final = Verb.EDIT
OPEN: Final = Verb.OPEN
STOP: Final = Verb.STOP
CONFIRM: Final = Verb.CONFIRM
DECLINE: Final = Verb.DECLINE

PAGE_MAIN: Final = "main"
PAGE_TOPICS: Final = "topics"
PAGE_DISTRICTS: Final = "districts"
PAGE_COMPACT: Final = "compact"
PAGES: Final = frozenset({PAGE_MAIN, PAGE_TOPICS, PAGE_DISTRICTS, PAGE_COMPACT})
# "Send to N residents? Yes / No" (never from a button's argument: only the composer shows it).
PAGE_CONFIRM: Final = "confirm"


class NewsData(StaffButton, prefix=PREFIX):
    verb: Verb  # narrowed to the news verbs


def pack(verb: Verb, broadcast_id: int, argument: str = "") -> str:
    return NewsData(verb=verb, id=broadcast_id, arg=argument).pack()
