"""The broadcast sender over aiohttp, as it was before its own HTTP client (issue 16): the same
``BulkTelegramSender`` with its calls made by an ``aiohttp.ClientSession``. Kept for
``bench/broadcast_telegram.py`` only, as the same-run baseline of the keep-alive client; not used
by citybot."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.telegram import bulk
from bot.telegram.bulk import BulkTelegramSender
from messaging.contract import TransientChannelError

CALL_TIMEOUT = aiohttp.ClientTimeout(total=30)


class AiohttpBulkSender(BulkTelegramSender):
    def __init__(
        self, *, http: aiohttp.ClientSession, api_url: str, token: str, paid: bool = False
    ) -> None:
        super().__init__(api_url=api_url, token=token, paid=paid)
        self._session = http
        self._base = f"{api_url.rstrip('/')}/bot{token}/"

    async def _call(
        self, method: str, payload: dict[str, Any], keyboard: dict[str, Any] | None
    ) -> str:
        payload = self.complete(payload, keyboard)
        try:
            async with self._session.post(
                self._base + method, json=payload, timeout=CALL_TIMEOUT
            ) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientChannelError(f"{method}: {error!r}", channel=bulk.CHANNEL) from error
        try:
            answer = json.loads(body)
        except ValueError as error:
            raise TransientChannelError(f"{method}: HTTP {status}", channel=bulk.CHANNEL) from error
        return bulk.message_id(method, status, answer)
