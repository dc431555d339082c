"""One budget for everything this process sends with the bot token.

Telegram counts a bot's messages against one limit (about 30 a second), whoever in the process
sends them: the delivery engine's broadcasts, answers to residents, the staff desk's posts. The
engine paces itself with a ``broadcasts.limits.Pacer``; this aiogram request middleware makes
every other sending call take its start from the same pacer, ahead of the broadcast (an answer
waits at most one spacing, about 34 ms at 30/s), so the two together never exceed the limit.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod

from broadcasts.limits import Pacer

# Calls that put or change a message in a chat. Reads (getUpdates, getFile, getMe), webhook
# management and answerCallbackQuery (a toast, not a message) are not counted.
_COUNTED_PREFIXES: Final = ("send", "copy", "forward", "edit", "createForumTopic")


def counts_toward_limit(method_name: str) -> bool:
    return method_name.startswith(_COUNTED_PREFIXES)


class SharedBudget(BaseRequestMiddleware):
    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        if counts_toward_limit(method.__api_method__):
            delay = self._pacer.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
        return await make_request(bot, method)
