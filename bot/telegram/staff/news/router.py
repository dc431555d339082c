"""Wiring of the composer into the Telegram Dispatcher.

The handlers are registered on the Dispatcher's own observers, which aiogram runs before any
included router: the staff router takes every group message it sees, and the composer's
commands and answers must reach the composer first. The filters are narrow: ``/news`` and
``/drafts``, replies to the composer's own questions, and ``nw:`` buttons, in staff chats only.
"""

from __future__ import annotations

import logging
from typing import Final
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.chat_router import install_composer
from bot.telegram.staff.news import callbacks as cb
from bot.telegram.staff.news.composer import NewsComposer, NewsSettings
from handlers.staff.broadcasts.common import Wake, no_wake
from handlers.staff.core import StaffCore
from messaging.contract import Sender
from messaging.i18n import Catalog
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

# The Dispatcher's workflow-data key of the composer (tests and jobs find it there).
KEY: Final = "news"


def install(dispatcher: Dispatcher, composer: NewsComposer) -> None:
    install_composer(
        dispatcher,
        composer,
        key=KEY,
        prefix=cb.PREFIX,
        what="news",
        log=log,
        in_chat=NewsComposer.is_staff_chat,
    )


def install_news(
    dispatcher: Dispatcher,
    *,
    bot: Bot,
    sender: Sender,
    sessionmaker: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    clock: Clock,
    zone: ZoneInfo,
    operator_chat_id: int | None,
    editors_chat_id: int | None,
    two_person: bool,
    confirm_above: int = 1000,
    wake: Wake = no_wake,
    staff: StaffCore | None = None,
) -> NewsComposer:
    """Build the composer and register its handlers (the composition root's one call).
    ``wake``: the delivery engine's nudge (a planned broadcast starts at once rather than at the
    engine's next poll); ``staff``: the staff core shared with the other desks."""
    composer = NewsComposer(
        bot=bot,
        sender=sender,
        sessionmaker=sessionmaker,
        catalog=catalog,
        clock=clock,
        settings=NewsSettings(
            zone=zone,
            operator_chat_id=operator_chat_id,
            editors_chat_id=editors_chat_id,
            two_person=two_person,
            confirm_above=confirm_above,
        ),
        staff=staff or StaffCore(sessionmaker=sessionmaker, clock=clock),
        wake=wake,
    )
    install(dispatcher, composer)
    return composer
