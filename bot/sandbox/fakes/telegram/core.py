"""The server core: construction, lifecycle and the HTTP layer that dispatches API methods."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.sandbox.fakes.server import FakeServer
from bot.sandbox.fakes.telegram.constants import (
    JSON,
    MAX_UPLOAD_SIZE,
    MAX_URL_FILE,
    MAX_URL_PHOTO,
    REAL_METHODS,
    TOKEN_RE,
    URL_FILE_PARAMS,
)
from bot.sandbox.fakes.telegram.limits import Bucket, per_second
from bot.sandbox.fakes.telegram.params import Handler, Params, normalize_params
from bot.sandbox.fakes.telegram.records import (
    ApiError,
    ApiErrorRecord,
    Call,
    Described,
    UploadedFile,
    WebhookDelivery,
    bad_request,
)
from bot.sandbox.fakes.telegram.state import (
    CallbackQuery,
    Chat,
    Pending,
    StoredFile,
    User,
    Webhook,
)
from bot.sandbox.fakes.telegram.wire import parse_plain_body, read_multipart

logger = logging.getLogger(__name__)


class TelegramCore(FakeServer):
    """The server core: construction, lifecycle and the HTTP layer that dispatches API methods."""

    def __init__(
        self,
        token: str = "123456789:TEST-token_for_the_fake_api",
        *,
        bot_username: str = "citybot_test_bot",
        bot_first_name: str = "CityBot",
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        per_chat_burst: float | None = None,
        group_rate: float | None = None,
        paid_rate: float = 1000.0,
        latency: float = 0.0,
        jitter: float = 0.0,
        seed: int | None = None,
        callback_query_ttl: float = 15.0,
        webhook_timeout: float = 10.0,
        webhook_max_attempts: int = 5,
        webhook_retry_delay: float | None = None,
        max_poll_timeout: float = 60.0,
        close_cooldown: float = 600.0,
        strict_html: bool = True,
        privacy_mode: bool = True,
    ) -> None:
        super().__init__()
        match = TOKEN_RE.match(token)
        if match is None:
            raise ValueError(f"not a bot token: {token!r}")
        self.token = token
        self.bot_id = int(match.group(1))
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        # A round trip of ``latency`` plus up to ``jitter`` (uniform, seeded), half of each on the
        # way in, before the call is counted against the limits, and half on the way back.
        self.latency = latency
        self.jitter = jitter
        self._random = random.Random(seed)
        self.callback_query_ttl = callback_query_ttl
        self.webhook_timeout = webhook_timeout
        self.webhook_max_attempts = max(1, webhook_max_attempts)
        self.webhook_retry_delay = webhook_retry_delay
        self.max_poll_timeout = max_poll_timeout
        self.close_cooldown = close_cooldown
        self.strict_html = strict_html
        self.privacy_mode = privacy_mode
        self.bot_settings: dict[str, JSON] = {}

        # Overall limits: sliding windows of one second (``global_rate`` sends, ``paid_rate`` with
        # allow_paid_broadcast). Per chat and per group: token buckets, as Telegram documents
        # them (about one message a second per chat, with a short burst).
        self._global_window = per_second(global_rate) if global_rate else None
        self._paid_window = per_second(paid_rate) if global_rate else None
        self._per_chat_rate = per_chat_rate
        self._per_chat_burst = per_chat_burst
        self._group_rate = group_rate
        self._chat_buckets: dict[int, Bucket] = {}

        # Inspection state (public, documented in the report).
        self.calls: list[Call] = []
        self.errors: list[ApiErrorRecord] = []
        self.deliveries: list[WebhookDelivery] = []
        self.dropped_updates: list[JSON] = []
        self.callback_answers: dict[str, JSON] = {}
        self.sent_count = 0
        self.rate_limited_count = 0
        self.paid_broadcast_count = 0
        self.logged_out = False

        self._users: dict[int, User] = {}
        self._chats: dict[int, Chat] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = 0
        self._callbacks: dict[str, CallbackQuery] = {}
        self._callback_seq = 0
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._next_update_id = 100_000_001
        # Every chat's messages are numbered after this (continue_numbering).
        self._message_floor = 0
        self._pending: list[Pending] = []
        self._allowed_updates: list[str] | None = None
        self._webhook: Webhook | None = None
        self._poll_generation = 0
        self._active_poll: int | None = None
        self._poll_killed: dict[int, str] = {}  # superseded long poll -> its 409 description
        self._closing = False
        self._started_at = time.monotonic()
        self._methods: dict[str, tuple[str, Handler]] = {}
        for name, handler in self._handlers().items():
            self._methods[name.lower()] = (name, handler)

    # ---------------------------------------------------------------- lifecycle

    client_max_size = MAX_UPLOAD_SIZE + 10 * 1024 * 1024
    # A short shutdown timeout: stop() wakes long polls first, so nothing should linger.
    shutdown_timeout = 2.0

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle_http)

    async def start(self) -> None:
        if self._runner is not None:
            return
        await super().start()
        self._closing = False
        self._started_at = time.monotonic()

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        await super().stop()

    def _stopping(self) -> bool:
        return self._closing

    @property
    def base_url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._bound_port}"

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ---------------------------------------------------------------- HTTP layer

    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return await self._handle_file_download(path)
        match = re.fullmatch(r"/bot([^/]+)/([^/]+)", path)
        if match is None:
            return self._json_response(ApiError(404, "Not Found").body(), 404)
        if match.group(1) != self.token:
            return self._json_response(ApiError(401, "Unauthorized").body(), 401)
        try:
            raw, files = await self._read_request(request)
        except ApiError as exc:
            return self._json_response(exc.body(), exc.code)
        except web.HTTPRequestEntityTooLarge:
            return self._json_response(ApiError(413, "Request Entity Too Large").body(), 413)
        if self.latency > 0 or self.jitter > 0:
            await asyncio.sleep(self._leg())
        status, body = await self._invoke(match.group(2), raw, files)
        if self.latency > 0 or self.jitter > 0:
            await asyncio.sleep(self._leg())
        return self._json_response(body, status)

    def _leg(self) -> float:
        """One way of a round trip: half the latency plus up to half the jitter."""
        return self.latency / 2 + self._random.uniform(0.0, self.jitter / 2)

    @staticmethod
    def _json_response(body: JSON, status: int) -> web.Response:
        return web.Response(
            text=json.dumps(body, ensure_ascii=False),
            status=status,
            content_type="application/json",
        )

    async def _read_request(self, request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
        raw: JSON = dict(request.query)
        files: dict[str, UploadedFile] = {}
        mime = request.content_type.lower()
        if mime == "multipart/form-data":
            fields, files = await read_multipart(await request.multipart())
            raw.update(fields)
        else:
            body = await request.read()
            raw.update(parse_plain_body(mime, body))
        return raw, files

    async def _handle_file_download(self, path: str) -> web.StreamResponse:
        prefix = f"/file/bot{self.token}/"
        if not path.startswith(prefix):
            return self._json_response(ApiError(401, "Unauthorized").body(), 401)
        stored = self._files_by_path.get(path[len(prefix) :])
        if stored is None:
            return self._json_response(ApiError(404, "Not Found").body(), 404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _invoke(
        self, method: str, raw: Mapping[str, Any], files: Mapping[str, UploadedFile]
    ) -> tuple[int, JSON]:
        """Run one API method; returns (HTTP status, JSON body)."""
        params = normalize_params(raw, files)
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        self.calls.append(Call(name, params))
        self._notify()
        try:
            if entry is None:
                if method.lower() in REAL_METHODS:
                    # A real method this fake does not model: say so instead of pretending
                    # the method does not exist.
                    raise ApiError(501, f"Not Implemented: FakeTelegram does not simulate {method}")
                raise ApiError(404, "Not Found: method not found")
            fetched = await self._fetch_url_param(name, params)
            result = await entry[1](Params(fetched))
        except ApiError as exc:
            self.errors.append(ApiErrorRecord(name, params, exc.code, exc.description))
            if exc.code == 429:
                self.rate_limited_count += 1
            self._notify()
            return exc.code, exc.body()
        except Exception as exc:
            # Any exception here is a bug in the fake itself: answer like a server error and
            # log the traceback, so the test that hit it shows where.
            logger.exception("FakeTelegram failed in %s", name)
            description = f"Internal Server Error: FakeTelegram failed: {exc!r}"
            self.errors.append(ApiErrorRecord(name, params, 500, description))
            self._notify()
            return 500, {"ok": False, "error_code": 500, "description": description}
        if isinstance(result, Described):
            return 200, {"ok": True, "result": result.result, "description": result.description}
        return 200, {"ok": True, "result": result}

    async def _fetch_url_param(self, method: str, params: JSON) -> JSON:
        """A file given by URL is downloaded by Telegram: a URL that does not answer 200 (an
        expired link, a missing file) is refused, as the real server refuses it, and one over
        Telegram's limit for URLs (5 MB for photos, 20 MB otherwise) too. Only loopback URLs
        are fetched (tests run offline); others still get a placeholder."""
        key = URL_FILE_PARAMS.get(method)
        value = params.get(key) if key else None
        if key is None or not isinstance(value, str):
            return params
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or parts.hostname not in (
            "127.0.0.1",
            "localhost",
        ):
            return params
        limit = MAX_URL_PHOTO if key == "photo" else MAX_URL_FILE
        failed = bad_request("failed to get HTTP URL content")
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.get(value) as response,
            ):
                if response.status != 200:
                    raise failed
                data = await response.content.read(limit + 1)
                content_type = response.content_type
        except (aiohttp.ClientError, TimeoutError):
            raise failed from None
        if len(data) > limit:
            raise failed
        name = parts.path.rsplit("/", 1)[-1] or key
        return {**params, key: UploadedFile(name, content_type, data)}

    def _handlers(self) -> dict[str, Handler]:
        """Bot API method name -> handler; the assembled FakeTelegram lists them all."""
        raise NotImplementedError
