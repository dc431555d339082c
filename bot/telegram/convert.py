"""Telegram updates, as the JSON Telegram sends (dicts), -> neutral ``Incoming`` events of
residents' private chats. The staff groups are the operator side's (aiogram's Dispatcher).

No pydantic model is built for a resident's update: parsing the JSON into aiogram's ``Update``
(and the Dispatcher's routing of it) cost more than the rest of the conversation's Python. A
field of the wrong type raises ``KeyError``/``TypeError``/``ValueError`` (``Malformed``): the
webhook answers 400 as it did for an update aiogram could not validate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from messaging.contract import (
    Attachment,
    Contact,
    EventKind,
    Identity,
    Incoming,
    Location,
    telegram_update_key,
)
from storage.vocabulary import Channel

JSON = dict[str, Any]
PRIVATE: Final = "private"
# What a malformed field raises while an update is read.
Malformed = (KeyError, TypeError, ValueError, AttributeError)

# A message's files, by what Telegram calls them. An animation (GIF) comes with a ``document``
# too (Telegram sets both for older clients): it is looked at first.
_FILES: Final = (
    (EventKind.ANIMATION, "animation"),
    (EventKind.VOICE, "voice"),
    (EventKind.AUDIO, "audio"),
    (EventKind.VIDEO_NOTE, "video_note"),
    (EventKind.VIDEO, "video"),
    (EventKind.DOCUMENT, "document"),
)


@dataclass(frozen=True, slots=True)
class ResidentUpdate:
    """An update of a resident's private chat: the event (None: nothing to handle, e.g. a
    button without data) and, for a button press, the query to answer."""

    event: Incoming | None
    callback_id: str | None = None


def resident_update(update: JSON, bot_id: int) -> ResidentUpdate | None:
    """The resident's event in ``update``, or None when the update is not of a private chat
    (the staff side's, or a kind residents do not send). Raises ``Malformed``."""
    key = telegram_update_key(bot_id, int(update["update_id"]))
    message = update.get("message")
    if message is not None:
        if _chat_type(message) != PRIVATE:
            return None
        return ResidentUpdate(message_event(message, key))
    query = update.get("callback_query")
    if query is not None:
        source = query.get("message")
        if source is None or _chat_type(source) != PRIVATE:
            return None
        return ResidentUpdate(callback_event(query, key), callback_id=str(query["id"]))
    member = update.get("my_chat_member")
    if member is not None and _chat_type(member) == PRIVATE:
        return ResidentUpdate(member_event(member, key))
    return None


def chat_key(update: JSON) -> object:
    """Whose update this is (the sender's id): one person's updates are handled in order."""
    for name in ("message", "callback_query", "my_chat_member"):
        event = update.get(name)
        if isinstance(event, dict) and isinstance(event.get("from"), dict):
            return event["from"].get("id")
    return ("update", update.get("update_id"))


def _chat_type(event: JSON) -> str:
    return str(event["chat"]["type"])


def identity_of(user: JSON) -> Identity:
    parts = (user.get("first_name"), user.get("last_name"))
    name = " ".join(str(part) for part in parts if part) or None
    return Identity(
        channel=Channel.TELEGRAM,
        external_id=str(int(user["id"])),
        name=name,
        language_code=user.get("language_code"),
    )


def _command(text: str) -> tuple[str, str] | None:
    """``/start@CityBot payload`` -> ``("start", "payload")``."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    name = head.split("@", 1)[0]
    if not name or not name.replace("_", "").isalnum():
        return None
    return name.lower(), args.strip()


def message_event(message: JSON, update_key: str) -> Incoming | None:
    user = message.get("from")
    if user is None:
        return None
    identity = identity_of(user)
    # The resident used Reply on one of our messages: which one (a staff answer's ticket).
    replied: JSON = message.get("reply_to_message") or {}
    reply_to = (
        str(int(replied["message_id"])) if (replied.get("from") or {}).get("is_bot") else None
    )

    def event(kind: EventKind, **fields: Any) -> Incoming:
        return Incoming(
            identity=identity,
            update_key=update_key,
            kind=kind,
            reply_to_message_id=reply_to,
            **fields,
        )

    text = message.get("text")
    if text is not None:
        text = str(text)
        command = _command(text)
        if command is not None:
            return event(EventKind.COMMAND, text=text, command=command[0], command_args=command[1])
        return event(EventKind.TEXT, text=text)
    caption = message.get("caption")
    if message.get("photo"):
        largest = message["photo"][-1]
        attachment = Attachment(
            kind="photo", ref=str(largest["file_id"]), size=largest.get("file_size")
        )
        return event(EventKind.PHOTO, text=caption, attachment=attachment)
    for kind, field in _FILES:
        file = message.get(field)
        if file is not None:
            attachment = Attachment(
                kind=kind.value,
                ref=str(file["file_id"]),
                file_name=file.get("file_name"),
                mime_type=file.get("mime_type"),
                size=file.get("file_size"),
                duration=file.get("duration"),
            )
            return event(kind, text=caption, attachment=attachment)
    return _other(message, event, caption)


def _other(message: JSON, event: Callable[..., Incoming], caption: str | None) -> Incoming:
    if message.get("sticker") is not None:
        return event(EventKind.STICKER)
    contact = message.get("contact")
    if contact is not None:
        found = Contact(phone=str(contact["phone_number"]), name=contact.get("first_name"))
        return event(EventKind.CONTACT, contact=found)
    location = message.get("location")
    if location is not None:
        where = Location(
            latitude=float(location["latitude"]), longitude=float(location["longitude"])
        )
        return event(EventKind.LOCATION, location=where)
    return event(EventKind.UNSUPPORTED, text=caption)


def callback_event(query: JSON, update_key: str) -> Incoming | None:
    data = query.get("data")
    if not data:
        return None
    return Incoming(
        identity=identity_of(query["from"]),
        kind=EventKind.BUTTON,
        update_key=update_key,
        action=str(data),
        source_message_id=str(int(query["message"]["message_id"])),
    )


def member_event(update: JSON, update_key: str) -> Incoming | None:
    """The resident blocked (``kicked``) or unblocked (``member``) the bot in their private chat."""
    status = update["new_chat_member"]["status"]
    if status == "kicked":
        kind = EventKind.BLOCKED
    elif status == "member":
        kind = EventKind.UNBLOCKED
    else:
        return None
    return Incoming(identity=identity_of(update["from"]), kind=kind, update_key=update_key)
