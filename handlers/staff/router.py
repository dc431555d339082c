"""aiogram router of the staff chats: the operator chat and every queue's chat.

Handlers receive ``staff`` (the ``StaffService``) from the Dispatcher's workflow data. Messages
and button presses in any other group are left alone. Must be included before the residents'
router, whose callback handler takes every button press it sees.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, Update
from sqlalchemy.exc import SQLAlchemyError

from handlers.contract import telegram_update_key
from handlers.staff import callbacks as cb
from handlers.staff.service import StaffService

log = logging.getLogger(__name__)

GROUP_CHATS = {ChatType.GROUP, ChatType.SUPERGROUP}


async def _on_message(
    message: Message, event_update: Update, bot: Bot, staff: StaffService
) -> None:
    if not await staff.is_staff_chat(message.chat.id):
        return
    me = await bot.me()
    try:
        await staff.on_message(
            message,
            update_key=telegram_update_key(bot.id, event_update.update_id),
            bot_username=me.username or "",
        )
    except (SQLAlchemyError, OSError, TimeoutError):
        # Nothing was stored: let Telegram deliver the update again.
        raise
    except Exception:
        # A bug must not make Telegram redeliver the update forever.
        log.exception("staff message %s failed", event_update.update_id)


async def _on_button(
    query: CallbackQuery, event_update: Update, bot: Bot, staff: StaffService
) -> None:
    message = query.message
    if message is None or not await staff.is_staff_chat(message.chat.id):
        try:
            await query.answer()
        except TelegramAPIError as error:
            log.debug("answerCallbackQuery failed: %s", error)
        return
    try:
        await staff.on_button(query, update_key=telegram_update_key(bot.id, event_update.update_id))
    except (SQLAlchemyError, OSError, TimeoutError):
        raise
    except Exception:
        log.exception("staff button %s failed", event_update.update_id)


def staff_router() -> Router:
    router = Router(name="staff")
    router.message.register(_on_message, F.chat.type.in_(GROUP_CHATS))
    router.callback_query.register(
        _on_button,
        F.data.startswith(cb.PREFIX + ":"),
        F.message.chat.type.in_(GROUP_CHATS),
    )
    return router
