"""Signed callbacks to the bot's webhook, with bounded redelivery, and welcome messages."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Literal

import aiohttp
from yarl import URL

from bot.sandbox.fakes.viber.core import ViberCore
from bot.sandbox.fakes.viber.protocol import (
    MANDATORY_EVENTS,
    NOT_DELIVERED,
    SIGNATURE_HEADER,
    JSONDict,
    ViberApiError,
)
from bot.sandbox.fakes.viber.records import CallbackRecord, Delivery, ViberUser
from bot.sandbox.fakes.viber.validation import validate_message


class Callbacks(ViberCore):
    """Signed callbacks to the bot's webhook, with bounded redelivery, and welcome messages."""

    # ------------------------------------------------------------------ callbacks

    def _make_record(self, event: JSONDict, *, redeliverable: bool) -> CallbackRecord:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return CallbackRecord(event, body, self.signature(body), redeliverable)

    async def _post(self, url: str, body: bytes, signature: str | None) -> tuple[int, bytes]:
        if self._client is None:
            raise RuntimeError("FakeViber is not started")
        headers = {"Content-Type": "application/json"}
        target: str | URL = url
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
            if self.sig_query_param:
                target = URL(url).update_query(sig=signature)
        try:
            async with self._client.post(target, data=body, headers=headers) as resp:
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
                self._spawn(self._retry_later(record, delay))
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
        except ViberApiError as err:
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

    def _base_event(self, name: str, message_token: int | None = None) -> JSONDict:
        return {
            "event": name,
            "timestamp": self._now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": message_token if message_token is not None else self._next_token(),
        }

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

    async def _failed_later(self, user_id: str, token: int, desc: str) -> None:
        await self.failed(user_id, token, desc)

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
            self._spawn(self._delivered_later(user.id, token))
        self._notify()

    async def _delivered_later(self, user_id: str, token: int) -> None:
        await self.delivered(user_id, token)
