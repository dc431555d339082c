"""Telegram's sender loop: one ``sendMessage`` per delivery, started by the pacer (the bot
token's budget), with enough requests in flight to keep it busy through round trips."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from broadcasts.limits import Pacer
from broadcasts.sender_loop import SenderLoop
from messaging.contract import (
    RateLimited,
    Sender,
)
from storage.broadcasts import (
    Claimed,
    Outcome,
)
from storage.vocabulary import Channel


class TelegramLoop(SenderLoop):
    channel = Channel.TELEGRAM.value

    def __init__(self, *, sender: Sender, pacer: Pacer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        rate = self._config.effective_telegram_rate
        self._sender = sender
        # ``pacer``: the bot token's budget shared with the answers and staff posts of this
        # process (they count toward the same limit); its own otherwise.
        self._pacer = pacer or Pacer(rate, margin=self._config.telegram_margin)
        # Enough requests in flight to keep the bucket busy through round trips and database
        # writes (twice the round trip), plus a few for slow answers.
        self._slots = asyncio.Semaphore(min(256, math.ceil(rate * self._config.round_trip * 2) + 4))
        # About one second of sending per batch.
        self.batch_size = max(10, min(1000, math.ceil(rate)))

    async def send_batch(self, batch: list[Claimed]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._send(item) for item in batch)))

    async def _send(self, item: Claimed) -> Outcome:
        async with self._slots:
            started = await self._pacer.acquire(self._stop)
            if started is None or not self.sendable(item):
                return self.release(item)
            if await self.is_cancelled(item.broadcast_id):
                return self.cancelled(item)
            reply = self.reply_for_item(item)
            if reply is None:
                return self.failed(item, "broadcast not found")

            async def send() -> str | None:
                return (await self._sender.send(item.external_id, reply)).message_id

            def limited(error: RateLimited) -> None:
                self._pacer.limited(error.retry_after, started)
                self.note_limited(error, self._pacer.rate)

            return await self.send_one(item, send, limited)
