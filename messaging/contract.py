"""The neutral contract between the conversation core and the messenger adapters.

Adapters turn a Telegram update or a Viber callback into an ``Incoming`` event, hand it to the
core, and render the ``Reply`` values it returns through their ``Sender``. Nothing here knows
aiogram or viberbot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Final, Protocol

from messaging.text import clean_text, clip_file_name

# The longest file name kept (ticket_messages.attachment_name holds 256; most file systems 255).
FILE_NAME_MAX: Final = 255


def _clean_fields(value: object) -> None:
    """Clean every text field of a frozen dataclass built from what a messenger sent, so nothing
    a person typed reaches the database (or a length check) before ``clean_text``."""
    for field in fields(value):  # type: ignore[arg-type]
        text = getattr(value, field.name)
        if type(text) is str:
            cleaned = clean_text(text)
            if cleaned is not text:
                object.__setattr__(value, field.name, cleaned)


class EventKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    CONTACT = "contact"
    LOCATION = "location"
    PHOTO = "photo"
    DOCUMENT = "document"
    VIDEO = "video"
    # A recorded voice message (Telegram ``voice``), a music/audio file (Telegram ``audio``,
    # Viber's audio files), a round video (Telegram ``video_note``), a GIF (Telegram
    # ``animation``): files like the others, shown to staff with a player.
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO_NOTE = "video_note"
    ANIMATION = "animation"
    # A sticker: a kind short answer, nothing to keep.
    STICKER = "sticker"
    # A file the resident sent that the bot could not receive (too big, or the messenger's
    # download failed): ``attachment`` describes it (``ref`` empty), ``text`` is its caption.
    # Answered with what went wrong and recorded; never stored as a ticket's attachment.
    FILE_FAILED = "file_failed"
    # Polls, dice, games, anything else we cannot use: answered politely, never dropped.
    UNSUPPORTED = "unsupported"
    # The resident opened the chat (Viber conversation_started) — may be answered with one message.
    OPENED = "opened"
    # The messenger told us the resident blocked/unsubscribed, or came back.
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    # The resident subscribed to the bot (Viber): reachable now, may be greeted.
    SUBSCRIBED = "subscribed"


@dataclass(frozen=True, slots=True)
class Identity:
    channel: str
    external_id: str
    name: str | None = None
    language_code: str | None = None

    def __post_init__(self) -> None:
        _clean_fields(self)


@dataclass(frozen=True, slots=True)
class Contact:
    phone: str
    name: str | None = None

    def __post_init__(self) -> None:
        _clean_fields(self)


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Attachment:
    """A reference to a file: a Telegram file_id, or (Viber) ``kept:<id>`` of the copy the bot
    downloaded and keeps (``storage.kept_files``), since Viber's media URLs expire."""

    kind: str  # an ``EventKind`` value of ``FILE_KINDS``
    ref: str
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    # Seconds, for voice, audio and video (what the messenger reports).
    duration: int | None = None
    # FILE_FAILED only: why the file could not be received (``TOO_BIG``, ``DOWNLOAD_FAILED``).
    problem: str | None = None

    def __post_init__(self) -> None:
        _clean_fields(self)
        if self.file_name is not None and len(self.file_name) > FILE_NAME_MAX:
            object.__setattr__(self, "file_name", clip_file_name(self.file_name, FILE_NAME_MAX))


# The events that carry a file (``attachment``); their ``text`` is the file's caption.
FILE_KINDS = frozenset(
    {
        EventKind.PHOTO,
        EventKind.DOCUMENT,
        EventKind.VIDEO,
        EventKind.VOICE,
        EventKind.AUDIO,
        EventKind.VIDEO_NOTE,
        EventKind.ANIMATION,
    }
)
# Why a FILE_FAILED file could not be received.
TOO_BIG: Final = "too_big"
DOWNLOAD_FAILED: Final = "download_failed"


@dataclass(frozen=True, slots=True)
class Incoming:
    identity: Identity
    kind: EventKind
    # Unique per messenger delivery: the same key twice means a redelivery.
    update_key: str
    text: str | None = None
    command: str | None = None
    command_args: str = ""
    action: str | None = None
    contact: Contact | None = None
    location: Location | None = None
    attachment: Attachment | None = None
    # The message whose button was pressed (lets Telegram edit it in place).
    source_message_id: str | None = None
    # The message of ours the resident answered with the messenger's Reply (Telegram's
    # reply_to_message), so a follow-up to a staff answer finds its ticket.
    reply_to_message_id: str | None = None

    def __post_init__(self) -> None:
        # Cleaned where it is built, for both messengers: NUL, lone surrogates, NFC
        # (``messaging.text.clean_text``); the nested values clean themselves the same way.
        _clean_fields(self)


