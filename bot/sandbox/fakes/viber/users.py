"""The simulated users: what they send, the buttons they press, subscriptions and receipts."""

from __future__ import annotations

import hashlib
import json
from base64 import b64encode

from bot.sandbox.fakes.images import make_png
from bot.sandbox.fakes.viber.endpoints import Endpoints
from bot.sandbox.fakes.viber.protocol import MAX_USER_FILE, NOT_DELIVERED, JSONDict
from bot.sandbox.fakes.viber.records import ViberUser


class Users(Endpoints):
    """The simulated users: what they send, the buttons they press, subscriptions and receipts."""

    # ------------------------------------------------------------------ simulated users

    def user(
        self,
        user_id: str | None = None,
        *,
        name: str | None = None,
        language: str = "uk",
        country: str = "UA",
        avatar: str | None = None,
        api_version: int = 10,
        subscribed: bool = False,
        phone_number: str = "+380501234567",
        suitable_device: bool = True,
        online_status: int = 0,
    ) -> ViberUser:
        """Register (or re-register) a Viber user; no callback is sent."""
        seq = next(self._user_seq)
        if user_id is None:
            # Real ids are 24-char base64 strings ending in "==", unique per account.
            user_id = b64encode(hashlib.md5(f"user-{seq}".encode()).digest()).decode()
        profile = ViberUser(
            id=user_id,
            name=name if name is not None else f"User {seq}",
            avatar=avatar,
            language=language,
            country=country,
            api_version=api_version,
            subscribed=subscribed,
            phone_number=phone_number,
            suitable_device=suitable_device,
            online_status=online_status,
        )
        self.users[user_id] = profile
        return profile

    def _get_user(self, user_id: str) -> ViberUser:
        # A real user can write to the bot without being known beforehand.
        user = self.users.get(user_id)
        return user if user is not None else self.user(user_id)

    def _user_object(self, user: ViberUser) -> JSONDict:
        obj: JSONDict = {"id": user.id}
        # Names and photos are shared only when the bot asked via set_webhook.
        if self.send_name:
            obj["name"] = user.name
        if self.send_photo and user.avatar is not None:
            obj["avatar"] = user.avatar
        obj.update(language=user.language, country=user.country, api_version=user.api_version)
        return obj

    async def send_message_object(
        self,
        user_id: str,
        message: JSONDict,
        *,
        tracking_data: str | None = None,
        message_token: int | None = None,
        silent: bool = False,
    ) -> int:
        """The user sends `message` (any Viber message object); returns the bot's HTTP status.

        send_text/send_picture/... are shortcuts for this.  The user is auto-registered
        if unknown and becomes subscribed (writing to a bot subscribes, silently).
        """
        user = self._get_user(user_id)
        # Writing to the bot subscribes the user, with no "subscribed" callback.
        user.subscribed = True
        user.unreplied.clear()
        message = dict(message)
        if tracking_data is None and self.echo_tracking_data:
            # Viber hands the tracking_data of the bot's last message back with the reply.
            tracking_data = self._last_tracking.get(user.id)
        if tracking_data is not None:
            message["tracking_data"] = tracking_data
        event = self._base_event("message", message_token)
        event.update(sender=self._user_object(user), message=message, silent=silent)
        self._log_entry(user.id, "in", message)
        self._notify()
        record = await self._emit(event)
        return record.attempts[0] if record is not None else NOT_DELIVERED

    async def send_text(
        self,
        user_id: str,
        text: str,
        tracking_data: str | None = None,
        *,
        message_token: int | None = None,
    ) -> int:
        return await self.send_message_object(
            user_id,
            {"type": "text", "text": text},
            tracking_data=tracking_data,
            message_token=message_token,
        )

    async def send_picture(
        self,
        user_id: str,
        media: str | None = None,
        *,
        text: str | None = None,
        thumbnail: str | None = None,
        file_name: str = "photo.jpg",
        size: int | None = None,
        content: bytes | None = None,
        tracking_data: str | None = None,
        message_token: int | None = None,
    ) -> int:
        """The user sends a picture: ``content`` (a small PNG by default) served at an expiring
        media URL here, unless ``media`` names another URL."""
        media, actual = self._media_url(media, content, file_name, make_png(4, 3))
        size = actual if size is None else size
        message: JSONDict = {
            "type": "picture",
            "media": media,
            "thumbnail": thumbnail or media,
            "file_name": file_name,
            "size": size,
        }
        if text is not None:
            message["text"] = text
        return await self.send_message_object(
            user_id, message, tracking_data=tracking_data, message_token=message_token
        )

    async def send_video(
        self,
        user_id: str,
        media: str | None = None,
        *,
        size: int | None = None,
        duration: int = 10,
        text: str | None = None,
        thumbnail: str | None = None,
        content: bytes | None = None,
        tracking_data: str | None = None,
        message_token: int | None = None,
    ) -> int:
        """The user sends a video (MPEG-4), served here at an expiring URL unless ``media``."""
        default = b"\x00\x00\x00\x18ftypmp42viber-video"
        media, actual = self._media_url(media, content, "video.mp4", default)
        size = actual if size is None else size
        message: JSONDict = {"type": "video", "media": media, "size": size, "duration": duration}
        if thumbnail is not None:
            message["thumbnail"] = thumbnail
        if text is not None:
            message["text"] = text
        return await self.send_message_object(
            user_id, message, tracking_data=tracking_data, message_token=message_token
        )

    async def send_file(
        self,
        user_id: str,
        media: str | None = None,
        *,
        file_name: str = "doc.pdf",
        size: int | None = None,
        text: str | None = None,
        content: bytes | None = None,
        tracking_data: str | None = None,
        message_token: int | None = None,
    ) -> int:
        """The user sends a file of any type (a recording or a song too: Viber has no audio
        message), served here at an expiring URL unless ``media``. ``size`` overrides the
        declared size (a big file without holding its bytes); Viber allows up to 200 MB."""
        media, actual = self._media_url(media, content, file_name, b"%PDF-1.4\n%viber\n")
        size = actual if size is None else size
        if size > MAX_USER_FILE:
            raise ValueError("Viber does not let a user send a file over 200 MB")
        # "size" is what Viber sends and what the SDKs read; "file_size" is the name the
        # REST docs' field table uses, so both are present.
        message: JSONDict = {
            "type": "file",
            "media": media,
            "file_name": file_name,
            "size": size,
            "file_size": size,
        }
        if text is not None:
            # The caption a resident typed with the file.
            message["text"] = text
        return await self.send_message_object(
            user_id, message, tracking_data=tracking_data, message_token=message_token
        )

    async def send_location(
        self,
        user_id: str,
        lat: float,
        lon: float,
        *,
        address: str | None = None,
        tracking_data: str | None = None,
        message_token: int | None = None,
    ) -> int:
        location: JSONDict = {"lat": lat, "lon": lon}
        if address is not None:
            location["address"] = address
        return await self.send_message_object(
            user_id,
            {"type": "location", "location": location},
            tracking_data=tracking_data,
            message_token=message_token,
        )

    async def send_contact(
        self,
        user_id: str,
        name: str,
        phone_number: str,
        *,
        avatar: str | None = None,
        tracking_data: str | None = None,
        message_token: int | None = None,
    ) -> int:
        contact: JSONDict = {"name": name, "phone_number": phone_number}
        if avatar is not None:
            contact["avatar"] = avatar
        return await self.send_message_object(
            user_id,
            {"type": "contact", "contact": contact},
            tracking_data=tracking_data,
            message_token=message_token,
        )

    async def send_sticker(
        self,
        user_id: str,
        sticker_id: int = 40133,
        *,
        tracking_data: str | None = None,
        message_token: int | None = None,
    ) -> int:
        message: JSONDict = {
            "type": "sticker",
            "sticker_id": sticker_id,
            "media": f"https://viber.com/stickers/{sticker_id}.png",
        }
        return await self.send_message_object(
            user_id, message, tracking_data=tracking_data, message_token=message_token
        )

    async def send_url(
        self,
        user_id: str,
        url: str,
        *,
        tracking_data: str | None = None,
        message_token: int | None = None,
    ) -> int:
        return await self.send_message_object(
            user_id,
            {"type": "url", "media": url},
            tracking_data=tracking_data,
            message_token=message_token,
        )

    def current_keyboard(self, user_id: str) -> JSONDict | None:
        """The keyboard the user sees: the last message's (None if it carried none). Viber's
        keyboards guide: a keyboard is attached to a message, and the client shows the last
        message's; a message without one leaves the resident without buttons."""
        deliveries = self._deliveries.get(user_id, [])
        keyboard = deliveries[-1].payload.get("keyboard") if deliveries else None
        return keyboard if isinstance(keyboard, dict) else None

    async def press_button(
        self,
        user_id: str,
        label: str,
        *,
        lat: float = 50.4501,
        lon: float = 30.5234,
    ) -> int:
        """Tap a button of the current keyboard, found by its Text or ActionBody.

        reply sends ActionBody as a text message, share-phone the user's contact,
        location-picker a location, none nothing.  open-url is treated like reply (an
        assumption: the docs do not say whether the bot is told about URL taps).
        """
        keyboard = self.current_keyboard(user_id)
        if keyboard is None:
            raise LookupError(f"user {user_id!r} has no keyboard")
        buttons = keyboard.get("Buttons", [])
        button = next((b for b in buttons if b.get("Text") == label), None) or next(
            (b for b in buttons if b.get("ActionBody") == label), None
        )
        if button is None:
            raise LookupError(f"no button {label!r} in the current keyboard")
        action = button.get("ActionType", "reply")
        if action == "none":
            return NOT_DELIVERED
        if action == "share-phone":
            user = self._get_user(user_id)
            return await self.send_contact(user_id, user.name, user.phone_number)
        if action == "location-picker":
            return await self.send_location(user_id, lat, lon)
        return await self.send_text(user_id, str(button["ActionBody"]))

    async def conversation_started(
        self,
        user_id: str,
        subscribed: bool | None = None,
        *,
        context: str | None = None,
        message_token: int | None = None,
    ) -> tuple[int, JSONDict | None]:
        """The user opens the chat.  Returns (HTTP status, parsed welcome body or None).

        `subscribed` defaults to the user's current state; passing it sets that state.
        A valid welcome body answered with HTTP 200 is recorded as a message to the user.
        """
        user = self._get_user(user_id)
        if subscribed is not None:
            user.subscribed = subscribed
        event = self._base_event("conversation_started", message_token)
        event.update(type="open", user=self._user_object(user), subscribed=user.subscribed)
        if context is not None:
            event["context"] = context
        record = await self._emit(event)
        if record is None:
            return NOT_DELIVERED, None
        welcome: JSONDict | None = None
        if record.attempts[0] == 200 and record.response_body.strip():
            try:
                parsed = json.loads(record.response_body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                parsed = None
            welcome = parsed if isinstance(parsed, dict) else None
        return record.attempts[0], welcome

    async def subscribe(self, user_id: str) -> int:
        """The user taps "subscribe": state changes, then a subscribed callback is sent."""
        user = self._get_user(user_id)
        user.subscribed = True
        event = self._base_event("subscribed")
        event["user"] = self._user_object(user)
        record = await self._emit(event)
        return record.attempts[0] if record is not None else NOT_DELIVERED

    async def unsubscribe(self, user_id: str) -> int:
        """The user unsubscribes: later sends get status 6."""
        user = self._get_user(user_id)
        user.subscribed = False
        event = self._base_event("unsubscribed")
        event["user_id"] = user.id
        record = await self._emit(event)
        return record.attempts[0] if record is not None else NOT_DELIVERED
