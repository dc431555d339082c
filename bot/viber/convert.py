"""Viber callbacks (parsed by viberbot) -> neutral ``Incoming`` events."""

from __future__ import annotations

import hashlib
from typing import Any

from viberbot.api.messages import (
    ContactMessage,
    FileMessage,
    LocationMessage,
    PictureMessage,
    StickerMessage,
    TextMessage,
    URLMessage,
    VideoMessage,
)
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberMessageRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
)

from bot.viber.render import ACTION_PREFIX
from messaging.contract import Attachment, Contact, EventKind, Identity, Incoming, Location
from storage.vocabulary import Channel


def update_key(raw: dict[str, Any], body: bytes) -> str:
    """Viber's ``message_token`` identifies a callback; without one, the body's hash does."""
    token = raw.get("message_token")
    if token is not None:
        return f"{raw.get('event')}:{token}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _identity(user: Any) -> Identity:
    return Identity(
        channel=Channel.VIBER,
        external_id=str(user.id),
        name=user.name or None,
        language_code=user.language,
    )


def _command(text: str) -> tuple[str, str] | None:
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    if not head.replace("_", "").isalnum():
        return None
    return head.lower(), args.strip()


def _caption(raw_message: dict[str, Any]) -> str | None:
    text = raw_message.get("text")
    return text if isinstance(text, str) and text else None


def message_event(request: ViberMessageRequest, raw: dict[str, Any], key: str) -> Incoming:
    identity = _identity(request.sender)
    message = request.message
    raw_message = raw.get("message") or {}

    def event(kind: EventKind, **fields: Any) -> Incoming:
        return Incoming(identity=identity, kind=kind, update_key=key, **fields)

    if isinstance(message, TextMessage):
        text = message.text or ""
        if text.startswith(ACTION_PREFIX):
            return event(EventKind.BUTTON, action=text[len(ACTION_PREFIX) :])
        command = _command(text)
        if command is not None:
            return event(EventKind.COMMAND, text=text, command=command[0], command_args=command[1])
        return event(EventKind.TEXT, text=text)
    if isinstance(message, PictureMessage | FileMessage | VideoMessage):
        kind, attachment = _file(message, raw_message)
        # Viber's file and video messages carry the resident's caption in "text", as pictures
        # do (viberbot's FileMessage does not read it). The media URL expires: the channel
        # keeps a copy before the event is handled (``bot.viber.media``).
        return event(kind, text=_caption(raw_message), attachment=attachment)
    if isinstance(message, StickerMessage):
        return event(EventKind.STICKER)
    if isinstance(message, ContactMessage) and message.contact is not None:
        contact = Contact(phone=message.contact.phone_number or "", name=message.contact.name)
        return event(EventKind.CONTACT, contact=contact)
    if isinstance(message, LocationMessage) and message.location is not None:
        location = Location(
            latitude=message.location.latitude, longitude=message.location.longitude
        )
        return event(EventKind.LOCATION, location=location)
    if isinstance(message, URLMessage):
        return event(EventKind.TEXT, text=message.media)
    # Rich media (only bots send it): answered politely.
    return event(EventKind.UNSUPPORTED)


# Viber has no voice or audio message type: a recording or a song arrives as a "file". These
# extensions make it an audio file, which staff get with a player.
AUDIO_EXTENSIONS = frozenset({"mp3", "m4a", "ogg", "oga", "opus", "wav", "aac", "amr", "flac"})


def _int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _file(message: Any, raw_message: dict[str, Any]) -> tuple[EventKind, Attachment]:
    name = raw_message.get("file_name")
    file_name = name if isinstance(name, str) and name else None
    kind = EventKind.DOCUMENT
    if isinstance(message, PictureMessage):
        kind = EventKind.PHOTO
    elif isinstance(message, VideoMessage):
        kind = EventKind.VIDEO
    elif file_name and file_name.rsplit(".", 1)[-1].lower() in AUDIO_EXTENSIONS:
        kind = EventKind.AUDIO
    media = raw_message.get("media")
    attachment = Attachment(
        kind=kind.value,
        ref=media if isinstance(media, str) else "",
        file_name=file_name,
        size=_int(raw_message.get("size")),
        duration=_int(raw_message.get("duration")),
    )
    return kind, attachment


def unknown_message_event(raw: dict[str, Any], key: str) -> Incoming:
    """A message of a type this bot does not know (checked by ``shape``: a sender with an id):
    answered like anything else it cannot use, never dropped."""
    sender = raw["sender"]
    name, language = sender.get("name"), sender.get("language")
    identity = Identity(
        channel=Channel.VIBER,
        external_id=str(sender["id"]),
        name=name or None,
        language_code=language,
    )
    return Incoming(identity=identity, kind=EventKind.UNSUPPORTED, update_key=key)


def opened_event(request: ViberConversationStartedRequest, key: str) -> Incoming:
    return Incoming(identity=_identity(request.user), kind=EventKind.OPENED, update_key=key)


def subscribed_event(request: ViberSubscribedRequest, key: str) -> Incoming:
    return Incoming(identity=_identity(request.user), kind=EventKind.SUBSCRIBED, update_key=key)


def unsubscribed_event(request: ViberUnsubscribedRequest, key: str) -> Incoming:
    identity = Identity(channel=Channel.VIBER, external_id=str(request.user_id))
    return Incoming(identity=identity, kind=EventKind.BLOCKED, update_key=key)
