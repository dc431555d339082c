"""The one way a staff-chat feature (tickets, news, polls) is wired to aiogram.

Each feature has ``on_message`` and ``on_button``; this module builds the aiogram handlers around
them, so the three share one policy: staff chats only, the update's claim key, and the failure
rule — database and network errors that may pass are re-raised (nothing was stored, so Telegram
should deliver the update again), any other exception, and data the database refuses, is logged
(a bug must not make Telegram redeliver the update forever). aiogram passes a handler the
workflow data it declares by name; the handlers built here take ``**data`` and pick the feature
by its key, so each feature keeps its own key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeVar

from aiogram import Bot, Dispatcher, F
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, Update

from messaging.contract import telegram_update_key
from storage.errors import TRY_AGAIN_LATER, failure_reason, failure_trace, is_permanent

GROUP_CHATS: Final = {ChatType.GROUP, ChatType.SUPERGROUP}


class StaffChatFeature(Protocol):
    async def on_message(self, message: Message, *, update_key: str, bot_username: str) -> None:
        """Handle a message in a staff chat."""

    async def on_button(self, query: CallbackQuery, *, update_key: str) -> None:
        """Handle a press of one of the feature's buttons in a staff chat."""


class Composer(StaffChatFeature, Protocol):
    async def wants(self, message: Message, bot_username: str) -> bool:
        """Whether the message is for this feature (its command, or an answer to its question)."""


FeatureT = TypeVar("FeatureT", bound=StaffChatFeature)
# Whether a chat is one where the feature works (a method of the feature, unbound).
ChatCheck = Callable[[FeatureT, int], Awaitable[bool]]
MessageHandler = Callable[..., Awaitable[None]]
ButtonHandler = Callable[..., Awaitable[None]]


async def guarded(handled: Awaitable[None], log: logging.Logger, what: str, update_id: int) -> None:
    try:
        await handled
    except TRY_AGAIN_LATER as error:
        if not is_permanent(error):
            # Nothing was stored: let Telegram deliver the update again.
            raise
        # Data the database refuses fails the same way on every redelivery (and in polling
        # mode would hold up every update after it): logged, and not retried.
        _log_failure(log, what, update_id, error)
    except Exception as error:  # noqa: BLE001 - logged with its trace (below), not retried
        # A bug must not make Telegram redeliver the update forever.
        _log_failure(log, what, update_id, error)


def _log_failure(log: logging.Logger, what: str, update_id: int, error: BaseException) -> None:
    # The failure's class and where it happened, not its message (it may quote what was typed).
    log.error(
        "%s %s failed (%s); not retried\n%s",
        what,
        update_id,
        failure_reason(error),
        failure_trace(error),
    )


def message_handler(
    key: str,
    *,
    what: str,
    log: logging.Logger,
    in_chat: ChatCheck[FeatureT] | None = None,
) -> MessageHandler:
    """The message handler of the feature stored under ``key`` in the workflow data; ``in_chat``
    is checked first when no filter has checked the chat already. ``what`` names the feature in
    the log."""

    async def on_message(message: Message, event_update: Update, bot: Bot, **data: Any) -> None:
        feature: FeatureT = data[key]
        if in_chat is not None and not await in_chat(feature, message.chat.id):
            return
        me = await bot.me()
        handled = feature.on_message(
            message,
            update_key=telegram_update_key(bot.id, event_update.update_id),
            bot_username=me.username or "",
        )
        await guarded(handled, log, f"{what} message", event_update.update_id)

    return on_message


def button_handler(
    key: str, *, what: str, log: logging.Logger, in_chat: ChatCheck[FeatureT]
) -> ButtonHandler:
    """The button handler of the feature stored under ``key``: a press outside the feature's
    chats is only answered (so the client stops its spinner)."""

    async def on_button(query: CallbackQuery, event_update: Update, bot: Bot, **data: Any) -> None:
        feature: FeatureT = data[key]
        message = query.message
        if message is None or not await in_chat(feature, message.chat.id):
            try:
                await query.answer()
            except TelegramAPIError as error:
                log.debug("answerCallbackQuery failed: %s", error)
            return
        handled = feature.on_button(
            query, update_key=telegram_update_key(bot.id, event_update.update_id)
        )
        await guarded(handled, log, f"{what} button", event_update.update_id)

    return on_button


def install_composer(
    dispatcher: Dispatcher,
    composer: Composer,
    *,
    key: str,
    prefix: str,
    what: str,
    log: logging.Logger,
    in_chat: ChatCheck[Any],
) -> None:
    """Store a composer under ``key`` and register its handlers on the Dispatcher's own
    observers, which run before any included router (the staff router takes every group message):
    messages the composer ``wants`` and its ``prefix:`` buttons, in group chats."""

    async def is_ours(message: Message, bot: Bot, **data: Any) -> bool:
        wanting: Composer = data[key]
        me = await bot.me()
        return await wanting.wants(message, me.username or "")

    dispatcher[key] = composer
    dispatcher.message.register(
        message_handler(key, what=what, log=log), F.chat.type.in_(GROUP_CHATS), is_ours
    )
    dispatcher.callback_query.register(
        button_handler(key, what=what, log=log, in_chat=in_chat),
        F.data.startswith(prefix + ":"),
        F.message.chat.type.in_(GROUP_CHATS),
    )
