"""aiogram router for residents' private chats: converts updates and runs the pipeline.

Handlers receive ``pipeline`` and ``sender`` from the Dispatcher's workflow data (aiogram passes
each handler only the arguments it declares), so nothing here is global.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Update

from bot.telegram.convert import callback_event, member_event, message_event
from bot.telegram.sender import TelegramSender
from handlers.pipeline import Pipeline
from messaging.contract import Incoming, telegram_update_key

log = logging.getLogger(__name__)

EventT = TypeVar("EventT")
Handler = Callable[[Any, Update, Bot, Pipeline, TelegramSender, bool], Awaitable[None]]


def _handler(convert: Callable[[EventT, str], Incoming | None]) -> Handler:
    """An aiogram handler: convert the update, store its effects, send the replies."""

    async def handle(
        event: EventT,
        event_update: Update,
        bot: Bot,
        pipeline: Pipeline,
        sender: TelegramSender,
        answer_first: bool = False,
    ) -> None:
        incoming = convert(event, telegram_update_key(bot.id, event_update.update_id))
        if incoming is not None:
            await pipeline.handle(incoming, sender, later=answer_first)
        if isinstance(event, CallbackQuery):
            try:
                # Stops the button's spinner; after a redelivery the query may be too old.
                await event.answer()
            except TelegramAPIError as error:
                log.debug("answerCallbackQuery failed: %s", error)

    return handle


def resident_router() -> Router:
    router = Router(name="residents")
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(_handler(message_event), private)
    router.callback_query.register(_handler(callback_event))
    router.my_chat_member.register(_handler(member_event), private)
    return router
