"""A fake Viber REST Bot API server for tests.

`FakeViber` listens on 127.0.0.1 (random free port) over real HTTP and answers the
endpoints of https://developers.viber.com/docs/api/rest-bot-api/ the way Viber documents
them, so a bot under test can point its API base URL at ``fake.base_url`` and never learn
it is not talking to ``https://chatapi.viber.com/pa``.  It also plays the Viber users:
``send_text`` & co. POST signed callbacks to the bot's webhook, exactly as Viber does.

Behaviour that is reproduced on purpose (all from the public docs unless noted):

* Every API answer is HTTP 200 with JSON ``{"status": N, "status_message": ...}``; the
  status codes and their names are Viber's error table (``STATUS_MESSAGES``).
* Auth token in the ``X-Viber-Auth-Token`` header, or ``auth_token`` in the body (the
  official Python SDK only sends the latter, and it works in production).
* ``set_webhook`` performs the availability check: it POSTs a signed ``webhook`` event to
  the URL and succeeds only if the bot answers HTTP 200, otherwise status 1.  An empty
  ``url`` removes the webhook.  ``event_types`` filters the optional callbacks
  (delivered, seen, failed, conversation_started); message/subscribed/unsubscribed are
  mandatory.  ``send_name``/``send_photo`` default to false, and then user objects in
  callbacks carry no ``name``/``avatar`` - Viber only shares them when the bot opts in.
* Callbacks carry ``X-Viber-Content-Signature`` (hex HMAC-SHA256 of the raw body keyed by
  the auth token) and, by default, the same value as a ``sig`` query parameter (the
  official Node SDK reads the signature from there, so real Viber sends both).
* A user's first message subscribes them implicitly, without a ``subscribed`` callback.
* A ``conversation_started`` callback may be answered with a message body: the "welcome
  message", which is shown to the user even if they are not subscribed.
* Viber re-tries callbacks that did not get HTTP 200; see "Redelivery" below.

Redelivery (bounded, our design - Viber says it retries "several times"): every signed
callback the fake emits (except the set_webhook check and ``post_raw``) becomes a
``CallbackRecord``.  If the bot answers anything but 200 (or times out / refuses), the
record stays pending until it has been attempted ``max_callback_attempts`` times in total
(default 3), after which it is dropped and counted in ``stats.callbacks_dropped``.  Each
retry re-sends the *identical* bytes - same ``message_token``, same signature - because
that is what a real duplicate looks like.  Retries are manual by default (``await
fake.redeliver()`` retries every pending record once) so tests stay deterministic; with
``auto_redeliver=True`` the fake retries by itself in background tasks after
``redelivery_backoff * 2**(attempt-1)`` seconds, and ``await fake.drain()`` waits for them.

Broadcast to an account without broadcast permission: Viber's error table has a dedicated
code, 20 "broadcastNotAllowed" ("Attempt to send broadcast message from the bot"), and the
broadcast guide says the ability is opened only on approval by Viber - so that is what a
``FakeViber(broadcast_enabled=False)`` answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import mimetypes
import secrets
import struct
import time
import urllib.parse
import zlib
from base64 import b64encode
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

import aiohttp
from aiohttp import web
from yarl import URL

JSONDict = dict[str, Any]

AUTH_HEADER = "X-Viber-Auth-Token"
SIGNATURE_HEADER = "X-Viber-Content-Signature"

# Viber's documented error table.  status_message uses these names verbatim, except where
# Viber documents a different wording (broadcast failed_list entries).
STATUS_MESSAGES: dict[int, str] = {
    0: "ok",
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    7: "publicAccountBlocked",
    8: "publicAccountNotFound",
    9: "publicAccountSuspended",
    10: "webhookNotSet",
    11: "receiverNoSuitableDevice",
    12: "tooManyRequests",
    13: "apiVersionNotSupported",
    14: "incompatibleWithVersion",
    15: "publicAccountNotAuthorized",
    16: "inchatReplyMessageNotAllowed",
    17: "publicAccountIsNotInline",
    18: "noPublicChat",
    19: "cannotSendBroadcast",
    20: "broadcastNotAllowed",
    21: "unsupportedCountry",
    22: "paymentUnsupported",
    23: "freeMessagesExceeded",
    24: "noBalance",
}

OK = 0
INVALID_URL = 1
INVALID_AUTH_TOKEN = 2
BAD_DATA = 3
MISSING_DATA = 4
RECEIVER_NOT_REGISTERED = 5
RECEIVER_NOT_SUBSCRIBED = 6
WEBHOOK_NOT_SET = 10
RECEIVER_NO_SUITABLE_DEVICE = 11
TOO_MANY_REQUESTS = 12
API_VERSION_NOT_SUPPORTED = 13
NO_PUBLIC_CHAT = 18
BROADCAST_NOT_ALLOWED = 20

# Wording of failed_list entries in the broadcast docs' example response.
_BROADCAST_FAILURE_TEXT = {
    RECEIVER_NOT_REGISTERED: "Not found",
    RECEIVER_NOT_SUBSCRIBED: "Not subscribed",
    RECEIVER_NO_SUITABLE_DEVICE: "No suitable device",
}

MESSAGE_TYPES = frozenset(
    {"text", "picture", "video", "file", "location", "contact", "sticker", "url", "rich_media"}
)
OPTIONAL_EVENTS = (
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
)
MANDATORY_EVENTS = frozenset({"message", "subscribed", "unsubscribed"})
BUTTON_ACTION_TYPES = frozenset({"reply", "open-url", "share-phone", "location-picker", "none"})

MAX_REQUEST_BYTES = 30 * 1024  # "The maximum JSON size for all API requests is 30kb"
MAX_TEXT = 7000
MAX_SENDER_NAME = 28
MAX_TRACKING_DATA = 4096
MAX_BROADCAST_LIST = 300
MAX_GET_ONLINE_IDS = 100
MAX_BUTTON_TEXT = 250
# A subset of the executable formats Viber refuses in file messages.
FORBIDDEN_FILE_EXTENSIONS = frozenset(
    {"exe", "bat", "cmd", "com", "cpl", "dll", "msi", "scr", "vbs", "apk", "jar", "ps1", "reg"}
)
# Broadcast place holders, replaced per receiver (documented in the broadcast guide).
_PH_URL_ID = "replace_me_with_url_encoded_receiver_id"
_PH_ID = "replace_me_with_receiver_id"
_PH_NAME = "replace_me_with_user_name"

# Media URLs in callbacks are signed CDN links that expire: Viber's docs give them a TTL of one
# hour; past it (or with a tampered signature) the CDN answers 403, an unknown object 404.
MEDIA_TTL = 3600.0
# What a user may send: Viber lets people share files up to 200 MB.
MAX_USER_FILE = 200 * 1024 * 1024


def _png(width: int = 4, height: int = 3) -> bytes:
    """A valid grey PNG (what a user's picture is, in tests)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    raw = zlib.compress((b"\x00" + b"\x80" * width) * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


_FIRST_TOKEN = 4_912_661_846_655_238_145  # the docs' example token; stays within int64
_USER_DETAILS_WINDOW = 12 * 3600.0  # "can be sent twice during a 12 hours period"

# HTTP status reported by simulation methods when no HTTP answer exists: no webhook set,
# the event was filtered out by event_types, or the connection failed / timed out.
NOT_DELIVERED = 0


class _ApiError(Exception):
    """Raised inside handlers; rendered as a Viber status response."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class ViberUser:
    """A simulated Viber user as seen by the bot's account."""

    id: str
    name: str
    avatar: str | None = None
    language: str = "uk"
    country: str = "UA"
    api_version: int = 10
    subscribed: bool = False
    phone_number: str = "+380501234567"
    # False simulates an old client / unsupported device (status 11 on send).
    suitable_device: bool = True
    # get_online: 0 online, 1 offline, 2 undisclosed.
    online_status: int = 0
    primary_device_os: str = "Android 13"
    viber_version: str = "21.0.0.0"
    device_type: str = "Pixel 7"
    mcc: int = 255
    mnc: int = 1
    # Monotonic times of bot messages since the user's last message (per-user cap).
    unreplied: deque[float] = field(default_factory=deque, repr=False)
    # get_user_details calls (monotonic times) for the optional 2-per-12h limit.
    details_calls: deque[float] = field(default_factory=deque, repr=False)


@dataclass
class Delivery:
    """One message that reached a user's chat."""

    user_id: str
    source: Literal["send_message", "broadcast_message", "welcome"]
    message_token: int
    payload: JSONDict  # the JSON the bot sent (placeholders already substituted)


@dataclass
class ChatEntry:
    """One message on a user's screen: ``in`` from the user, ``out`` from the bot."""

    seq: int
    direction: Literal["in", "out"]
    message: JSONDict
    timestamp_ms: int


@dataclass
class ApiCall:
    """One request to /pa/<endpoint> with the answer the fake gave."""

    endpoint: str
    body: JSONDict
    response: JSONDict
    reason: str  # why a non-zero status was returned ("" on success)


@dataclass
class CallbackRecord:
    """A callback POSTed (or to be re-POSTed) to the webhook."""

    event: JSONDict
    body: bytes
    signature: str | None
    redeliverable: bool
    attempts: list[int] = field(default_factory=list)  # HTTP status per attempt, 0 = none
    response_body: bytes = b""  # body of the last answer (welcome message lives here)
    gave_up: bool = False
    retry_scheduled: bool = False

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1] == 200


