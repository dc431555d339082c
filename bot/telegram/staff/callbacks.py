"""Callback data of the card's inline buttons: ``tk:<verb>:<ticket id>[:<argument>]``, as an
aiogram ``CallbackData`` factory.

The packed form is the one cards already posted in live chats carry, so it must not change:
no trailing separator when there is no argument (aiogram's own packing would add one), and the
ticket id digits only. Telegram allows 64 bytes; a queue code (at most 32 characters) or a
refusal ground is the longest argument, so every button fits.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final, Self

from aiogram.filters.callback_data import CallbackData

PREFIX: Final = "tk"
SEPARATOR: Final = ":"
MAX_BYTES: Final = 64


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


# Callback data comes from the client and is not trusted: digits only for the id (no sign, no
# spaces, at most 18 of them), a known verb, and any argument after a third separator.
_PACKED = re.compile(r"^tk:([a-z]+):(\d{1,18})(?::(.*))?$", re.DOTALL)


class CardCallback(CallbackData, prefix=PREFIX, sep=SEPARATOR):
    verb: Verb
    id: int
    arg: str = ""

    def pack(self) -> str:
        packed = super().pack()
        return packed if self.arg else packed.removesuffix(SEPARATOR)

    @classmethod
    def unpack(cls, value: str) -> Self:
        """Raises ``ValueError`` for anything that is not a card button (aiogram's filter then
        does not match)."""
        match = _PACKED.match(value)
        if match is None:
            raise ValueError(f"not a card button: {value!r}")
        verb, number, argument = match.groups()
        return cls(verb=Verb(verb), id=int(number), arg=argument or "")


def pack(verb: Verb, ticket_id: int, argument: str = "") -> str:
    return CardCallback(verb=verb, id=ticket_id, arg=argument).pack()


def unpack(data: str) -> CardCallback | None:
    """The pressed card button, or None for anything that is not one or is malformed."""
    try:
        return CardCallback.unpack(data)
    except ValueError:
        return None
