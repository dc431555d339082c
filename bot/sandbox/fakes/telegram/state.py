"""What the fake remembers: users, chats, stored messages and files, pending updates."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.fakes.telegram.constants import JSON

# --------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    hide_forwards: bool = False
    blocked: bool = False
    deactivated: bool = False
    seen: bool = False  # the bot has seen this user somewhere (private or group)

    def as_dict(self) -> JSON:
        out: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            out["last_name"] = self.last_name
        if self.username:
            out["username"] = self.username
        if self.language_code:
            out["language_code"] = self.language_code
        if self.is_premium:
            out["is_premium"] = True
        return out

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class StoredMessage:
    data: JSON
    from_bot: bool
    service: bool = False


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    user: User | None = None
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    topics: dict[int, JSON] = field(default_factory=dict)
    closed_topics: set[int] = field(default_factory=set)
    keyboard: JSON | None = None
    # Messages sent with a ForceReply (message id -> the markup): what the client knows of them;
    # the Message object never carries it.
    force_replies: dict[int, JSON] = field(default_factory=dict)
    bot_status: str = "member"
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)

    def as_dict(self) -> JSON:
        if self.user is not None:
            out: JSON = {"id": self.id, "first_name": self.user.first_name}
            if self.user.last_name:
                out["last_name"] = self.user.last_name
            if self.user.username:
                out["username"] = self.user.username
            out["type"] = "private"
            return out
        out = {"id": self.id, "title": self.title or "", "type": self.type}
        if self.username:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    path: str
    meta: JSON  # the API object (PhotoSize, Document, ...)
    photo_set: list[JSON] | None = None  # all sizes when this file is a photo


@dataclass(eq=False)  # identity semantics: the same update may be queued twice
class Pending:
    update: JSON
    attempts: int = 0
    in_flight: bool = False


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class CallbackQuery:
    created: float
    answered: bool = False


def unix_now() -> int:
    return int(time.time())


def update_type(update: Mapping[str, Any]) -> str:
    for key in update:
        if key != "update_id":
            return key
    return ""


def snapshot(message: JSON) -> JSON:
    # Telegram never nests reply_to_message more than one level deep.
    out = copy.deepcopy(message)
    out.pop("reply_to_message", None)
    return out


_CONTENT_KEYS = (
    "text",
    "entities",
    "photo",
    "document",
    "sticker",
    "voice",
    "audio",
    "video",
    "animation",
    "video_note",
    "contact",
    "location",
    "venue",
    "poll",
    "dice",
    "caption",
    "caption_entities",
)


def message_content(message: Mapping[str, Any]) -> JSON:
    """The part of a message that forwarding/copying carries over."""
    return {key: copy.deepcopy(message[key]) for key in _CONTENT_KEYS if key in message}


def as_administrator(user: JSON) -> JSON:
    rights = dict.fromkeys(
        (
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_pin_messages",
            "can_manage_topics",
        ),
        True,
    )
    return {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_send_welcome_messages": False,
        **rights,
    }