@dataclass
class FakeViberStats:
    calls: int = 0  # every request to /pa/*
    messages_sent: int = 0  # accepted send_message/broadcast_message/post calls + welcomes
    recipients_reached: int = 0  # per-user deliveries (a broadcast counts each receiver)
    rate_limited: int = 0  # answers with status 12
    callbacks_sent: int = 0  # HTTP attempts at the webhook, retries included
    callbacks_failed: int = 0  # attempts that did not get HTTP 200
    callbacks_dropped: int = 0  # records abandoned after max_callback_attempts


@dataclass
class _Injection:
    status: int | None
    http_status: int | None


class _SlidingWindow:
    """At most `limit` events per `window` seconds (sliding), memory bounded by `limit`."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but JSON true is not a number to Viber.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _require(obj: JSONDict, key: str, where: str) -> Any:
    value = obj.get(key)
    if value is None or value == "":
        raise _ApiError(MISSING_DATA, f"{where}{key} is missing")
    return value


def _check_str(value: Any, what: str, max_len: int | None = None) -> str:
    if not isinstance(value, str):
        raise _ApiError(BAD_DATA, f"{what} must be a string")
    if max_len is not None and len(value) > max_len:
        raise _ApiError(BAD_DATA, f"{what} longer than {max_len} characters")
    return value


def _check_int_range(obj: JSONDict, key: str, lo: int, hi: int, where: str) -> None:
    if key in obj and not (_is_int(obj[key]) and lo <= obj[key] <= hi):
        raise _ApiError(BAD_DATA, f"{where}{key} must be an integer {lo}..{hi}")


def _check_choice(obj: JSONDict, key: str, choices: frozenset[str], where: str) -> None:
    if key in obj and obj[key] not in choices:
        raise _ApiError(BAD_DATA, f"{where}{key} must be one of {sorted(choices)}")


def _check_media(body: JSONDict, key: str = "media", max_len: int = 2000) -> None:
    media = _require(body, key, "")
    _check_str(media, key, max_len)
    if not _is_http_url(media):
        raise _ApiError(BAD_DATA, f"{key} must be an http(s) URL")


def _validate_buttons(buttons: Any, where: str, max_rows: int) -> None:
    if not isinstance(buttons, list) or not buttons:
        raise _ApiError(BAD_DATA, f"{where}Buttons must be a non-empty list")
    for index, button in enumerate(buttons):
        at = f"{where}Buttons[{index}]."
        if not isinstance(button, dict):
            raise _ApiError(BAD_DATA, f"{at[:-1]} must be an object")
        if "ActionBody" not in button or button["ActionBody"] is None:
            raise _ApiError(BAD_DATA, f"{at}ActionBody is required")
        _check_str(button["ActionBody"], f"{at}ActionBody")
        _check_choice(button, "ActionType", BUTTON_ACTION_TYPES, at)
        _check_int_range(button, "Columns", 1, 6, at)
        _check_int_range(button, "Rows", 1, max_rows, at)
        if "Text" in button:
            _check_str(button["Text"], f"{at}Text", MAX_BUTTON_TEXT)
        _check_choice(button, "TextSize", frozenset({"small", "regular", "large"}), at)
        _check_choice(button, "TextVAlign", frozenset({"top", "middle", "bottom"}), at)
        _check_choice(button, "TextHAlign", frozenset({"left", "center", "right"}), at)
        _check_int_range(button, "TextOpacity", 0, 100, at)
        if "Silent" in button and not isinstance(button["Silent"], bool):
            raise _ApiError(BAD_DATA, f"{at}Silent must be a boolean")


def validate_keyboard(keyboard: Any) -> None:
    """Raise _ApiError(3) if the keyboard object breaks Viber's keyboard schema."""
    if not isinstance(keyboard, dict):
        raise _ApiError(BAD_DATA, "keyboard must be an object")
    # The keyboards guide's own examples omit "Type", so only a wrong value is an error.
    if "Type" in keyboard and keyboard["Type"] != "keyboard":
        raise _ApiError(BAD_DATA, 'keyboard.Type must be "keyboard"')
    _validate_buttons(keyboard.get("Buttons"), "keyboard.", max_rows=2)
    if "DefaultHeight" in keyboard and not isinstance(keyboard["DefaultHeight"], bool):
        raise _ApiError(BAD_DATA, "keyboard.DefaultHeight must be a boolean")
    _check_int_range(keyboard, "CustomDefaultHeight", 40, 70, "keyboard.")
    _check_int_range(keyboard, "HeightScale", 20, 100, "keyboard.")
    _check_int_range(keyboard, "ButtonsGroupColumns", 1, 6, "keyboard.")
    _check_int_range(keyboard, "ButtonsGroupRows", 1, 7, "keyboard.")
    _check_choice(
        keyboard, "InputFieldState", frozenset({"regular", "minimized", "hidden"}), "keyboard."
    )


