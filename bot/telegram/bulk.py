"""A lean ``Sender`` for broadcasts: Bot API calls as plain JSON over kept-alive connections
(``bot.telegram.keepalive``).

Staff and conversations use aiogram (``bot.telegram.sender``). The delivery engine sends the same
few kinds of message (text, a photo or document by file_id or URL, a poll's inline buttons) up
to 1,000 times a second in paid mode, and there aiogram's per-call pydantic work (building the
method model, form-encoding it, validating the answer into a full ``Message``) was most of the
engine's CPU: in ``bench/broadcast_telegram.py`` this sender needs about half the CPU per message
(see BENCHMARKS.md); its own HTTP client (``bot.telegram.keepalive``) then took a third off
what was left over aiohttp.
Only ``message_id`` is read from an answer. What every recipient of a broadcast shares (the
keyboard, the text's parts) is computed once per reply, not per message.

Errors map onto the contract exactly as ``bot.telegram.sender.channel_errors`` maps aiogram's:
429 → ``RateLimited`` (``retry_after``), 403 → ``RecipientBlocked``, 5xx, network errors and
timeouts → ``TransientChannelError``, any other refusal → ``PermanentChannelError``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from bot.metrics.core import Metrics
from bot.telegram.keepalive import HttpError, KeepAliveClient
from bot.telegram.lean import api_error
from bot.telegram.sender import CAPTION_LIMIT, TEXT_LIMIT, render_markup, telegram_parts
from messaging.contract import (
    ChannelError,
    Reply,
    Sent,
    TransientChannelError,
)
from messaging.text import split_text
from storage.vocabulary import Channel

CHANNEL = Channel.TELEGRAM
# Compact JSON, Cyrillic as UTF-8 (a third of the bytes of \\u escapes).
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_decode = json.loads


class BulkTelegramSender:
    channel = CHANNEL.value

    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        paid: bool = False,
        connections: int = 256,
        metrics: Metrics | None = None,
    ) -> None:
        self._http = KeepAliveClient(f"{api_url.rstrip('/')}/bot{token}", limit=connections)
        # Counts each call by method and outcome (None: not counted).
        self._metrics = metrics
        # allow_paid_broadcast: up to 1,000 messages/s, paid in Telegram Stars.
        self._paid = paid

    async def close(self) -> None:
        """Close the kept-alive connections (after the engine stopped)."""
        await self._http.close()

    async def send(self, recipient: str, reply: Reply) -> Sent:
        chat_id = int(recipient)
        keyboard = _keyboard(reply)
        if reply.media is not None and len(reply.text) <= CAPTION_LIMIT:
            method = "sendPhoto" if reply.media.kind == "photo" else "sendDocument"
            field = "photo" if reply.media.kind == "photo" else "document"
            payload = {"chat_id": chat_id, field: reply.media.ref, "caption": reply.text}
            return Sent(message_id=await self._call(method, payload, keyboard))
        if reply.media is not None:
            # A caption too long for the media: the media alone, then the text.
            method = "sendPhoto" if reply.media.kind == "photo" else "sendDocument"
            field = "photo" if reply.media.kind == "photo" else "document"
            await self._call(method, {"chat_id": chat_id, field: reply.media.ref}, None)
        parts = _parts(reply.text)
        message_id = ""
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            message_id = await self._call(
                "sendMessage", {"chat_id": chat_id, "text": part}, keyboard if last else None
            )
        return Sent(message_id=message_id)

    def parts(self, reply: Reply) -> tuple[Reply, ...]:
        return telegram_parts(reply)

    # The Sender contract's signature; ``message_id`` is of no use here.
    async def edit(self, recipient: str, message_id: str, reply: Reply) -> Sent:  # noqa: ARG002
        """Broadcasts are never edited: a new message (the contract's fallback) is sent."""
        return await self.send(recipient, reply)

    def complete(self, payload: dict[str, Any], keyboard: dict[str, Any] | None) -> dict[str, Any]:
        """A call's payload with what every broadcast call carries."""
        payload["parse_mode"] = "HTML"
        if keyboard is not None:
            payload["reply_markup"] = keyboard
        if self._paid:
            payload["allow_paid_broadcast"] = True
        return payload

    async def _call(
        self, method: str, payload: dict[str, Any], keyboard: dict[str, Any] | None
    ) -> str:
        if self._metrics is None:
            return await self._post(method, payload, keyboard)
        try:
            message_id = await self._post(method, payload, keyboard)
        except ChannelError as error:
            self._metrics.call_failed(CHANNEL, method, error)
            raise
        self._metrics.call(CHANNEL, method)
        return message_id

    async def _post(
        self, method: str, payload: dict[str, Any], keyboard: dict[str, Any] | None
    ) -> str:
        body = _encode(self.complete(payload, keyboard)).encode()
        try:
            status, answer_body = await self._http.post(method, body)
        except HttpError as error:
            raise TransientChannelError(f"{method}: {error}", channel=CHANNEL) from error
        try:
            answer = _decode(answer_body)
        except ValueError as error:
            # A proxy's HTML error page, a truncated body: the server side failed.
            raise TransientChannelError(f"{method}: HTTP {status}", channel=CHANNEL) from error
        return message_id(method, status, answer)


def message_id(method: str, status: int, answer: Any) -> str:
    """The message id of a Bot API answer, or its refusal raised as the contract's error."""
    if isinstance(answer, dict) and answer.get("ok"):
        result = answer.get("result")
        return str(result.get("message_id", "")) if isinstance(result, dict) else ""
    raise api_error(method, status, answer if isinstance(answer, dict) else {})


@functools.lru_cache(maxsize=64)
def _keyboard(reply: Reply) -> dict[str, Any] | None:
    markup = render_markup(reply)
    return markup.model_dump(mode="json", exclude_none=True) if markup else None


@functools.lru_cache(maxsize=64)
def _parts(text: str) -> list[str]:
    return split_text(text, TEXT_LIMIT)