def telegram_update_key(bot_id: int, update_id: int) -> str:
    """The claim key of a Telegram update (resident and staff chats share one claim table).
    update_id is unique per bot only: a new bot token starts again from small numbers."""
    return f"{bot_id}:{update_id}"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True, slots=True)
class Media:
    kind: str  # "photo" | "document"
    ref: str  # a Telegram file_id or an https URL
    file_name: str | None = None


class KeyboardKind(StrEnum):
    # Buttons attached to one message (Telegram inline keyboard).
    INLINE = "inline"
    # The persistent main menu (Telegram reply keyboard).
    MENU = "menu"


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to a resident. ``text`` is markup: catalog HTML (b, i) with every value that
    came from a person already escaped; adapters render it for their messenger."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    keyboard: KeyboardKind = KeyboardKind.INLINE
    media: Media | None = None
    # Replace the message whose button was pressed, where the messenger can edit messages.
    replace: bool = False


# Rows of buttons.
Keyboard = tuple[tuple[Button, ...], ...]


def with_keyboard(reply: Reply, keyboard: Keyboard) -> Reply:
    """``reply`` carrying the resident's ``keyboard``, for messengers whose client shows the last
    keyboard sent (Viber): alone when the reply has no buttons, else under its own (a poll's
    options)."""
    if not keyboard or reply.buttons[-len(keyboard) :] == keyboard:
        return reply
    if not reply.buttons:
        return dataclasses.replace(reply, buttons=keyboard, keyboard=KeyboardKind.MENU)
    return dataclasses.replace(reply, buttons=(*reply.buttons, *keyboard))


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: str


@dataclass(frozen=True, slots=True)
class TicketFiled:
    """A resident filed a ticket: the staff side posts its card."""

    ticket_id: int


@dataclass(frozen=True, slots=True)
class ResidentWrote:
    """A resident added a message to a ticket's thread: the staff side shows it."""

    message_id: int
    ticket_id: int


@dataclass(frozen=True, slots=True)
class TicketRated:
    ticket_id: int


@dataclass(frozen=True, slots=True)
class ResidentAnswered:
    """The resident answered "Питання вирішено?" (or acted on "no"): staff are told in the
    ticket's thread. ``what``: resolved | not_resolved | reopened | refiled (then
    ``other_ticket_id`` is the linked ticket)."""

    ticket_id: int
    what: str
    other_ticket_id: int | None = None


@dataclass(frozen=True, slots=True)
class AccountsLinked:
    """A code from this resident's messenger was typed in the other one: tell them there (the
    person who asked for the code learns of the link, also one they did not make)."""

    resident_id: int
    other_channel: str


# What must happen elsewhere once a resident's event is stored (after the commit).
Effect = TicketFiled | ResidentWrote | TicketRated | ResidentAnswered | AccountsLinked


class EffectSink(Protocol):
    """Carries out effects (the staff desk). A failure is logged and retried by a job: the data
    is already stored, nothing is lost."""

    async def apply(self, effect: Effect) -> None: ...


class Sender(Protocol):
    """Delivers replies through one messenger. Raises ``ChannelError`` subclasses."""

    channel: str

    async def send(self, recipient: str, reply: Reply) -> Sent: ...

    async def edit(self, recipient: str, message_id: str, reply: Reply) -> Sent: ...

    def parts(self, reply: Reply) -> tuple[Reply, ...]:
        """``reply`` as the single messages this messenger sends it as (``handlers.parts``):
        ``send`` of each part makes exactly one call."""
        ...


class ChannelError(Exception):
    """A messenger refused or failed a call; ``code`` is the messenger's own error code where it
    gives one (Viber's ``status``, Telegram's ``error_code``)."""

    def __init__(self, message: str, *, channel: str, code: int | None = None) -> None:
        super().__init__(message)
        self.channel = channel
        self.code = code


class TransientChannelError(ChannelError):
    """Worth retrying later: network failure, timeout, a 5xx."""


class CredentialsRefused(TransientChannelError):
    """The messenger refuses the bot's own token (Telegram 401, Viber status 2): it was revoked
    or changed, and no call to this channel succeeds until an administrator sets a valid one.
    Transient for whoever catches channel errors generically, so nothing is dropped meanwhile:
    replies stay owed and deliveries pending; the poller and the delivery engine pause."""


class PermanentChannelError(ChannelError):
    """Retrying the same call cannot succeed: bad request, bad token, too long."""


class RecipientBlocked(PermanentChannelError):
    """The resident blocked the bot or is not subscribed; stop sending to them."""


class RateLimited(TransientChannelError):
    """The messenger asks us to slow down for ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, channel: str, retry_after: float, code: int | None = None
    ) -> None:
        super().__init__(message, channel=channel, code=code)
        self.retry_after = retry_after
