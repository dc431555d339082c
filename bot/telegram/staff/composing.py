"""What the news and the poll composers decide alike about a staff message.

A composer works in the editors' chat and in every staff chat, takes its own commands and the
answers to its own questions (a reply to a bot message it stored as a prompt), and audits a
refused action the same way. The prompt tables differ, so the prompt lookup is a parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.service import Command, Work, full_name, parse_command
from messaging.text import markup_to_plain
from storage import audit, staff_desk
from storage.models import Staff

# A composer's prompt of (chat, message), or None; storage's news and polls ``get_prompt``.
FindPrompt = Callable[..., Awaitable[object | None]]


def command_of(message: Message, bot_username: str) -> Command | None:
    """The command in a message's text or media caption, if it is one for this bot."""
    text = message.text if message.text is not None else (message.caption or "")
    return parse_command(text, bot_username) if text.startswith("/") else None


async def is_composer_chat(
    sessionmaker: async_sessionmaker[AsyncSession],
    chat_id: int,
    *,
    editors_chat_id: int | None,
    operator_chat_id: int | None,
) -> bool:
    """The editors' chat, the operator chat or a queue's chat."""
    if chat_id == editors_chat_id:
        return True
    async with sessionmaker() as session:
        return await staff_desk.is_staff_chat(
            session, chat_id=chat_id, operator_chat_id=operator_chat_id
        )


async def wants(
    message: Message,
    bot_username: str,
    *,
    bot_id: int,
    commands: Collection[str],
    sessionmaker: async_sessionmaker[AsyncSession],
    find_prompt: FindPrompt,
    in_chat: Callable[[int], Awaitable[bool]],
) -> bool:
    """One of ``commands``, or an answer to one of the composer's questions, in its chat."""
    command = command_of(message, bot_username)
    if command is not None:
        if command.name not in commands:
            return False
    else:
        reply = message.reply_to_message
        if reply is None or reply.from_user is None or reply.from_user.id != bot_id:
            return False
        async with sessionmaker() as session:
            prompt = await find_prompt(
                session, chat_id=message.chat.id, message_id=reply.message_id
            )
        if prompt is None:
            return False
    return await in_chat(message.chat.id)


def record_refusal(
    work: Work,
    user: User,
    staff: Staff | None,
    *,
    chat_id: int,
    what: str,
    feature: str,
    log: logging.Logger,
) -> None:
    """Audit (``<feature>.denied``) and log an action refused to ``user`` (``staff`` is their
    staff record, if any)."""
    audit.record(
        work.session,
        actor=f"telegram:{user.id}",
        action=f"{feature}.denied",
        now=work.now,
        details={
            "chat": chat_id,
            "what": what[:100],
            "role": staff.role if staff is not None else None,
            "name": full_name(user)[:128],
        },
    )
    log.info("%s action %s by %s refused", feature, what, user.id)


async def answer_query(
    log: logging.Logger, query: CallbackQuery, text: str | None, *, alert: bool = False
) -> None:
    """Stop the button's spinner with ``text`` (plain, Telegram's 200 characters) if any; after a
    redelivery the query may be too old, which is only logged."""
    try:
        await query.answer(text=markup_to_plain(text)[:200] if text else None, show_alert=alert)
    except TelegramAPIError as error:
        log.debug("answerCallbackQuery failed: %s", error)
