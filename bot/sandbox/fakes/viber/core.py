"""The server core: construction, lifecycle, tokens, the transcript and failure injection."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import time
from collections import deque
from typing import Any, Literal

import aiohttp

from bot.sandbox.fakes.limits import SlidingWindow
from bot.sandbox.fakes.server import FakeServer
from bot.sandbox.fakes.viber.protocol import FIRST_TOKEN, MEDIA_TTL, OK, JSONDict
from bot.sandbox.fakes.viber.records import (
    ApiCall,
    CallbackRecord,
    ChatEntry,
    Delivery,
    FakeViberStats,
    HostedMedia,
    Injection,
    ViberUser,
)


class ViberCore(FakeServer):
    """The server core: construction, lifecycle, tokens, the transcript and failure injection."""

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
        super().__init__(host=host, port=port)
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

        self._send_window = SlidingWindow(*rate_limit) if rate_limit else None
        self._broadcast_window = (
            SlidingWindow(*broadcast_rate_limit) if broadcast_rate_limit else None
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
        self._last_tracking: dict[str, str] = {}
        self._injections: dict[str, deque[Injection]] = {}
        self._tokens = itertools.count(FIRST_TOKEN)
        self._user_seq = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    def _client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.callback_timeout)

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

    def continue_tokens(self, after: int) -> None:
        """Go on from an earlier run of the same account: every message token from now on is
        greater than ``after`` (the bot keeps the tokens of callbacks it handled)."""
        self._tokens = itertools.count(max(self._next_token(), after + 1))

    @staticmethod
    def _now_ms() -> int:
        return int(time.time() * 1000)

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
        queue.extend(Injection(status, http_status) for _ in range(times))

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

    def _ok(self, **extra: Any) -> JSONDict:
        return {"status": OK, "status_message": "ok", **extra}
