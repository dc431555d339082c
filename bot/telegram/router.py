"""Residents' private chats: their updates, read as JSON (``bot.telegram.convert``), go straight
to the pipeline; a button press is answered (its spinner stopped) with a plain JSON call.

aiogram's Dispatcher keeps the staff groups (``bot.telegram.staff``); of the residents' side it
keeps one catch-all, ``resident_router``: a button press no staff handler took is answered.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery

from bot.telegram.convert import ResidentUpdate
from bot.telegram.lean import BotApi
from bot.telegram.sender import TelegramSender
from handlers.pipeline import Pipeline
from messaging.contract import ChannelError

log = logging.getLogger(__name__)


class ResidentRoute:
    def __init__(self, *, pipeline: Pipeline, sender: TelegramSender, api: BotApi) -> None:
        self._pipeline = pipeline
        self._sender = sender
        self._api = api

    async def handle(self, update: ResidentUpdate, *, answer_first: bool = False) -> None:
        """Store the event (then the replies: right away, or after the webhook's answer with
        ``answer_first``), then stop the button's spinner."""
        if update.event is not None:
            await self._pipeline.handle(update.event, self._sender, later=answer_first)
        if update.callback_id is not None:
            try:
                await self._api.call(
                    "answerCallbackQuery", {"callback_query_id": update.callback_id}
                )
            except ChannelError as error:
                # After a redelivery the query may be too old.
                log.debug("answerCallbackQuery failed: %s", error)


def resident_router() -> Router:
    """The last of the Dispatcher's routers: a button press nothing else took (outside the
    residents' chats, which never reach the Dispatcher) gets its spinner stopped."""
    router = Router(name="residents")

    async def answer(query: CallbackQuery) -> None:
        try:
            await query.answer()
        except TelegramAPIError as error:
            log.debug("answerCallbackQuery failed: %s", error)

    router.callback_query.register(answer)
    return router
