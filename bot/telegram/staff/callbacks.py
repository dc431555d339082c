"""Callback data of the card's inline buttons: ``tk:<verb>:<ticket id>[:<argument>]``.

Telegram allows 64 bytes; a queue code (at most 32 characters) or a refusal ground is the longest
argument, so every button fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.telegram.staff import callback_data

PREFIX: Final = "tk"
MAX_BYTES: Final = callback_data.MAX_BYTES

TAKE: Final = "take"
HAND: Final = "hand"  # show the queues
HAND_TO: Final = "to"  # tk:to:<id>:<queue code>
EXTEND: Final = "ext"
REFUSE: Final = "ref"  # show the legal grounds
GROUND: Final = "rg"  # tk:rg:<id>:<ground>
CLOSE: Final = "close"  # ask for confirmation
CLOSE_OK: Final = "closeok"
TERM: Final = "term"  # tk:term:<id>:simple|standard (appeals)
CARD: Final = "card"  # back to the card's own buttons
CATEGORY: Final = "cats"  # show the categories
CATEGORY_TO: Final = "cat"  # tk:cat:<id>:<category>

VERBS: Final = frozenset(
    {
        TAKE,
        HAND,
        HAND_TO,
        EXTEND,
        REFUSE,
        GROUND,
        CLOSE,
        CLOSE_OK,
        TERM,
        CARD,
        CATEGORY,
        CATEGORY_TO,
    }
)


@dataclass(frozen=True, slots=True)
class CardAction:
    verb: str
    ticket_id: int
    argument: str = ""


def pack(verb: str, ticket_id: int, argument: str = "") -> str:
    return callback_data.pack(PREFIX, verb, ticket_id, argument)


def unpack(data: str) -> CardAction | None:
    """The action of a pressed button, or None for anything that is not ours or is malformed
    (callback data comes from the client and is not trusted)."""
    parts = callback_data.split(data, PREFIX, VERBS)
    if parts is None:
        return None
    verb, number, argument = parts
    return CardAction(verb=verb, ticket_id=number, argument=argument)
