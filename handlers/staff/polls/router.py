"""Wiring of the poll composer into the Telegram Dispatcher, and its closing job.

As for the news composer, the handlers go on the Dispatcher's own observers (they run before
the staff router, which takes every group message): ``/poll``, ``/pollresults``, replies to the
composer's questions, and ``pl:`` buttons, in staff chats only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher, F
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, Update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.jobs import OnceJobs
from broadcasts.polls import CLOSE_SECOND, JOB_NAME
from handlers.contract import telegram_update_key
from handlers.i18n import Catalog
from handlers.staff.polls import callbacks as cb
from handlers.staff.polls.composer import PollComposer, PollSettings
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

GROUP_CHATS: Final = {ChatType.GROUP, ChatType.SUPERGROUP}
# The Dispatcher's workflow-data key of the composer (tests and jobs find it there).
KEY: Final = "polls"


async def _is_ours(message: Message, bot: Bot, polls: PollComposer) -> bool:
    me = await bot.me()
    return await polls.wants(message, me.username or "")


async def _on_message(
    message: Message, event_update: Update, bot: Bot, polls: PollComposer
) -> None:
    me = await bot.me()
    try:
        await polls.on_message(
            message,
            update_key=telegram_update_key(bot.id, event_update.update_id),
            bot_username=me.username or "",
        )
    except (SQLAlchemyError, OSError, TimeoutError):
        # Nothing was stored: let Telegram deliver the update again.
        raise
    except Exception:
        # A bug must not make Telegram redeliver the update forever.
        log.exception("poll message %s failed", event_update.update_id)


async def _on_button(
    query: CallbackQuery, event_update: Update, bot: Bot, polls: PollComposer
) -> None:
    message = query.message
    if message is None or not await polls.is_staff_chat(message.chat.id):
        try:
            await query.answer()
        except TelegramAPIError as error:
            log.debug("answerCallbackQuery failed: %s", error)
        return
    try:
        await polls.on_button(query, update_key=telegram_update_key(bot.id, event_update.update_id))
    except (SQLAlchemyError, OSError, TimeoutError):
        raise
    except Exception:
        log.exception("poll button %s failed", event_update.update_id)


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
) -> PollComposer:
    """Build the composer and register its handlers (the composition root's one call)."""
    composer = PollComposer(
        bot=bot,
        sessionmaker=sessionmaker,
        catalog=catalog,
        clock=clock,
        settings=PollSettings(
            zone=zone, operator_chat_id=operator_chat_id, editors_chat_id=editors_chat_id
        ),
    )
    dispatcher[KEY] = composer
    dispatcher.message.register(_on_message, F.chat.type.in_(GROUP_CHATS), _is_ours)
    dispatcher.callback_query.register(
        _on_button, F.data.startswith(cb.PREFIX + ":"), F.message.chat.type.in_(GROUP_CHATS)
    )
    return composer


def register_poll_jobs(
    jobs: OnceJobs, dispatcher: Dispatcher | None, *, wake: Callable[[], None] | None
) -> PollComposer | None:
    """The closing job (every minute, once per fire time across processes); nothing without
    the Telegram side, where results are posted."""
    composer = dispatcher.get(KEY) if dispatcher is not None else None
    if not isinstance(composer, PollComposer):
        return None
    if wake is not None:
        composer.wake = wake
    closer = composer.closer
    jobs.add(JOB_NAME, closer.run, second=CLOSE_SECOND)
    return composer
