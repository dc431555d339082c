"""What the fake Viber records and tests inspect: users, deliveries, calls, callbacks, stats."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from bot.sandbox.fakes.viber.protocol import JSONDict


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
class Injection:
    status: int | None
    http_status: int | None


@dataclass
class HostedMedia:
    """A file a simulated user sent, served at its (expiring) media URL."""

    content: bytes
    content_type: str
    expires_at: float
    downloads: int = 0
