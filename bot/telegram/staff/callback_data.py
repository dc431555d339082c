"""The staff chats' callback data format, ``<prefix>:<verb>:<id>[:<argument>]``, shared by the
ticket card (``tk``), the news composer (``nw``) and the poll composer (``pl``).

Each feature keeps its own prefix, verbs and action type; this module only writes and reads the
format, and refuses what does not fit Telegram's 64 bytes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

MAX_BYTES: Final = 64


def pack(prefix: str, verb: str, subject_id: int, argument: str = "") -> str:
    data = f"{prefix}:{verb}:{subject_id}" + (f":{argument}" if argument else "")
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
    return data


def split(
    data: str, prefix: str, verbs: Collection[str], *, max_argument: int | None = None
) -> tuple[str, int, str] | None:
    """(verb, id, argument) of a pressed button, or None for another prefix or anything
    malformed (callback data comes from the client and is not trusted)."""
    found, _, rest = data.partition(":")
    if found != prefix:
        return None
    verb, _, rest = rest.partition(":")
    number, _, argument = rest.partition(":")
    if verb not in verbs or not number.isdigit() or len(number) > 18:
        return None
    if max_argument is not None and len(argument) > max_argument:
        return None
    return verb, int(number), argument
