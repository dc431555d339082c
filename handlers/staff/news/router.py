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

from aiogram import Bot, Dispatcher, F
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, Update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.contract import Sender, telegram_update_key
from handlers.i18n import Catalog
from handlers.staff.news import callbacks as cb
from handlers.staff.news.composer import NewsComposer, NewsSettings
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

GROUP_CHATS: Final = {ChatType.GROUP, ChatType.SUPERGROUP}
# The Dispatcher's workflow-data key of the composer (tests and jobs find it there).
KEY: Final = "news"


async def _is_ours(message: Message, bot: Bot, news: NewsComposer) -> bool:
    me = await bot.me()
    return await news.wants(message, me.username or "")


async def _on_message(message: Message, event_update: Update, bot: Bot, news: NewsComposer) -> None:
    me = await bot.me()
    try:
        await news.on_message(
            message,
            update_key=telegram_update_key(bot.id, event_update.update_id),
            bot_username=me.username or "",
        )
    except (SQLAlchemyError, OSError, TimeoutError):
        # Nothing was stored: let Telegram deliver the update again.
        raise
    except Exception:
        # A bug must not make Telegram redeliver the update forever.
        log.exception("news message %s failed", event_update.update_id)


async def _on_button(
    query: CallbackQuery, event_update: Update, bot: Bot, news: NewsComposer
) -> None:
    message = query.message
    if message is None or not await news.is_news_chat(message.chat.id):
        try:
            await query.answer()
        except TelegramAPIError as error:
            log.debug("answerCallbackQuery failed: %s", error)
        return
    try:
        await news.on_button(query, update_key=telegram_update_key(bot.id, event_update.update_id))
    except (SQLAlchemyError, OSError, TimeoutError):
        raise
    except Exception:
        log.exception("news button %s failed", event_update.update_id)


def install(dispatcher: Dispatcher, composer: NewsComposer) -> None:
    dispatcher[KEY] = composer
    dispatcher.message.register(_on_message, F.chat.type.in_(GROUP_CHATS), _is_ours)
    dispatcher.callback_query.register(
        _on_button, F.data.startswith(cb.PREFIX + ":"), F.message.chat.type.in_(GROUP_CHATS)
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
) -> NewsComposer:
    """Build the composer and register its handlers (the composition root's one call)."""
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
        ),
    )
    install(dispatcher, composer)
    return composer
