"""An asynchronous client for Viber's REST Bot API on one shared aiohttp session.

viberbot's own sender is synchronous (``requests`` without a timeout) and would block the event
loop, so we keep its message classes and send with aiohttp. Viber answers HTTP 200 with a JSON
``status``; non-zero statuses become the neutral channel errors.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from bot.metrics.core import Metrics
from messaging.contract import (
    ChannelError,
    CredentialsRefused,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
    TransientChannelError,
)
from storage.vocabulary import Channel

log = logging.getLogger(__name__)

STATUS_OK = 0
# 5 receiver not registered, 6 receiver not subscribed: nobody to deliver to.
BLOCKED_STATUSES = frozenset({5, 6})
STATUS_TOO_MANY_REQUESTS = 12
# The account's token was revoked or is wrong: nothing this channel sends can succeed.
STATUS_INVALID_AUTH_TOKEN = 2
# Viber gives no retry-after; its limits are counted over a few seconds, so pause one second.
RATE_LIMIT_PAUSE = 1.0
AUTH_HEADER = "X-Viber-Auth-Token"
CHANNEL = Channel.VIBER.value


class ViberClient:
    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        api_url: str,
        token: str,
        timeout: float = 15.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._session = session
        # Counts each call by endpoint and outcome (None: not counted).
        self._metrics = metrics
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self._metrics is None:
            return await self._post(endpoint, payload)
        try:
            answer = await self._post(endpoint, payload)
        except ChannelError as error:
            self._metrics.call_failed(CHANNEL, endpoint, error)
            raise
        self._metrics.call(CHANNEL, endpoint)
        return answer

    async def _post(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        channel = Channel.VIBER
        url = f"{self._api_url}/{endpoint}"
        headers = {AUTH_HEADER: self._token, "Content-Type": "application/json"}
        try:
            async with self._session.post(
                url, data=_encode(payload), headers=headers, timeout=self._timeout
            ) as response:
                if response.status >= 500:
                    raise TransientChannelError(
                        f"{endpoint}: HTTP {response.status}", channel=channel
                    )
                if response.status != 200:
                    raise PermanentChannelError(
                        f"{endpoint}: HTTP {response.status}", channel=channel
                    )
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise TransientChannelError(f"{endpoint}: {error!r}", channel=channel) from error
        if not isinstance(body, dict):
            raise TransientChannelError(f"{endpoint}: unexpected answer", channel=channel)
        status = body.get("status")
        message = f"{endpoint}: status {status} {body.get('status_message', '')}".strip()
        if status == STATUS_OK:
            return body
        code = status if isinstance(status, int) else None
        if status in BLOCKED_STATUSES:
            raise RecipientBlocked(message, channel=channel, code=code)
        if status == STATUS_INVALID_AUTH_TOKEN:
            raise CredentialsRefused(message, channel=channel, code=code)
        if status == STATUS_TOO_MANY_REQUESTS:
            raise RateLimited(message, channel=channel, retry_after=RATE_LIMIT_PAUSE, code=code)
        raise PermanentChannelError(message, channel=channel, code=code)

    async def set_webhook(self, url: str, event_types: list[str]) -> dict[str, Any]:
        return await self.call(
            "set_webhook",
            {"url": url, "event_types": event_types, "send_name": True, "send_photo": False},
        )


def _encode(payload: dict[str, Any]) -> bytes:
    # UTF-8 rather than \u escapes: Cyrillic text takes 2 bytes a character instead of 6, which
    # matters under Viber's 30 KB request limit.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
