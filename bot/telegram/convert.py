"""Telegram updates -> neutral ``Incoming`` events (private chats only; the staff group is
handled by the operator side)."""

from __future__ import annotations

from typing import Any

from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, User

from messaging.contract import Attachment, Contact, EventKind, Identity, Incoming, Location
from storage.vocabulary import Channel


def identity_of(user: User) -> Identity:
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or None
    return Identity(
        channel=Channel.TELEGRAM,
        external_id=str(user.id),
        name=name,
        language_code=user.language_code,
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


def message_event(message: Message, update_key: str) -> Incoming | None:
    if message.chat.type != ChatType.PRIVATE or message.from_user is None:
        return None
    user = message.from_user

    # The resident used Reply on one of our messages: which one (a staff answer's ticket).
    replied = message.reply_to_message
    reply_to = (
        str(replied.message_id)
        if replied is not None and replied.from_user is not None and replied.from_user.is_bot
        else None
    )

    def event(kind: EventKind, **fields: Any) -> Incoming:
        return Incoming(
            identity=identity_of(user),
            update_key=update_key,
            kind=kind,
            reply_to_message_id=reply_to,
            **fields,
        )

    caption = message.caption
    if message.text is not None:
        command = _command(message.text)
        if command is not None:
            return event(
                EventKind.COMMAND, text=message.text, command=command[0], command_args=command[1]
            )
        return event(EventKind.TEXT, text=message.text)
    if message.photo:
        largest = message.photo[-1]
        attachment = Attachment(kind="photo", ref=largest.file_id, size=largest.file_size)
        return event(EventKind.PHOTO, text=caption, attachment=attachment)
    file = _file(message)
    if file is not None:
        kind, attachment = file
        return event(kind, text=caption, attachment=attachment)
    if message.sticker is not None:
        return event(EventKind.STICKER)
    if message.contact is not None:
        contact = Contact(phone=message.contact.phone_number, name=message.contact.first_name)
        return event(EventKind.CONTACT, contact=contact)
    if message.location is not None:
        location = Location(
            latitude=message.location.latitude, longitude=message.location.longitude
        )
        return event(EventKind.LOCATION, location=location)
    return event(EventKind.UNSUPPORTED, text=caption)


def _file(message: Message) -> tuple[EventKind, Attachment] | None:
    """The file a message carries, by what Telegram calls it. An animation (GIF) comes with a
    ``document`` too (Telegram sets both for older clients): it is looked at first."""
    files: tuple[tuple[EventKind, Any], ...] = (
        (EventKind.ANIMATION, message.animation),
        (EventKind.VOICE, message.voice),
        (EventKind.AUDIO, message.audio),
        (EventKind.VIDEO_NOTE, message.video_note),
        (EventKind.VIDEO, message.video),
        (EventKind.DOCUMENT, message.document),
    )
    for kind, file in files:
        if file is None:
            continue
        attachment = Attachment(
            kind=kind.value,
            ref=file.file_id,
            file_name=getattr(file, "file_name", None),
            mime_type=getattr(file, "mime_type", None),
            size=file.file_size,
            duration=getattr(file, "duration", None),
        )
        return kind, attachment
    return None


def callback_event(query: CallbackQuery, update_key: str) -> Incoming | None:
    message = query.message
    if message is None or message.chat.type != ChatType.PRIVATE or not query.data:
        return None
    return Incoming(
        identity=identity_of(query.from_user),
        kind=EventKind.BUTTON,
        update_key=update_key,
        action=query.data,
        source_message_id=str(message.message_id),
    )


def member_event(update: ChatMemberUpdated, update_key: str) -> Incoming | None:
    """The resident blocked (``kicked``) or unblocked (``member``) the bot in their private chat."""
    if update.chat.type != ChatType.PRIVATE:
        return None
    status = update.new_chat_member.status
    if status == ChatMemberStatus.KICKED:
        kind = EventKind.BLOCKED
    elif status == ChatMemberStatus.MEMBER:
        kind = EventKind.UNBLOCKED
    else:
        return None
    return Incoming(identity=identity_of(update.from_user), kind=kind, update_key=update_key)