def validate_message(body: JSONDict, *, check_keyboard: bool = True) -> None:
    """Validate the message part of send_message/broadcast_message/post/welcome bodies.

    Missing mandatory data -> status 4, present-but-wrong data -> status 3 (Viber's
    "missingData" vs "badData").  Receiver fields are checked by the caller.
    """
    sender = body.get("sender")
    if sender is None:
        raise _ApiError(MISSING_DATA, "sender is missing")
    if not isinstance(sender, dict):
        raise _ApiError(BAD_DATA, "sender must be an object")
    _check_str(_require(sender, "name", "sender."), "sender.name", MAX_SENDER_NAME)
    if sender.get("avatar") is not None:
        _check_str(sender["avatar"], "sender.avatar")
    if body.get("tracking_data") is not None:
        _check_str(body["tracking_data"], "tracking_data", MAX_TRACKING_DATA)
    if "min_api_version" in body and not (
        _is_int(body["min_api_version"]) and body["min_api_version"] >= 1
    ):
        raise _ApiError(BAD_DATA, "min_api_version must be a positive integer")
    keyboard = body.get("keyboard")
    if keyboard is not None and check_keyboard:
        validate_keyboard(keyboard)

    mtype = body.get("type")
    if mtype is None:
        # "The keyboard can be attached to any message type or sent on its own."
        if keyboard is not None:
            return
        raise _ApiError(MISSING_DATA, "type is missing")
    if mtype not in MESSAGE_TYPES:
        raise _ApiError(BAD_DATA, f"unknown message type {mtype!r}")

    if mtype == "text":
        _check_str(_require(body, "text", ""), "text", MAX_TEXT)
    elif mtype == "picture":
        _check_media(body)
        if body.get("text") is not None:
            _check_str(body["text"], "text", 768)
        if body.get("thumbnail") is not None:
            _check_str(body["thumbnail"], "thumbnail")
    elif mtype == "video":
        _check_media(body)
        if not _is_int(_require(body, "size", "")):
            raise _ApiError(BAD_DATA, "size must be an integer")
        _check_int_range(body, "duration", 0, 180, "")
    elif mtype == "file":
        _check_media(body)
        size = _require(body, "size", "")
        if not (_is_int(size) and 0 <= size <= 50 * 1024 * 1024):
            raise _ApiError(BAD_DATA, "size must be an integer up to 50 MB")
        name = _check_str(_require(body, "file_name", ""), "file_name", 256)
        if name.rsplit(".", 1)[-1].lower() in FORBIDDEN_FILE_EXTENSIONS and "." in name:
            raise _ApiError(BAD_DATA, "forbidden file type")
    elif mtype == "contact":
        contact = _require(body, "contact", "")
        if not isinstance(contact, dict):
            raise _ApiError(BAD_DATA, "contact must be an object")
        _check_str(_require(contact, "name", "contact."), "contact.name", 28)
        _check_str(_require(contact, "phone_number", "contact."), "contact.phone_number", 18)
    elif mtype == "location":
        location = _require(body, "location", "")
        if not isinstance(location, dict):
            raise _ApiError(BAD_DATA, "location must be an object")
        lat = location.get("lat")
        lon = location.get("lon")
        if lat is None or lon is None:
            raise _ApiError(MISSING_DATA, "location.lat/lon are missing")
        if not (_is_number(lat) and _is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise _ApiError(BAD_DATA, "location.lat/lon out of range")
    elif mtype == "url":
        _check_media(body, max_len=2000)
    elif mtype == "sticker":
        if not _is_int(_require(body, "sticker_id", "")):
            raise _ApiError(BAD_DATA, "sticker_id must be an integer")
    elif mtype == "rich_media":
        rich = _require(body, "rich_media", "")
        if not isinstance(rich, dict):
            raise _ApiError(BAD_DATA, "rich_media must be an object")
        _validate_buttons(rich.get("Buttons"), "rich_media.", max_rows=7)
        _check_int_range(rich, "ButtonsGroupColumns", 1, 6, "rich_media.")
        _check_int_range(rich, "ButtonsGroupRows", 1, 7, "rich_media.")


def _substitute(value: Any, replacements: list[tuple[str, str]]) -> Any:
    """Replace broadcast place holders in every string of a JSON value."""
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_substitute(item, replacements) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, replacements) for key, item in value.items()}
    return value


