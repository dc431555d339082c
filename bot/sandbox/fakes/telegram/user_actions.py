"""What a simulated user does: sending text, media, contacts and locations, pressing buttons."""

from __future__ import annotations

import copy
import mimetypes
import random
import time

from bot.sandbox.fakes.images import image_size, make_png
from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.markup.autodetect import detect_entities, sort_entities
from bot.sandbox.fakes.telegram.records import SimUpdate
from bot.sandbox.fakes.telegram.residents import Residents
from bot.sandbox.fakes.telegram.state import CallbackQuery, unix_now


class UserActions(Residents):
    """What a simulated user does: sending text, media, contacts and locations, pressing buttons."""

    async def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> SimUpdate:
        """The user writes ``text`` (privately, or in group ``chat_id``)."""
        if not text.strip():
            raise ValueError("Telegram clients cannot send empty messages")
        content: JSON = {"text": text}
        entities = detect_entities(text)
        if entities:
            content["entities"] = sort_entities(entities)
        return await self._user_message(
            user_id, chat_id, content, thread_id=thread_id, reply_to=reply_to
        )

    async def edit_text(
        self, user_id: int, message_id: int, text: str, chat_id: int | None = None
    ) -> SimUpdate:
        """The user edits an earlier text message: emits ``edited_message``."""
        user = self._sim_user(user_id)
        chat = self._sim_chat(user, chat_id)
        stored = chat.messages.get(message_id)
        if stored is None or stored.from_bot or stored.data.get("from", {}).get("id") != user_id:
            raise ValueError(f"user {user_id} has no message {message_id} in chat {chat.id}")
        stored.data["text"] = text
        stored.data.pop("entities", None)
        entities = detect_entities(text)
        if entities:
            stored.data["entities"] = sort_entities(entities)
        stored.data["edit_date"] = unix_now()
        return await self._emit({"edited_message": copy.deepcopy(stored.data)})

    async def send_photo(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        caption: str | None = None,
        content: bytes | None = None,
        width: int = 640,
        height: int = 480,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> SimUpdate:
        """The user sends a photo (a generated PNG unless ``content`` is given)."""
        data = content if content is not None else make_png(width, height)
        dims = image_size(data) or (width, height)
        body: JSON = {"photo": self._register_photo(data, *dims)}
        if caption:
            body["caption"] = caption
            entities = detect_entities(caption)
            if entities:
                body["caption_entities"] = sort_entities(entities)
        return await self._user_message(
            user_id, chat_id, body, thread_id=thread_id, reply_to=reply_to
        )

    async def send_document(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        file_name: str = "document.pdf",
        content: bytes = b"%PDF-1.4\n%fake\n",
        mime_type: str | None = None,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> SimUpdate:
        """The user sends a file."""
        body: JSON = {
            "document": copy.deepcopy(self._register_document(content, file_name, mime_type))
        }
        if caption:
            body["caption"] = caption
        return await self._user_message(
            user_id, chat_id, body, thread_id=thread_id, reply_to=reply_to
        )

    async def send_video(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        file_name: str = "video.mp4",
        content: bytes = b"\x00\x00\x00\x18ftypmp42fake-video",
        duration: int = 5,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> SimUpdate:
        """The user sends a video (as a video, not as a file)."""
        meta: JSON = {
            "width": 640,
            "height": 360,
            "duration": duration,
            "file_name": file_name,
            "mime_type": "video/mp4",
        }
        body: JSON = {
            "video": copy.deepcopy(self._register_file("video", content, ".mp4", meta).meta)
        }
        if caption:
            body["caption"] = caption
        return await self._user_message(
            user_id, chat_id, body, thread_id=thread_id, reply_to=reply_to
        )

    async def send_contact(
        self,
        user_id: int,
        phone_number: str = "+380501234567",
        chat_id: int | None = None,
        *,
        own: bool = True,
        first_name: str | None = None,
        last_name: str | None = None,
        contact_user_id: int | None = None,
    ) -> SimUpdate:
        """The user shares a contact; ``own=True`` is the "share my phone" button case
        (contact.user_id is the sender's id)."""
        user = self._sim_user(user_id)
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": first_name or (user.first_name if own else "Contact"),
        }
        surname = last_name if last_name is not None else (user.last_name if own else None)
        if surname:
            contact["last_name"] = surname
        linked = user_id if own else contact_user_id
        if linked is not None:
            contact["user_id"] = linked
        return await self._user_message(
            user_id, chat_id, {"contact": contact}, thread_id=None, reply_to=None
        )

    async def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        chat_id: int | None = None,
        *,
        horizontal_accuracy: float | None = None,
    ) -> SimUpdate:
        """The user shares a location."""
        location: JSON = {"latitude": latitude, "longitude": longitude}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return await self._user_message(
            user_id, chat_id, {"location": location}, thread_id=None, reply_to=None
        )

    async def send_sticker(
        self, user_id: int, emoji: str = "👍", chat_id: int | None = None
    ) -> SimUpdate:
        """The user sends a (static) sticker."""
        stored = self._register_file(
            "sticker",
            b"RIFF\x00\x00\x00\x00WEBPVP8 ",
            ".webp",
            {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "set_name": "FakeStickers",
            },
        )
        return await self._user_message(
            user_id, chat_id, {"sticker": copy.deepcopy(stored.meta)}, thread_id=None, reply_to=None
        )

    async def send_voice(
        self,
        user_id: int,
        duration: int = 3,
        chat_id: int | None = None,
        *,
        content: bytes = b"OggS\x00fake-opus",
        caption: str | None = None,
        size: int | None = None,
    ) -> SimUpdate:
        """The user sends a voice message (recorded in the app: OGG/Opus, no file name).
        ``size`` overrides the reported ``file_size`` (a long recording without its bytes)."""
        meta: JSON = {"duration": duration, "mime_type": "audio/ogg"}
        return await self._user_file(
            user_id, chat_id, "voice", content, ".oga", meta, caption, size
        )

    async def send_audio(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        file_name: str = "song.mp3",
        content: bytes = b"ID3\x04\x00fake-mp3",
        duration: int = 95,
        performer: str | None = "Гурт",
        title: str | None = "Пісня",
        caption: str | None = None,
        size: int | None = None,
    ) -> SimUpdate:
        """The user sends a music file (Telegram shows it with a player: ``audio``)."""
        meta: JSON = {
            "duration": duration,
            "file_name": file_name,
            "mime_type": mimetypes.guess_type(file_name)[0] or "audio/mpeg",
        }
        if performer:
            meta["performer"] = performer
        if title:
            meta["title"] = title
        return await self._user_file(
            user_id, chat_id, "audio", content, ".mp3", meta, caption, size
        )

    async def send_video_note(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        content: bytes = b"\x00\x00\x00\x18ftypmp42round-video",
        duration: int = 7,
        length: int = 384,
        size: int | None = None,
    ) -> SimUpdate:
        """The user sends a round video message (no caption, no file name: Telegram's
        ``VideoNote`` has neither)."""
        meta: JSON = {"duration": duration, "length": length}
        return await self._user_file(
            user_id, chat_id, "video_note", content, ".mp4", meta, None, size
        )

    async def send_animation(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        file_name: str = "funny.gif.mp4",
        content: bytes = b"\x00\x00\x00\x18ftypmp42gif-as-video",
        duration: int = 2,
        caption: str | None = None,
    ) -> SimUpdate:
        """The user sends a GIF. Telegram converts GIFs to MPEG-4 and, "for backward
        compatibility", sets ``document`` to the same file as ``animation``."""
        meta: JSON = {
            "width": 320,
            "height": 240,
            "duration": duration,
            "file_name": file_name,
            "mime_type": "video/mp4",
        }
        stored = self._register_file("animation", content, ".mp4", meta)
        document = {
            key: stored.meta[key]
            for key in ("file_id", "file_unique_id", "file_name", "mime_type", "file_size")
        }
        body: JSON = {"animation": copy.deepcopy(stored.meta), "document": document}
        if caption:
            body["caption"] = caption
        return await self._user_message(user_id, chat_id, body, thread_id=None, reply_to=None)

    async def send_dice(
        self, user_id: int, emoji: str = "🎲", chat_id: int | None = None
    ) -> SimUpdate:
        """The user throws a die (a message with ``dice`` only)."""
        value = random.randint(1, 6)
        return await self._user_message(
            user_id,
            chat_id,
            {"dice": {"emoji": emoji, "value": value}},
            thread_id=None,
            reply_to=None,
        )

    async def _user_file(
        self,
        user_id: int,
        chat_id: int | None,
        kind: str,
        content: bytes,
        extension: str,
        meta: JSON,
        caption: str | None,
        size: int | None,
    ) -> SimUpdate:
        stored = self._register_file(kind, content, extension, meta)
        if size is not None:
            # Telegram accepts files up to 2 GB (4 GB with Premium); the test need not hold them.
            stored.meta["file_size"] = size
        body: JSON = {kind: copy.deepcopy(stored.meta)}
        if caption:
            body["caption"] = caption
        return await self._user_message(user_id, chat_id, body, thread_id=None, reply_to=None)

    async def press_button(
        self,
        user_id: int,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        *,
        strict: bool = True,
    ) -> SimUpdate:
        """The user presses an inline button with ``callback_data == data``.

        With ``strict`` (default) the message must exist, be the bot's and carry
        such a button, since a real client cannot press anything else.
        """
        user = self._sim_user(user_id)
        chat = self._sim_chat(user, chat_id)
        stored = chat.messages.get(message_id)
        if strict:
            buttons = (
                [
                    button.get("callback_data")
                    for row in stored.data.get("reply_markup", {}).get("inline_keyboard", [])
                    for button in row
                ]
                if stored is not None
                else []
            )
            if data not in buttons:
                raise ValueError(f"message {message_id} in chat {chat.id} has no button {data!r}")
        self._callback_seq += 1
        query_id = str(self.bot_id * 1_000_000 + self._callback_seq * 7919)
        self._callbacks[query_id] = CallbackQuery(created=time.monotonic())
        query: JSON = {
            "id": query_id,
            "from": user.as_dict(),
            "chat_instance": str((chat.id * 1_000_003 + self.bot_id) & 0x7FFFFFFFFFFFFFFF),
            "data": data,
        }
        if stored is not None:
            query["message"] = copy.deepcopy(stored.data)
        return await self._emit({"callback_query": query})
