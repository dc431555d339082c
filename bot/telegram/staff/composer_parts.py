"""What a composer is built from: its settings, the parts every composer takes, and the wiring
the composition root gives ``install_news`` and ``install_polls``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict
from zoneinfo import ZoneInfo

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.staff.broadcasts.common import Wake
from handlers.staff.core import StaffCore
from messaging.i18n import Catalog
from storage.vocabulary import Clock


@dataclass(frozen=True, slots=True)
class ComposerSettings:
    zone: ZoneInfo
    operator_chat_id: int | None = None
    # Where RSS drafts are posted (the operator chat when not set).
    editors_chat_id: int | None = None
    # The two-person rule (news): a second editor approves before anything is sent.
    two_person: bool = False
    # Sending or scheduling to more residents than this asks "Send to N residents?" first.
    confirm_above: int = 1000

    @property
    def editors_chat(self) -> int | None:
        return self.editors_chat_id if self.editors_chat_id is not None else self.operator_chat_id


class Parts(TypedDict):
    """What every composer is built from (``ComposerBase.__init__``)."""

    bot: Bot
    sessionmaker: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    settings: ComposerSettings
    staff: StaffCore


class Wiring(TypedDict):
    """What the composition root gives ``install_news`` and ``install_polls``. ``wake``: the
    delivery engine's nudge (a planned broadcast starts at once, not at the engine's next
    poll); ``staff``: the staff core shared with the other desks."""

    bot: Bot
    sessionmaker: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    zone: ZoneInfo
    operator_chat_id: int | None
    editors_chat_id: int | None
    confirm_above: NotRequired[int]
    wake: Wake
    staff: NotRequired[StaffCore | None]


def parts_of(wiring: Wiring, *, two_person: bool = False) -> tuple[Parts, Wake]:
    """A composer's parts, and the wake it passes to its core, from the root's wiring."""
    sessionmaker, clock = wiring["sessionmaker"], wiring["clock"]
    settings = ComposerSettings(
        zone=wiring["zone"],
        operator_chat_id=wiring["operator_chat_id"],
        editors_chat_id=wiring["editors_chat_id"],
        two_person=two_person,
        confirm_above=wiring.get("confirm_above", 1000),
    )
    staff = wiring.get("staff") or StaffCore(sessionmaker=sessionmaker, clock=clock)
    parts = Parts(
        bot=wiring["bot"],
        sessionmaker=sessionmaker,
        catalog=wiring["catalog"],
        clock=clock,
        settings=settings,
        staff=staff,
    )
    return parts, wiring["wake"]
