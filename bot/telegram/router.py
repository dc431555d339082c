"""aiogram router for residents' private chats: converts updates and runs the pipeline.

Handlers receive ``pipeline`` and ``sender`` from the Dispatcher's workflow data (aiogram passes
each handler only the arguments it declares), so nothing here is global.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, Update

from bot.telegram.convert import callback_event, member_event, message_event, update_key
from bot.telegram.sender import TelegramSender
from handlers.contract import Incoming
from handlers.pipeline import Pipeline

log = logging.getLogger(__name__)


async def _run(event: Incoming | None, pipeline: Pipeline, sender: TelegramSender) -> None:
    if event is None:
        return
    result = await pipeline.process(event)
    if result.replies:
        await pipeline.deliver(sender, event, result.replies)


def resident_router() -> Router:
    router = Router(name="residents")
    private = F.chat.type == ChatType.PRIVATE

    @router.message(private)
    async def on_message(
        message: Message,
        event_update: Update,
        bot: Bot,
        pipeline: Pipeline,
        sender: TelegramSender,
    ) -> None:
        key = update_key(bot.id, event_update.update_id)
        await _run(message_event(message, key), pipeline, sender)

    @router.callback_query()
    async def on_callback(
        query: CallbackQuery,
        event_update: Update,
        bot: Bot,
        pipeline: Pipeline,
        sender: TelegramSender,
    ) -> None:
        key = update_key(bot.id, event_update.update_id)
        await _run(callback_event(query, key), pipeline, sender)
        try:
            # Stops the button's spinner; after a redelivery the query may be too old — harmless.
            await query.answer()
        except TelegramAPIError as error:
            log.debug("answerCallbackQuery failed: %s", error)

    @router.my_chat_member(private)
    async def on_member(
        update: ChatMemberUpdated,
        event_update: Update,
        bot: Bot,
        pipeline: Pipeline,
        sender: TelegramSender,
    ) -> None:
        key = update_key(bot.id, event_update.update_id)
        await _run(member_event(update, key), pipeline, sender)

    return router
