"""Wiring of the poll composer into the Telegram Dispatcher (its closing job is registered by
``bot.schedule``).

As for the news composer, the handlers go on the Dispatcher's own observers (they run before
the staff router, which takes every group message): ``/poll``, ``/pollresults``, replies to the
composer's questions, and ``pl:`` buttons, in staff chats only.
"""

from __future__ import annotations

import logging
from typing import Final
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.chat_router import install_composer
from bot.telegram.staff.polls import callbacks as cb
from bot.telegram.staff.polls.composer import PollComposer, PollSettings
from handlers.staff.broadcasts.common import Wake, no_wake
from handlers.staff.core import StaffCore
from messaging.i18n import Catalog
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

# The Dispatcher's workflow-data key of the composer (tests and jobs find it there).
KEY: Final = "polls"


def install_polls(
    dispatcher: Dispatcher,
    *,
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    clock: Clock,
    zone: ZoneInfo,
    operator_chat_id: int | None,
    editors_chat_id: int | None,
    confirm_above: int = 1000,
    wake: Wake = no_wake,
    staff: StaffCore | None = None,
) -> PollComposer:
    """Build the composer and register its handlers (the composition root's one call).
    ``wake``: the delivery engine's nudge; ``staff``: the staff core shared with other desks."""
    composer = PollComposer(
        bot=bot,
        sessionmaker=sessionmaker,
        catalog=catalog,
        clock=clock,
        settings=PollSettings(
            zone=zone,
            operator_chat_id=operator_chat_id,
            editors_chat_id=editors_chat_id,
            confirm_above=confirm_above,
        ),
        staff=staff or StaffCore(sessionmaker=sessionmaker, clock=clock),
        wake=wake,
    )
    install_composer(
        dispatcher,
        composer,
        key=KEY,
        prefix=cb.PREFIX,
        what="poll",
        log=log,
        in_chat=PollComposer.is_staff_chat,
    )
    return composer
