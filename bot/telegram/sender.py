"""``Sender`` for Telegram: renders ``Reply`` values as Bot API calls and maps aiogram's errors
onto the neutral channel errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.telegram.lean import BotApi, reply_markup
from bot.telegram.pacing import ChatPacer
from handlers.parts import split_reply
from messaging.contract import (
    CredentialsRefused,
    KeyboardKind,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
    Reply,
    Sent,
    TransientChannelError,
)
from messaging.text import split_text
from storage.kept_files import KEPT_PREFIX
from storage.vocabulary import Channel

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


def render_markup(reply: Reply) -> Markup | None:
    if not reply.buttons:
        return None
    if reply.keyboard is KeyboardKind.MENU:
        return ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text=b.label) for b in row] for row in reply.buttons],
            resize_keyboard=True,
            is_persistent=True,
        )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.action) for b in row]
            for row in reply.buttons
        ]
    )


@asynccontextmanager
async def channel_errors() -> AsyncIterator[None]:
    """Translate aiogram exceptions into the contract's typed errors."""
    channel = Channel.TELEGRAM
    try:
        yield
    except TelegramRetryAfter as error:
        raise RateLimited(
            error.message, channel=channel, retry_after=float(error.retry_after)
        ) from error
    except TelegramForbiddenError as error:
        # "bot was blocked by the user", "user is deactivated", "bot can't initiate conversation"
        raise RecipientBlocked(error.message, channel=channel) from error
    except TelegramUnauthorizedError as error:
        raise CredentialsRefused(error.message, channel=channel, code=401) from error
    except (TelegramServerError, TelegramNetworkError) as error:
        raise TransientChannelError(str(error), channel=channel) from error
    except (TelegramBadRequest, TelegramNotFound) as error:
        raise PermanentChannelError(error.message, channel=channel) from error


def telegram_parts(reply: Reply) -> tuple[Reply, ...]:
    """``reply`` as the Telegram messages it is sent as (one ``send`` call each)."""
    return split_reply(
        reply,
        split=lambda text: split_text(text, TEXT_LIMIT),
        caption_fits=lambda media_reply: len(media_reply.text) <= CAPTION_LIMIT,
    )


_NOT_MODIFIED = "message is not modified"


# A file the bot keeps itself (``kept:<id>``, e.g. a web desk upload): its bytes and name, or
# None when it is gone. Telegram takes it as an upload (by URL it takes only photos, PDFs and
# ZIPs as documents).
KeptLoader = Callable[[str], Awaitable[BufferedInputFile | None]]


class TelegramSender:
    channel = Channel.TELEGRAM.value

    def __init__(
        self,
        bot: Bot,
        *,
        pacer: ChatPacer | None = None,
        kept: KeptLoader | None = None,
        api: BotApi | None = None,
    ) -> None:
        self._bot = bot
        # Text messages and their edits go as plain JSON (``bot.telegram.lean``); files,
        # which may be uploads, through aiogram.
        self._api = api or BotApi.for_bot(bot)
        # Messages to one resident are spaced as Telegram asks (a short burst, then ~1/s);
        # None: not paced.
        self._pacer = pacer
        self._kept = kept

    def parts(self, reply: Reply) -> tuple[Reply, ...]:
        return telegram_parts(reply)

    async def send(self, recipient: str, reply: Reply) -> Sent:
        chat_id = int(recipient)
        sent: Sent | None = None
        for part in telegram_parts(reply):
            sent = await self._send_part(chat_id, part)
        assert sent is not None
        return sent

    async def _send_part(self, chat_id: int, part: Reply) -> Sent:
        if self._pacer is not None:
            await self._pacer.wait(chat_id)
        if part.media is None:
            async with self._paced(chat_id):
                sent = await self._api.send_text(chat_id, part.text, markup=reply_markup(part))
            return Sent(message_id=str(sent))
        markup = render_markup(part)
        async with self._paced(chat_id), channel_errors():
            send = self._bot.send_photo if part.media.kind == "photo" else self._bot.send_document
            message = await send(
                chat_id,
                await self._file(part.media.ref),
                caption=part.text or None,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        return Sent(message_id=str(message.message_id))

    async def _file(self, ref: str) -> str | BufferedInputFile:
        """A file_id or URL as it is; a kept file's bytes."""
        if self._kept is None or not ref.startswith(KEPT_PREFIX):
            return ref
        upload = await self._kept(ref)
        if upload is None:
            raise PermanentChannelError("the file was erased", channel=Channel.TELEGRAM)
        return upload

    @asynccontextmanager
    async def _paced(self, chat_id: int) -> AsyncIterator[None]:
        """Tell the pacer when Telegram refused a message to the chat (429)."""
        try:
            yield
        except RateLimited as error:
            if self._pacer is not None:
                self._pacer.hold(chat_id, error.retry_after)
            raise

    async def edit(self, recipient: str, message_id: str, reply: Reply) -> Sent:
        """Edit a message in place (inline keyboards only); send anew if it cannot be edited."""
        if reply.media is not None or (reply.buttons and reply.keyboard is KeyboardKind.MENU):
            return await self.send(recipient, reply)
        if self._pacer is not None:
            await self._pacer.wait(int(recipient))
        try:
            async with self._paced(int(recipient)):
                await self._api.edit_text(
                    int(recipient), int(message_id), reply.text, markup=reply_markup(reply)
                )
        except PermanentChannelError as error:
            if isinstance(error, RecipientBlocked):
                raise
            if _NOT_MODIFIED in str(error):
                return Sent(message_id=message_id)
            # Too old to edit, deleted, …: the resident still gets the screen.
            return await self.send(recipient, reply)
        return Sent(message_id=message_id)


class ChatPoster:
    """Posts staff-facing HTML to a Telegram chat (reminders, summaries), split at the limit."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def post(self, chat_id: int, text: str) -> None:
        async with channel_errors():
            for part in split_text(text, TEXT_LIMIT):
                await self._bot.send_message(chat_id, part, parse_mode=ParseMode.HTML)
