"""Callback data of the card's inline buttons: ``tk:<verb>:<ticket id>[:<argument>]``, as an
aiogram ``CallbackData`` factory.

The packed form is the one cards already posted in live chats carry, so it must not change
(``bot.telegram.staff.button_data`` keeps it, for the composers' buttons too). Telegram allows
64 bytes; a queue code (at most 32 characters) is the longest argument, so every button fits.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from bot.telegram.staff.button_data import StaffButton

PREFIX: Final = "tk"


class Verb(StrEnum):
    TAKE = "take"
    HAND = "hand"  # show the queues
    HAND_TO = "to"  # tk:to:<id>:<queue code>
    EXTEND = "ext"
    REFUSE = "ref"  # show the legal grounds
    GROUND = "rg"  # tk:rg:<id>:<ground>
    CLOSE = "close"  # ask for confirmation
    CLOSE_OK = "closeok"
    TERM = "term"  # tk:term:<id>:simple|standard (appeals)
    CARD = "card"  # back to the card's own buttons
    CATEGORY = "cats"  # show the categories
    CATEGORY_TO = "cat"  # tk:cat:<id>:<category>


class CardCallback(StaffButton, prefix=PREFIX):
    verb: Verb


def pack(verb: Verb, ticket_id: int, argument: str = "") -> str:
    return CardCallback(verb=verb, id=ticket_id, arg=argument).pack()


def unpack(data: str) -> CardCallback | None:
    """The pressed card button, or None for anything that is not one or is malformed."""
    return CardCallback.parse(data)