@dataclass
class HostedMedia:
    """A file a simulated user sent, served at its (expiring) media URL."""

    content: bytes
    content_type: str
    expires_at: float
    downloads: int = 0


class FakeViber:
    """Fake Viber REST Bot API + simulated users.  See the module docstring."""

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_name: str = "CityBot",
        require_https: bool = False,
        broadcast_enabled: bool = True,
        public_chat: bool = False,
        admins: tuple[str, ...] = ("pa-admin-0000000000000000==",),
        rate_limit: tuple[int, float] | None = None,
        broadcast_rate_limit: tuple[int, float] | None = None,
        unreplied_limit: int | None = None,
        unreplied_window: float = 3600.0,
        user_details_limit: int | None = None,
        latency: float = 0.0,
        callback_timeout: float = 5.0,
        max_callback_attempts: int = 3,
        auto_redeliver: bool = False,
        redelivery_backoff: float = 0.05,
        sig_query_param: bool = True,
        echo_tracking_data: bool = True,
        auto_delivered: bool = False,
        keyboard_errors: Literal["status", "failed_callback"] = "status",
        chat_hostname: str = "SN-CHAT-07_",
        media_ttl: float = MEDIA_TTL,
    ) -> None:
        if max_callback_attempts < 1:
            raise ValueError("max_callback_attempts must be >= 1")
        self.token = token
        self.account_name = account_name
        self.require_https = require_https
        self.broadcast_enabled = broadcast_enabled
        self.public_chat = public_chat
        self.admins = admins
        self.unreplied_limit = unreplied_limit
        self.unreplied_window = unreplied_window
        self.user_details_limit = user_details_limit
        self.latency = latency
        self.callback_timeout = callback_timeout
        self.max_callback_attempts = max_callback_attempts
        self.auto_redeliver = auto_redeliver
        self.redelivery_backoff = redelivery_backoff
        self.sig_query_param = sig_query_param
        self.echo_tracking_data = echo_tracking_data
        self.auto_delivered = auto_delivered
        self.keyboard_errors = keyboard_errors
        self.chat_hostname = chat_hostname
        self.media_ttl = media_ttl
        # Files users sent, by the key in their media URL.
        self.media: dict[str, HostedMedia] = {}
        self._media_key = secrets.token_bytes(16)
        # Set to 7/8/9 to make every authenticated call fail like a blocked, missing or
        # suspended account.
        self.account_status: int | None = None

        self._host = host
        self._port = port
        self._send_window = _SlidingWindow(*rate_limit) if rate_limit else None
        self._broadcast_window = (
            _SlidingWindow(*broadcast_rate_limit) if broadcast_rate_limit else None
        )

        # Webhook state (set through the set_webhook endpoint only).
        self.webhook_url: str | None = None
        self.event_types: list[str] = []
        self.send_name = False
        self.send_photo = False

        self.users: dict[str, ViberUser] = {}
        self.calls: list[tuple[str, JSONDict]] = []
        self.api_log: list[ApiCall] = []
        self.callbacks: list[CallbackRecord] = []
        self.public_posts: list[JSONDict] = []
        self.welcome_rejections: list[tuple[str, str]] = []  # (user_id, reason)
        self.stats = FakeViberStats()

        self._deliveries: dict[str, list[Delivery]] = {}
        # Both directions of each user's chat, in order (what the user's screen shows).
        self._transcripts: dict[str, list[ChatEntry]] = {}
        self._entry_seq = itertools.count(1)
        self._listeners: list[Callable[[], None]] = []
        self._last_tracking: dict[str, str] = {}
        self._injections: dict[str, deque[_Injection]] = {}
        self._tokens = itertools.count(_FIRST_TOKEN)
        self._user_seq = itertools.count(1)
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._bound_port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeViber already started")
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/pa/{endpoint}", self._dispatch)
        app.router.add_get("/media/{key}/{name}", self._serve_media)
        # A short shutdown timeout: stop() must not hang on a bot's keep-alive sockets.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.callback_timeout)
        )

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("FakeViber is not started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        """Drop-in replacement for https://chatapi.viber.com/pa."""
        return f"http://{self._host}:{self.port}/pa"

    # ------------------------------------------------------------------ helpers

    def signature(self, body: bytes) -> str:
        """Viber's callback signature: hex HMAC-SHA256 of the raw body, key = auth token."""
        return hmac.new(self.token.encode("utf-8"), body, hashlib.sha256).hexdigest()

    def _next_token(self) -> int:
        return next(self._tokens)

    @staticmethod
    def _now_ms() -> int:
        return int(time.time() * 1000)

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine in a task that stop() will cancel and await."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notify(self) -> None:
        # Wake every waiter; each re-checks its own condition.
        self._changed.set()
        self._changed = asyncio.Event()
        for listener in self._listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (synchronously, cheaply) after every change of state."""
        self._listeners.append(listener)

    def _log_entry(self, user_id: str, direction: Literal["in", "out"], message: JSONDict) -> None:
        entry = ChatEntry(next(self._entry_seq), direction, message, self._now_ms())
        self._transcripts.setdefault(user_id, []).append(entry)

    def fail_next(
        self,
        endpoint: str,
        *,
        status: int | None = None,
        http_status: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `endpoint` fail.

        `status` answers HTTP 200 with that Viber status (after the auth check);
        `http_status` answers a bare HTTP error, as an outage or a proxy would.
        """
        if (status is None) == (http_status is None):
            raise ValueError("give exactly one of status / http_status")
        queue = self._injections.setdefault(endpoint, deque())
        queue.extend(_Injection(status, http_status) for _ in range(times))

    def clear(self) -> None:
        """Forget logs, deliveries and counters (users and webhook stay)."""
        self.calls.clear()
        self.api_log.clear()
        self.callbacks.clear()
        self.public_posts.clear()
        self.welcome_rejections.clear()
        self._deliveries.clear()
        self._transcripts.clear()
        self.stats = FakeViberStats()

    # ------------------------------------------------------------------ HTTP API

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        handler = {
            "set_webhook": self._set_webhook,
            "get_account_info": self._get_account_info,
            "send_message": self._send_message,
            "broadcast_message": self._broadcast_message,
            "get_user_details": self._get_user_details,
            "get_online": self._get_online,
            "post": self._post_to_public_chat,
        }.get(endpoint)
        if handler is None:
            raise web.HTTPNotFound()
        raw = await request.read()
        self.stats.calls += 1
        body: JSONDict = {}
        parse_error = ""
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            if isinstance(parsed, dict):
                body = parsed
            else:
                parse_error = "request body must be a JSON object"
        except (UnicodeDecodeError, ValueError):
            parse_error = "request body is not valid JSON"
        self.calls.append((endpoint, body))
        if self.latency > 0:
            await asyncio.sleep(self.latency)

        injection = None
        queue = self._injections.get(endpoint)
        if queue:
            injection = queue.popleft()
        if injection is not None and injection.http_status is not None:
            self.api_log.append(ApiCall(endpoint, body, {}, f"HTTP {injection.http_status}"))
            return web.Response(status=injection.http_status, text="injected failure")

        reason = ""
        try:
            if parse_error:
                raise _ApiError(BAD_DATA, parse_error)
            self._check_auth(request, body)
            if injection is not None and injection.status is not None:
                raise _ApiError(injection.status, "injected failure")
            if self.account_status is not None:
                raise _ApiError(self.account_status, "account state")
            if len(raw) > MAX_REQUEST_BYTES:
                raise _ApiError(BAD_DATA, f"request larger than {MAX_REQUEST_BYTES} bytes")
            response = await handler(body)
        except _ApiError as err:
            reason = err.reason
            if err.status == TOO_MANY_REQUESTS:
                self.stats.rate_limited += 1
            response = {
                "status": err.status,
                "status_message": STATUS_MESSAGES.get(err.status, "generalError"),
                "chat_hostname": self.chat_hostname,
            }
        self.api_log.append(ApiCall(endpoint, body, response, reason))
        return web.json_response(response)

    def _check_auth(self, request: web.Request, body: JSONDict) -> None:
        supplied = request.headers.get(AUTH_HEADER)
        if supplied is None:
            in_body = body.get("auth_token")
            supplied = in_body if isinstance(in_body, str) else None
        if not supplied:
            raise _ApiError(INVALID_AUTH_TOKEN, "missing_auth_token")
        if not hmac.compare_digest(supplied.encode("utf-8"), self.token.encode("utf-8")):
            raise _ApiError(INVALID_AUTH_TOKEN, "auth token does not match")

    def _ok(self, **extra: Any) -> JSONDict:
        return {"status": OK, "status_message": "ok", **extra}

    async def _set_webhook(self, body: JSONDict) -> JSONDict:
        if "url" not in body or body["url"] is None:
            raise _ApiError(MISSING_DATA, "url is missing")
        url = body["url"]
        if not isinstance(url, str):
            raise _ApiError(BAD_DATA, "url must be a string")
        if url == "":
            # Removing the webhook also closes 1-on-1 chats with the bot.
            self.webhook_url = None
            self.event_types = []
            return self._ok(event_types=[], chat_hostname=self.chat_hostname)

        requested = body.get("event_types")
        if requested is None:
            events = list(OPTIONAL_EVENTS)
        else:
            if not isinstance(requested, list) or not all(isinstance(e, str) for e in requested):
                raise _ApiError(BAD_DATA, "event_types must be a list of strings")
            unknown = set(requested) - set(OPTIONAL_EVENTS) - MANDATORY_EVENTS
            if unknown:
                raise _ApiError(BAD_DATA, f"unknown event types {sorted(unknown)}")
            # subscribed/unsubscribed cannot be filtered out, so they are always on.
            wanted = set(requested) | {"subscribed", "unsubscribed"}
            events = [e for e in OPTIONAL_EVENTS if e in wanted]
        for flag in ("send_name", "send_photo"):
            if flag in body and not isinstance(body[flag], bool):
                raise _ApiError(BAD_DATA, f"{flag} must be a boolean")

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _ApiError(INVALID_URL, "url is not an absolute http(s) URL")
        if self.require_https and parts.scheme != "https":
            raise _ApiError(INVALID_URL, "webhook must use https")

        # The availability check: a signed "webhook" event that must get HTTP 200.
        event = {
            "event": "webhook",
            "timestamp": self._now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": self._next_token(),
        }
        record = self._make_record(event, redeliverable=False)
        self.callbacks.append(record)
        status = await self._attempt(record, url)
        if status != 200:
            raise _ApiError(INVALID_URL, f"webhook check got HTTP {status or 'no answer'}")
        self.webhook_url = url
        self.event_types = events
        self.send_name = bool(body.get("send_name", False))
        self.send_photo = bool(body.get("send_photo", False))
        return self._ok(event_types=events, chat_hostname=self.chat_hostname)

    async def _get_account_info(self, body: JSONDict) -> JSONDict:
        info = self._ok(
            id="pa:" + str(int(hashlib.sha256(self.token.encode()).hexdigest()[:15], 16)),
            name=self.account_name,
            uri=self.account_name.lower().replace(" ", ""),
            icon="https://example.invalid/icon.jpg",
            background="https://example.invalid/background.jpg",
            category="Local Business",
            subcategory="Government",
            location={"lon": 30.5234, "lat": 50.4501},
            country="UA",
            event_types=list(self.event_types),
            subscribers_count=sum(1 for u in self.users.values() if u.subscribed),
            members=[
                {"id": admin, "name": f"Admin {i + 1}", "role": "admin"}
                for i, admin in enumerate(self.admins)
            ],
            chat_hostname=self.chat_hostname,
        )
        if self.webhook_url is not None:
            info["webhook"] = self.webhook_url
        return info

    def _require_webhook(self) -> None:
        if self.webhook_url is None:
            raise _ApiError(WEBHOOK_NOT_SET, "no webhook was set for the account")

    def _validate(self, body: JSONDict) -> str | None:
        """validate_message honoring keyboard_errors; returns a deferred keyboard error."""
        if self.keyboard_errors == "status":
            validate_message(body)
            return None
        validate_message(body, check_keyboard=False)
        if body.get("keyboard") is not None:
            try:
                validate_keyboard(body["keyboard"])
            except _ApiError as err:
                # Viber FAQ: most keyboard validation happens on the client, which then
                # reports it with a "failed" callback after a status-0 answer.
                return err.reason
        return None

    def _receiver_status(self, user: ViberUser | None, body: JSONDict) -> int:
        if user is None:
            return RECEIVER_NOT_REGISTERED
        if not user.subscribed:
            return RECEIVER_NOT_SUBSCRIBED
        if not user.suitable_device:
            return RECEIVER_NO_SUITABLE_DEVICE
        if _is_int(body.get("min_api_version")) and body["min_api_version"] > user.api_version:
            return API_VERSION_NOT_SUPPORTED
        return OK

    async def _send_message(self, body: JSONDict) -> JSONDict:
        if self._send_window is not None and not self._send_window.allow(time.monotonic()):
            raise _ApiError(TOO_MANY_REQUESTS, "send_message rate limit")
        self._require_webhook()
        receiver = body.get("receiver")
        if receiver is None or receiver == "":
            raise _ApiError(MISSING_DATA, "receiver is missing")
        if not isinstance(receiver, str):
            raise _ApiError(BAD_DATA, "receiver must be a string")
        keyboard_error = self._validate(body)
        user = self.users.get(receiver)
        status = self._receiver_status(user, body)
        if status != OK:
            raise _ApiError(status, f"receiver {receiver!r}: {STATUS_MESSAGES[status]}")
        assert user is not None
        if self.unreplied_limit is not None:
            now = time.monotonic()
            while user.unreplied and now - user.unreplied[0] >= self.unreplied_window:
                user.unreplied.popleft()
            if len(user.unreplied) >= self.unreplied_limit:
                raise _ApiError(TOO_MANY_REQUESTS, "per-user limit of unreplied messages")
        token = self._next_token()
        self.stats.messages_sent += 1
        if keyboard_error is not None:
            self._track(self._failed_later(user.id, token, keyboard_error))
        else:
            self._record_delivery(user, "send_message", token, body)
        return self._ok(message_token=token, chat_hostname=self.chat_hostname)

    async def _failed_later(self, user_id: str, token: int, desc: str) -> None:
        await self.failed(user_id, token, desc)

    async def _broadcast_message(self, body: JSONDict) -> JSONDict:
        if self._broadcast_window is not None and not self._broadcast_window.allow(
            time.monotonic()
        ):
            raise _ApiError(TOO_MANY_REQUESTS, "broadcast rate limit")
        if not self.broadcast_enabled:
            raise _ApiError(BROADCAST_NOT_ALLOWED, "broadcast is not enabled for this account")
        self._require_webhook()
        receivers = body.get("broadcast_list")
        if receivers is None or receivers == []:
            raise _ApiError(MISSING_DATA, "broadcast_list is missing")
        if not isinstance(receivers, list) or not all(isinstance(r, str) for r in receivers):
            raise _ApiError(BAD_DATA, "broadcast_list must be a list of user ids")
        if len(receivers) > MAX_BROADCAST_LIST:
            raise _ApiError(BAD_DATA, f"broadcast_list longer than {MAX_BROADCAST_LIST}")
        keyboard_error = self._validate(body)
        token = self._next_token()
        failed_list: list[JSONDict] = []
        # What each receiver gets: the message without the list of receivers. Placeholders are
        # substituted only when the message has any (substituting the whole body per receiver
        # cost the fake 0.2 s of CPU per 300-receiver call and made it the bottleneck of the
        # broadcast benchmark).
        message = {key: value for key, value in body.items() if key != "broadcast_list"}
        templated = any(
            placeholder in json.dumps(message, ensure_ascii=False)
            for placeholder in (_PH_URL_ID, _PH_ID, _PH_NAME)
        )
        for receiver in receivers:
            user = self.users.get(receiver)
            status = self._receiver_status(user, body)
            if status != OK:
                failed_list.append(
                    {
                        "receiver": receiver,
                        "status": status,
                        "status_message": _BROADCAST_FAILURE_TEXT.get(
                            status, STATUS_MESSAGES[status]
                        ),
                    }
                )
                continue
            assert user is not None
            if keyboard_error is not None:
                self._track(self._failed_later(user.id, token, keyboard_error))
                continue
            payload = (
                _substitute(
                    message,
                    [
                        (_PH_URL_ID, urllib.parse.quote(user.id, safe="")),
                        (_PH_ID, user.id),
                        (_PH_NAME, user.name),
                    ],
                )
                if templated
                else dict(message)
            )
            self._record_delivery(user, "broadcast_message", token, payload)
        self.stats.messages_sent += 1
        return self._ok(
            message_token=token, failed_list=failed_list, chat_hostname=self.chat_hostname
        )

    async def _get_user_details(self, body: JSONDict) -> JSONDict:
        user_id = body.get("id")
        if user_id is None or user_id == "":
            raise _ApiError(MISSING_DATA, "id is missing")
        if not isinstance(user_id, str):
            raise _ApiError(BAD_DATA, "id must be a string")
        user = self.users.get(user_id)
        if user is None:
            raise _ApiError(RECEIVER_NOT_REGISTERED, f"unknown user {user_id!r}")
        if self.user_details_limit is not None:
            now = time.monotonic()
            while user.details_calls and now - user.details_calls[0] >= _USER_DETAILS_WINDOW:
                user.details_calls.popleft()
            if len(user.details_calls) >= self.user_details_limit:
                raise _ApiError(TOO_MANY_REQUESTS, "get_user_details limit per user")
            user.details_calls.append(now)
        details: JSONDict = {
            "id": user.id,
            "name": user.name,
            "country": user.country,
            "language": user.language,
            "primary_device_os": user.primary_device_os,
            "api_version": user.api_version,
            "viber_version": user.viber_version,
            "mcc": user.mcc,
            "mnc": user.mnc,
            "device_type": user.device_type,
        }
        if user.avatar is not None:
            details["avatar"] = user.avatar
        return self._ok(
            chat_hostname=self.chat_hostname, message_token=self._next_token(), user=details
        )

    async def _get_online(self, body: JSONDict) -> JSONDict:
        ids = body.get("ids")
        if ids is None or ids == []:
            raise _ApiError(MISSING_DATA, "ids is missing")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _ApiError(BAD_DATA, "ids must be a list of user ids")
        if len(ids) > MAX_GET_ONLINE_IDS:
            raise _ApiError(BAD_DATA, f"more than {MAX_GET_ONLINE_IDS} ids")
        names = {0: "online", 1: "offline", 2: "undisclosed", 3: "tryLater"}
        users: list[JSONDict] = []
        for user_id in ids:
            user = self.users.get(user_id)
            # Unknown ids get 3 "tryLater" (Viber's "internal error, try later" value)
            # rather than an invented code.
            state = user.online_status if user is not None else 3
            entry: JSONDict = {
                "id": user_id,
                "online_status": state,
                "online_status_message": names.get(state, "tryLater"),
            }
            if state == 1:
                entry["last_online"] = self._now_ms() - 3_600_000
            users.append(entry)
        return self._ok(users=users, chat_hostname=self.chat_hostname)

    async def _post_to_public_chat(self, body: JSONDict) -> JSONDict:
        if not self.public_chat:
            # Bots created today have no public chat; Viber has a code for exactly this.
            raise _ApiError(NO_PUBLIC_CHAT, "the account has no public chat")
        self._require_webhook()
        sender_id = body.get("from")
        if sender_id is None or sender_id == "":
            raise _ApiError(MISSING_DATA, "from is missing")
        if sender_id not in self.admins:
            raise _ApiError(BAD_DATA, "from is not an admin of the account")
        validate_message(body)
        self.public_posts.append(body)
        self.stats.messages_sent += 1
        return self._ok(message_token=self._next_token(), chat_hostname=self.chat_hostname)

    def _record_delivery(
        self,
        user: ViberUser,
        source: Literal["send_message", "broadcast_message", "welcome"],
        token: int,
        payload: JSONDict,
    ) -> None:
        self._deliveries.setdefault(user.id, []).append(Delivery(user.id, source, token, payload))
        self._log_entry(user.id, "out", payload)
        self.stats.recipients_reached += 1
        if self.unreplied_limit is not None:
            # Only tracked when the cap is on, so the deque stays bounded by the cap window.
            user.unreplied.append(time.monotonic())
        tracking = payload.get("tracking_data")
        if isinstance(tracking, str):
            self._last_tracking[user.id] = tracking
        else:
            self._last_tracking.pop(user.id, None)
        if self.auto_delivered:
            self._track(self._delivered_later(user.id, token))
        self._notify()

    async def _delivered_later(self, user_id: str, token: int) -> None:
        await self.delivered(user_id, token)

    # ------------------------------------------------------------------ callbacks

    def _make_record(self, event: JSONDict, *, redeliverable: bool) -> CallbackRecord:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return CallbackRecord(event, body, self.signature(body), redeliverable)

    async def _post(self, url: str, body: bytes, signature: str | None) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("FakeViber is not started")
        headers = {"Content-Type": "application/json"}
        target: str | URL = url
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
            if self.sig_query_param:
                target = URL(url).update_query(sig=signature)
        try:
            async with self._session.post(target, data=body, headers=headers) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return NOT_DELIVERED, b""

    async def _attempt(self, record: CallbackRecord, url: str | None = None) -> int:
        """POST the record once; handle welcome bodies and redelivery bookkeeping."""
        target = url if url is not None else self.webhook_url
        if target is None:
            status, answer = NOT_DELIVERED, b""
        else:
            status, answer = await self._post(target, record.body, record.signature)
            self.stats.callbacks_sent += 1
        record.attempts.append(status)
        record.response_body = answer
        if status == 200:
            if record.event.get("event") == "conversation_started":
                self._accept_welcome(record)
            return status
        self.stats.callbacks_failed += 1
        if record.redeliverable:
            if len(record.attempts) >= self.max_callback_attempts:
                record.gave_up = True
                self.stats.callbacks_dropped += 1
            elif self.auto_redeliver:
                record.retry_scheduled = True
                delay = self.redelivery_backoff * 2 ** (len(record.attempts) - 1)
                self._track(self._retry_later(record, delay))
        return status

    async def _retry_later(self, record: CallbackRecord, delay: float) -> None:
        await asyncio.sleep(delay)
        record.retry_scheduled = False
        await self._attempt(record)

    def _accept_welcome(self, record: CallbackRecord) -> None:
        user_id = str(record.event.get("user", {}).get("id", ""))
        user = self.users.get(user_id)
        if user is None or not record.response_body.strip():
            return
        try:
            welcome = json.loads(record.response_body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.welcome_rejections.append((user_id, "welcome body is not JSON"))
            return
        if not isinstance(welcome, dict):
            self.welcome_rejections.append((user_id, "welcome body is not a JSON object"))
            return
        try:
            # Same structure as send_message minus the receiver.
            validate_message(welcome)
        except _ApiError as err:
            self.welcome_rejections.append((user_id, err.reason))
            return
        self.stats.messages_sent += 1
        self._record_delivery(user, "welcome", self._next_token(), welcome)

    def _wants(self, event_name: str) -> bool:
        return self.webhook_url is not None and (
            event_name in MANDATORY_EVENTS or event_name in self.event_types
        )

    async def _emit(self, event: JSONDict) -> CallbackRecord | None:
        """Send a simulated callback, honouring the webhook's event filter."""
        if not self._wants(str(event["event"])):
            return None
        record = self._make_record(event, redeliverable=True)
        self.callbacks.append(record)
        await self._attempt(record)
        return record

    @property
    def pending_callbacks(self) -> list[CallbackRecord]:
        """Callbacks still owed to the bot (failed, not yet given up)."""
        return [
            r
            for r in self.callbacks
            if r.redeliverable and not r.delivered and not r.gave_up and r.attempts
        ]

    async def redeliver(self) -> list[int]:
        """Retry every pending callback once (identical bytes); return the HTTP statuses."""
        statuses = []
        for record in self.pending_callbacks:
            if not record.retry_scheduled:
                statuses.append(await self._attempt(record))
        return statuses

    # A timeout argument (not asyncio.timeout at the call site) keeps test code short and
    # guarantees the wait is bounded even when the caller forgets to bound it.
    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until background work (auto redelivery, receipts) has finished."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    async def deliver(self, event: JSONDict) -> int:
        """POST any event dict, signed, to the webhook (no filtering); redeliverable."""
        record = self._make_record(event, redeliverable=True)
        self.callbacks.append(record)
        return await self._attempt(record)

    async def post_raw(self, body: bytes, signature: str | None = None) -> int:
        """POST arbitrary bytes with an arbitrary (or no) signature; never redelivered."""
        if self.webhook_url is None:
            return NOT_DELIVERED
        event: JSONDict
        try:
            parsed = json.loads(body)
            event = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            event = {}
        record = CallbackRecord(event, body, signature, redeliverable=False)
        self.callbacks.append(record)
        return await self._attempt(record)

    async def replay(self, record: CallbackRecord | None = None) -> int:
        """Send an already-delivered callback again, byte for byte (a duplicate)."""
        if record is None:
            candidates = [r for r in self.callbacks if r.redeliverable]
            if not candidates:
                raise LookupError("no callback to replay")
            record = candidates[-1]
        return await self._attempt(record)

    # ------------------------------------------------------------------ media (the CDN)

    def _media_signature(self, key: str, expires: int) -> str:
        mac = hmac.new(self._media_key, f"{key}:{expires}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def host_media(
        self,
        content: bytes,
        *,
        file_name: str,
        content_type: str | None = None,
        ttl: float | None = None,
    ) -> str:
        """Serve ``content`` the way Viber's CDN serves a user's file; returns its URL, signed
        and valid for ``ttl`` seconds (default ``media_ttl``)."""
        key = secrets.token_urlsafe(12)
        expires = time.time() + (self.media_ttl if ttl is None else ttl)
        kind = content_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        self.media[key] = HostedMedia(content, kind, expires)
        name = urllib.parse.quote(file_name or "file", safe="")
        query = urllib.parse.urlencode(
            {"Expires": int(expires), "Signature": self._media_signature(key, int(expires))}
        )
        return f"http://{self._host}:{self.port}/media/{key}/{name}?{query}"

    def expire_media(self) -> None:
        """Every media URL handed out so far is past its TTL (as an hour later)."""
        for item in self.media.values():
            item.expires_at = 0.0

    async def _serve_media(self, request: web.Request) -> web.StreamResponse:
        item = self.media.get(request.match_info["key"])
        if item is None:
            return web.Response(status=404, text="NoSuchKey")
        expires = request.query.get("Expires", "")
        given = request.query.get("Signature", "")
        signed = expires.isdigit() and hmac.compare_digest(
            given.encode(), self._media_signature(request.match_info["key"], int(expires)).encode()
        )
        # A CloudFront-style CDN: a bad signature or a link past its time is AccessDenied.
        if not signed or time.time() >= min(item.expires_at, float(expires)):
            return web.Response(
                status=403,
                text="<Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>",
                content_type="text/xml",
            )
        item.downloads += 1
        return web.Response(body=item.content, content_type=item.content_type)

    def _media_url(
        self, media: str | None, content: bytes | None, file_name: str, default: bytes
    ) -> tuple[str, int]:
        """The URL of a user's file (hosted here unless ``media`` is given) and its size."""
        data = default if content is None else content
        if media is not None:
            return media, len(data)
        return self.host_media(data, file_name=file_name), len(data)

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

    def _base_event(self, name: str, message_token: int | None = None) -> JSONDict:
        return {
            "event": name,
            "timestamp": self._now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": message_token if message_token is not None else self._next_token(),
        }

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
        media, actual = self._media_url(media, content, file_name, _png())
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

    def _token_for(self, user_id: str, message_token: int | None) -> int:
        if message_token is not None:
            return message_token
        deliveries = self._deliveries.get(user_id)
        if not deliveries:
            raise LookupError(f"no message was sent to {user_id!r}")
        return deliveries[-1].message_token

    async def _receipt(self, name: str, user_id: str, token: int, **extra: Any) -> int:
        event = self._base_event(name, token)
        event["user_id"] = user_id
        event.update(extra)
        record = await self._emit(event)
        return record.attempts[0] if record is not None else NOT_DELIVERED

    async def delivered(self, user_id: str, message_token: int | None = None) -> int:
        """Delivery receipt for `message_token` (default: the last message to the user)."""
        return await self._receipt("delivered", user_id, self._token_for(user_id, message_token))

    async def seen(self, user_id: str, message_token: int | None = None) -> int:
        return await self._receipt("seen", user_id, self._token_for(user_id, message_token))

    async def failed(
        self,
        user_id: str,
        message_token: int | None = None,
        desc: str = "failed to deliver the message",
    ) -> int:
        token = self._token_for(user_id, message_token)
        return await self._receipt("failed", user_id, token, desc=desc)

    # ------------------------------------------------------------------ inspection

    def deliveries(self, user_id: str) -> list[Delivery]:
        return list(self._deliveries.get(user_id, []))

    def transcript(self, user_id: str) -> list[ChatEntry]:
        """The user's chat as they see it: their messages and the bot's, in order."""
        return list(self._transcripts.get(user_id, []))

    def messages(self, user_id: str) -> list[JSONDict]:
        """Every message the bot got into this user's chat, full JSON payloads, in order."""
        return [d.payload for d in self._deliveries.get(user_id, [])]

    def last_message(self, user_id: str) -> JSONDict:
        messages = self._deliveries.get(user_id)
        if not messages:
            raise LookupError(f"no message was sent to {user_id!r}")
        return messages[-1].payload

    def texts(self, user_id: str) -> list[str]:
        """Convenience: the "text" of each message to the user ("" where absent)."""
        return [str(m.get("text", "")) for m in self.messages(user_id)]

    def calls_to(self, endpoint: str) -> list[JSONDict]:
        return [body for name, body in self.calls if name == endpoint]

    async def wait_for_messages(
        self,
        user_id: str,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - always bounded, see drain()
    ) -> list[JSONDict]:
        """Wait until the user has at least `count` messages; TimeoutError otherwise."""
        try:
            async with asyncio.timeout(timeout):
                while len(self._deliveries.get(user_id, [])) < count:
                    await self._changed.wait()
        except TimeoutError:
            got = self.texts(user_id)
            raise TimeoutError(
                f"user {user_id!r} got {len(got)} of {count} messages within {timeout}s: {got!r}"
            ) from None
        return self.messages(user_id)
