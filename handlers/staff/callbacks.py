"""Callback data of the card's inline buttons: ``tk:<verb>:<ticket id>[:<argument>]``.

Telegram allows 64 bytes; a queue code (at most 32 characters) or a refusal ground is the longest
argument, so every button fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PREFIX: Final = "tk"
MAX_BYTES: Final = 64

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

VERBS: Final = frozenset({TAKE, HAND, HAND_TO, EXTEND, REFUSE, GROUND, CLOSE, CLOSE_OK, TERM, CARD})


@dataclass(frozen=True, slots=True)
class CardAction:
    verb: str
    ticket_id: int
    argument: str = ""


def pack(verb: str, ticket_id: int, argument: str = "") -> str:
    data = f"{PREFIX}:{verb}:{ticket_id}" + (f":{argument}" if argument else "")
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
    return data


def unpack(data: str) -> CardAction | None:
    """The action of a pressed button, or None for anything that is not ours or is malformed
    (callback data comes from the client and is not trusted)."""
    prefix, _, rest = data.partition(":")
    if prefix != PREFIX:
        return None
    verb, _, rest = rest.partition(":")
    number, _, argument = rest.partition(":")
    if verb not in VERBS or not number.isdigit() or len(number) > 18:
        return None
    return CardAction(verb=verb, ticket_id=int(number), argument=argument)
