"""The send methods: text, media, locations, contacts, albums, forwards and copies."""

from __future__ import annotations

import copy
import math
import mimetypes
import re
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.fakes.telegram.bot_methods import BotMethods
from bot.sandbox.fakes.telegram.constants import CHAT_ACTIONS, JSON, MAX_UPLOAD_SIZE
from bot.sandbox.fakes.telegram.params import Handler, Params
from bot.sandbox.fakes.telegram.records import ApiError, UploadedFile, bad_request
from bot.sandbox.fakes.telegram.state import Chat, message_content


class SendMethods(BotMethods):
    """The send methods: text, media, locations, contacts, albums, forwards and copies."""

    # ---------------------------------------------------------------- send methods

    async def _m_send_message(self, p: Params) -> Any:
        return await self._send(p, lambda: self._text_content(p))

    async def _m_send_photo(self, p: Params) -> Any:
        def build() -> JSON:
            photo = self._photo_from_param(p.values.get("photo"))
            return {"photo": photo, **self._caption_content(p)}

        return await self._send(p, build)

    async def _m_send_document(self, p: Params) -> Any:
        def build() -> JSON:
            document = self._document_from_param(p.values.get("document"))
            return {"document": document, **self._caption_content(p)}

        return await self._send(p, build)

    def _media_from_param(self, kind: str, value: Any, p: Params) -> JSON:
        """Resolve an upload, a known file_id or a URL for audio/video/voice/... sends."""
        if value is None or value == "":
            raise bad_request(f"there is no {kind.replace('_', ' ')} in the request")
        if isinstance(value, str):
            stored = self._files.get(value)
            if stored is not None:
                if stored.kind != kind:
                    label = kind.replace("_", " ").title().replace(" ", "")
                    raise bad_request(f"can't use file of type {stored.kind.title()} as {label}")
                return copy.deepcopy(stored.meta)
            if not re.match(r"^https?://", value):
                raise bad_request("wrong file identifier/HTTP URL specified")
            upload = UploadedFile(urlsplit(value).path.rsplit("/", 1)[-1] or kind, "", b"")
        elif isinstance(value, UploadedFile):
            upload = value
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if upload.size > MAX_UPLOAD_SIZE:
            raise ApiError(413, "Request Entity Too Large")
        meta = _media_meta(kind, upload, p)
        extension = {"sticker": ".webp", "voice": ".oga", "audio": ".mp3"}.get(kind, ".mp4")
        return copy.deepcopy(self._register_file(kind, upload.data, extension, meta).meta)

    def _media_sender(self, kind: str, *, caption: bool = True) -> Handler:
        async def handler(p: Params) -> Any:
            def build() -> JSON:
                content: JSON = {kind: self._media_from_param(kind, p.values.get(kind), p)}
                if caption:
                    content.update(self._caption_content(p))
                return content

            return await self._send(p, build)

        return handler

    async def _m_send_location(self, p: Params) -> Any:
        def build() -> JSON:
            location: JSON = {}
            for axis, bound in (("latitude", 90.0), ("longitude", 180.0)):
                value = p.values.get(axis)
                try:
                    number = float(value) if value is not None else math.nan
                except (TypeError, ValueError):
                    number = math.nan
                if not -bound <= number <= bound:
                    raise bad_request("wrong location specified")
                location[axis] = number
            return {"location": location}

        return await self._send(p, build)

    async def _m_send_contact(self, p: Params) -> Any:
        def build() -> JSON:
            phone, first = p.opt_str("phone_number"), p.opt_str("first_name")
            if not phone:
                raise bad_request("phone number is empty")
            if not first:
                raise bad_request("first name is empty")
            contact: JSON = {"phone_number": phone, "first_name": first}
            if p.present("last_name"):
                contact["last_name"] = p.opt_str("last_name")
            return {"contact": contact}

        return await self._send(p, build)

    async def _m_send_media_group(self, p: Params) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        media = p.opt_json("media")
        if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
            raise bad_request("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media specified: must be between 2 and 10")
        kinds = {str(item.get("type")) for item in media}
        if not kinds <= {"photo", "video", "document", "audio"}:
            raise bad_request("unsupported media type in the media group")
        for alone in ("document", "audio"):
            if alone in kinds and kinds != {alone}:
                raise bad_request(f"{alone} can't be mixed with other media types")
        contents: list[JSON] = []
        for item in media:
            ref = item.get("media")
            if isinstance(ref, str) and ref.startswith("attach://"):
                ref = p.values.get(ref[len("attach://") :])
                if not isinstance(ref, UploadedFile):
                    raise bad_request("wrong file identifier/HTTP URL specified")
            item_params = Params({**item, "media": ref})
            kind = str(item["type"])
            content: JSON
            if kind == "photo":
                content = {"photo": self._photo_from_param(ref)}
            elif kind == "document":
                content = {"document": self._document_from_param(ref)}
            else:
                content = {kind: self._media_from_param(kind, ref, item_params)}
            content.update(self._caption_content(item_params))
            contents.append(content)
        thread_id = self._thread(chat, p)
        reply_to = self._reply_target(chat, p)
        self._admit(chat, p)  # an album counts as one send for flood control
        group_id = str(10_000_000_000_000_000 + self._file_seq * 7919 + chat.next_message_id)
        sent = [
            self._new_message(
                chat,
                self.bot_user,
                {"media_group_id": group_id, **content},
                from_bot=True,
                thread_id=thread_id,
                reply_to=reply_to,
                protect=p.opt_bool("protect_content"),
            )
            for content in contents
        ]
        return copy.deepcopy(sent)

    def _setting_store(self, method: str) -> Handler:
        # setMyDescription & co. only matter to clients; remember them for inspection.
        async def handler(p: Params) -> Any:
            self.bot_settings[method] = dict(p.values)
            return True

        return handler

    async def _m_leave_chat(self, p: Params) -> Any:
        chat = self._chat(p)
        if chat.user is not None:
            raise bad_request("chat member status can't be changed in private chats")
        chat.bot_status = "left"
        return True

    def _source_message(self, p: Params, action: str) -> tuple[Chat, JSON]:
        source_chat = self._chat(p, "from_chat_id")
        message_id = p.req_int("message_id", "message identifier is not specified")
        stored = source_chat.messages.get(message_id)
        if stored is None or stored.service:
            raise bad_request(f"message to {action} not found")
        if stored.data.get("has_protected_content"):
            raise bad_request(f"message has protected content and can't be {action}ed")
        return source_chat, stored.data

    async def _m_forward_message(self, p: Params) -> Any:
        _source_chat, original = self._source_message(p, "forward")

        def build() -> JSON:
            content = message_content(original)
            content["forward_origin"] = original.get("forward_origin") or self._origin(original)
            return content

        return await self._send(p, build, allow_reply_markup=False)

    def _origin(self, message: JSON) -> JSON:
        sender = message.get("from") or {}
        user = self._users.get(int(sender.get("id", 0)))
        if user is not None and user.hide_forwards:
            return {
                "type": "hidden_user",
                "sender_user_name": user.full_name,
                "date": message["date"],
            }
        return {"type": "user", "sender_user": sender, "date": message["date"]}

    async def _m_copy_message(self, p: Params) -> Any:
        _source_chat, original = self._source_message(p, "copy")

        def build() -> JSON:
            content = message_content(original)
            if "text" not in content and p.values.get("caption") is not None:
                content.pop("caption", None)
                content.pop("caption_entities", None)
                content.update(self._caption_content(p))
            return content

        message = await self._send(p, build)
        return {"message_id": message["message_id"]}

    async def _m_send_chat_action(self, p: Params) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        action = p.opt_str("action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._thread(chat, p)
        return True


def _media_meta(kind: str, upload: UploadedFile, p: Params) -> JSON:
    """What Telegram reports about a sent audio, video, voice, sticker, ... file."""
    duration = p.opt_int("duration") or 1
    meta: JSON
    if kind == "sticker":
        meta = {
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        emoji = p.opt_str("emoji")
        if emoji:
            meta["emoji"] = emoji
    elif kind == "video_note":
        meta = {"length": p.opt_int("length") or 240, "duration": duration}
    elif kind == "voice":
        meta = {"duration": duration, "mime_type": "audio/ogg"}
    else:
        mime = mimetypes.guess_type(upload.filename)[0]
        meta = {"duration": duration, "file_name": upload.filename}
        if kind in {"video", "animation"}:
            meta["width"] = p.opt_int("width") or 640
            meta["height"] = p.opt_int("height") or 360
        meta["mime_type"] = mime or ("audio/mpeg" if kind == "audio" else "video/mp4")
    return meta
