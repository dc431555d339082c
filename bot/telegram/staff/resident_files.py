"""A resident's file into a staff chat, with the Telegram method that makes it playable.

Telegram files are sent again by file_id (any size: nothing is downloaded): a voice message
with ``sendVoice``, a round video with ``sendVideoNote``, a GIF with ``sendAnimation``... Viber
files are the copies the bot kept (``storage.kept_files``, ref ``kept:<id>``): their bytes are
uploaded (a bot may upload up to 50 MB, the most that is kept), as a photo, a video or an audio
when Telegram can show them as such, else as a document.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.types import BufferedInputFile, InputFile, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from messaging.contract import FILE_KINDS
from storage import kept_files

# The attachment kinds sent as files (the others: a location, or text only).
KINDS: Final = frozenset(kind.value for kind in FILE_KINDS)
# Telegram uploads: a photo up to 10 MB; sendAudio plays MP3 and M4A only.
PHOTO_UPLOAD_MAX: Final = 10 * 1024 * 1024
PLAYABLE_AUDIO: Final = frozenset({"audio/mpeg", "audio/mp4", "audio/x-m4a", "audio/m4a"})
_DEFAULT_NAMES: Final = {
    "photo": "photo.jpg",
    "video": "video.mp4",
    "audio": "audio",
    "voice": "voice.ogg",
    "video_note": "video.mp4",
    "animation": "animation.gif",
}


class FileGone(Exception):
    """The kept copy no longer exists (erased with the resident's data)."""


class ResidentFiles:
    def __init__(self, *, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._bot = bot
        self._sessionmaker = sessionmaker

    async def send(self, chat_id: int, kind: str, ref: str, caption: str, **place: Any) -> Message:
        """Post the file; raises aiogram's errors, or ``FileGone``."""
        kept = kept_files.id_of(ref)
        if kept is None:
            return await self._by_id(chat_id, kind, ref, caption, **place)
        async with self._sessionmaker() as session:
            row = await kept_files.load(session, kept)
            if row is None:
                raise FileGone(ref)
            name = row.file_name or _DEFAULT_NAMES.get(kind, "file")
            mime = row.mime_type or mimetypes.guess_type(name)[0]
            upload = BufferedInputFile(row.content, filename=name)
            size = row.size
        method = _upload_method(kind, mime, size)
        return await self._call(method, chat_id, upload, caption, **place)

    async def _by_id(
        self, chat_id: int, kind: str, file_id: str, caption: str, **place: Any
    ) -> Message:
        if kind == "video_note":
            # A round video takes no caption: the words go just before it, and staff reply to
            # either (the thread is the ticket's).
            first = await self._bot.send_message(
                chat_id, caption, parse_mode=ParseMode.HTML, **place
            )
            await self._bot.send_video_note(chat_id, file_id, **place)
            return first
        return await self._call(kind, chat_id, file_id, caption, **place)

    async def _call(
        self, method: str, chat_id: int, file: str | InputFile, caption: str, **place: Any
    ) -> Message:
        common: dict[str, Any] = {"caption": caption, "parse_mode": ParseMode.HTML, **place}
        bot = self._bot
        if method == "photo":
            return await bot.send_photo(chat_id, file, **common)
        if method == "video":
            return await bot.send_video(chat_id, file, **common)
        if method == "voice":
            return await bot.send_voice(chat_id, file, **common)
        if method == "audio":
            return await bot.send_audio(chat_id, file, **common)
        if method == "animation":
            return await bot.send_animation(chat_id, file, **common)
        return await bot.send_document(chat_id, file, **common)


def _upload_method(kind: str, mime: str | None, size: int) -> str:
    """How a kept file is best shown: what Telegram accepts as that kind, else a document."""
    if kind == "photo" and size <= PHOTO_UPLOAD_MAX:
        return "photo"
    if kind == "video" and mime in (None, "video/mp4"):
        return "video"
    if kind == "audio" and mime in PLAYABLE_AUDIO:
        return "audio"
    return "document"


def kept_loader(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Callable[[str], Awaitable[BufferedInputFile | None]]:
    """What ``TelegramSender`` uploads for a kept file's ref (a web desk upload to a Telegram
    resident): its bytes with its name, None when it is gone."""

    async def load(ref: str) -> BufferedInputFile | None:
        kept = kept_files.id_of(ref)
        if kept is None:
            return None
        async with sessionmaker() as session:
            row = await kept_files.load(session, kept)
            if row is None:
                return None
            return BufferedInputFile(row.content, filename=row.file_name or "file")

    return load
