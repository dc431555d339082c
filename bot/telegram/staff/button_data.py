"""Every button of the staff chats as aiogram ``CallbackData``,
``<prefix>:<verb>:<id>[:<argument>]``: the ticket card's ``tk``, the news composer's ``nw`` and
the poll composer's ``pl``.

The packed strings are the ones the chats always carried (no trailing ``:`` when there is no
argument), so buttons already posted in the staff chats keep working. Callback data comes from
the client and is not trusted: ``parse`` gives None for anything malformed (an unknown verb, an
id that is not plain digits, an argument too long or with a separator in it).
"""

from __future__ import annotations

from typing import Final, Self

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

MAX_BYTES: Final = 64
ID_DIGITS: Final = 18
ARGUMENT_MAX: Final = 32


class StaffButton(CallbackData, prefix="staff"):
    """One staff-chat button. Subclasses set their prefix and narrow ``verb`` to their verbs.
    The longest argument is a queue code (32 characters, the column's size)."""

    verb: str
    id: int = Field(ge=0)
    arg: str = Field(default="", max_length=ARGUMENT_MAX)

    def pack(self) -> str:
        packed = super().pack()
        # aiogram writes every field; the stored buttons have no empty last part.
        return packed.removesuffix(self.__separator__) if not self.arg else packed

    @classmethod
    def unpack(cls, value: str) -> Self:
        parts = value.split(cls.__separator__)
        if len(parts) == 3:
            value += cls.__separator__
        elif len(parts) != 4:
            raise TypeError(f"{cls.__name__}: {len(parts)} parts")
        number = parts[2]
        if not number.isdigit() or len(number) > ID_DIGITS:
            raise ValueError(f"{cls.__name__}: not an id")
        return super().unpack(value)

    @classmethod
    def parse(cls, value: str | None) -> Self | None:
        try:
            return cls.unpack(value or "")
        except (TypeError, ValueError):
            return None
