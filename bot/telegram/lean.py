"""Bot API calls as plain JSON, for the hot path of a resident update: the replies
(``sendMessage``, ``editMessageText``), the staff copy in the ticket's thread, the button's
``answerCallbackQuery`` and long polling's ``getUpdates``.

aiogram builds a pydantic model of every method, form-encodes it and validates the answer into
a full ``Message``; here a dict goes out as JSON and only what is read (the ``message_id``, the
updates as dicts) comes back. Calls that put or change a message take their start from the
process's shared budget (``bot.telegram.budget``), as aiogram's calls do.

The calls go over the bot's aiohttp session, or (``keepalive``, as the bot's wiring does) over
kept-alive connections of ``bot.telegram.keepalive``, the broadcast sender's client: aiohttp's
request machinery was about a tenth of a follow-up's CPU (two calls each). A long poll
(``getUpdates``) always goes over aiohttp: it holds its connection for up to a minute.

Errors map onto the contract as ``bot.telegram.sender.channel_errors`` maps aiogram's: 429 →
``RateLimited`` (``retry_after``), 401 → ``CredentialsRefused``, 403 → ``RecipientBlocked``,
5xx, 409, network errors and timeouts → ``TransientChannelError``, any other refusal →
``PermanentChannelError``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession

from bot.metrics.core import Metrics
from bot.telegram.budget import counts_toward_limit
from bot.telegram.keepalive import HttpError, KeepAliveClient
from broadcasts.limits import Pacer
from messaging.contract import (
    ChannelError,
    CredentialsRefused,
    KeyboardKind,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
    Reply,
    TransientChannelError,
)
from storage.vocabulary import Channel

CHANNEL = Channel.TELEGRAM
CALL_TIMEOUT = 30.0
LONG_POLL = "getUpdates"
# Kept-alive connections to the Bot API at most (beyond it, calls wait for one to come back).
CONNECTIONS = 64
JSON = dict[str, Any]


def reply_markup(reply: Reply) -> JSON | None:
    """``reply``'s buttons as the Bot API's ``reply_markup`` (as ``sender.render_markup``)."""
    if not reply.buttons:
        return None
    if reply.keyboard is KeyboardKind.MENU:
        return {
            "keyboard": [[{"text": b.label} for b in row] for row in reply.buttons],
            "resize_keyboard": True,
            "is_persistent": True,
        }
    return {
        "inline_keyboard": [
            [{"text": b.label, "callback_data": b.action} for b in row] for row in reply.buttons
        ]
    }


class BotApi:
    """One bot token's Bot API over one aiohttp session (made on first use, in the loop)."""

    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        budget: Pacer | None = None,
        bot: Bot | None = None,
        metrics: Metrics | None = None,
        keepalive: bool = False,
    ) -> None:
        """``bot``: share its server, its connection pool and its lifetime (closing the bot's
        session closes this one's). ``metrics``: counts each call by method and outcome.
        ``keepalive``: calls other than long polls over kept-alive connections of this API's
        own, closed by ``close``."""
        self._budget = budget
        self._metrics = metrics
        self._bot = bot
        self._http: aiohttp.ClientSession | None = None
        self._keepalive: KeepAliveClient | None = None
        self._use_keepalive = keepalive
        self._at(f"{api_url.rstrip('/')}/bot{token}/")

    def _at(self, base: str) -> None:
        """Calls go to ``base`` + method."""
        self._base = base
        if self._use_keepalive:
            self._keepalive = KeepAliveClient(
                base.rstrip("/"), limit=CONNECTIONS, timeout=CALL_TIMEOUT
            )

    @classmethod
    def for_bot(
        cls,
        bot: Bot,
        *,
        budget: Pacer | None = None,
        metrics: Metrics | None = None,
        keepalive: bool = False,
    ) -> BotApi:
        """The same server and token as aiogram's ``bot`` (a local server, the stand-in)."""
        api = cls(api_url="", token=bot.token, budget=budget, bot=bot, metrics=metrics)
        api._use_keepalive = keepalive
        api._at(bot.session.api.api_url(token=bot.token, method=""))
        return api

    async def _session(self) -> aiohttp.ClientSession:
        session = getattr(self._bot, "session", None)
        if isinstance(session, AiohttpSession):
            return await session.create_session()
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._keepalive is not None:
            await self._keepalive.close()

    async def call(self, method: str, payload: JSON, *, within: float = CALL_TIMEOUT) -> Any:
        """The call's ``result``; raises the contract's channel errors."""
        if self._metrics is None:
            return await self._call(method, payload, within)
        try:
            result = await self._call(method, payload, within)
        except ChannelError as error:
            self._metrics.call_failed(CHANNEL.value, method, error)
            raise
        self._metrics.call(CHANNEL.value, method)
        return result

    async def _call(self, method: str, payload: JSON, within: float) -> Any:
        if self._budget is not None and counts_toward_limit(method):
            delay = self._budget.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
        try:
            if self._keepalive is not None and method != LONG_POLL:
                status, body = await self._keepalive.post(method, _dumps(payload))
            else:
                status, body = await self._post(method, payload, within)
        except (aiohttp.ClientError, HttpError, TimeoutError) as error:
            raise TransientChannelError(f"{method}: {error!r}", channel=CHANNEL) from error
        try:
            answer = json.loads(body)
        except ValueError as error:
            # A proxy's HTML error page, a truncated body: the server side failed.
            raise TransientChannelError(f"{method}: HTTP {status}", channel=CHANNEL) from error
        if isinstance(answer, dict) and answer.get("ok"):
            return answer.get("result")
        raise api_error(method, status, answer if isinstance(answer, dict) else {})

    async def _post(self, method: str, payload: JSON, within: float) -> tuple[int, bytes]:
        http = await self._session()
        async with http.post(
            self._base + method,
            data=_dumps(payload),
            headers=_HEADERS,
            timeout=aiohttp.ClientTimeout(total=within),
        ) as response:
            return response.status, await response.read()

    async def send_text(
        self, chat_id: int, text: str, *, markup: JSON | None = None, **extra: Any
    ) -> int:
        """``sendMessage`` (HTML); the new message's id."""
        payload: JSON = {"chat_id": chat_id, "text": text, "parse_mode": "HTML", **extra}
        if markup is not None:
            payload["reply_markup"] = markup
        return message_id(await self.call("sendMessage", payload))

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, markup: JSON | None = None
    ) -> None:
        payload: JSON = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "parse_mode": "HTML",
        }
        if markup is not None:
            payload["reply_markup"] = markup
        await self.call("editMessageText", payload)


def message_id(result: Any) -> int:
    if isinstance(result, dict) and isinstance(result.get("message_id"), int):
        return int(result["message_id"])
    raise PermanentChannelError("no message_id in the answer", channel=CHANNEL)


_HEADERS: Final = {"Content-Type": "application/json"}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def api_error(method: str, status: int, answer: JSON) -> Exception:
    """The contract's error for a refused call (``answer``: the Bot API's error object)."""
    code = answer.get("error_code")
    code = code if isinstance(code, int) else status
    description = str(answer.get("description") or f"HTTP {status}")
    message = f"{method}: {description}"
    if code == 429:
        parameters = answer.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        seconds = float(retry_after) if isinstance(retry_after, int | float) else 1.0
        return RateLimited(message, channel=CHANNEL, retry_after=seconds, code=code)
    if code == 401:
        return CredentialsRefused(message, channel=CHANNEL, code=code)
    if code == 403:
        return RecipientBlocked(message, channel=CHANNEL, code=code)
    if code >= 500 or code == 409:
        return TransientChannelError(message, channel=CHANNEL, code=code)
    return PermanentChannelError(message, channel=CHANNEL, code=code)
