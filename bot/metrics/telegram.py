"""Counting the aiogram client's Bot API calls: one request middleware on the bot's session sees
every call this process makes through aiogram (answers, staff posts, polling, start-up)."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import Response, TelegramMethod

from bot.metrics.core import BLOCKED, ERROR, RATE_LIMITED, REFUSED, Metrics
from storage.vocabulary import Channel

CHANNEL = Channel.TELEGRAM.value


def telegram_outcome(error: Exception) -> str:
    if isinstance(error, TelegramRetryAfter):
        return RATE_LIMITED
    if isinstance(error, TelegramForbiddenError):
        return BLOCKED
    if isinstance(error, TelegramNetworkError | TelegramServerError | OSError | TimeoutError):
        return ERROR
    # Bad request, not found, conflict, unauthorized: Telegram refused the call.
    return REFUSED


class CountedCalls(BaseRequestMiddleware):
    """Counts each call by its Bot API method name (a fixed set) and outcome."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        name = method.__api_method__
        try:
            response = await make_request(bot, method)
        except Exception as error:
            self._metrics.call(CHANNEL, name, telegram_outcome(error))
            if isinstance(error, TelegramRetryAfter):
                self._metrics.retry_after(CHANNEL, float(error.retry_after))
            elif isinstance(error, TelegramUnauthorizedError):
                self._metrics.token_refused(CHANNEL)
            raise
        self._metrics.call(CHANNEL, name)
        return response
