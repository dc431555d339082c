"""Viber's sender loop: ``broadcast_message`` to up to 300 receivers per call within Viber's
sliding window of calls, grouped by text and keyboard; ``send_message`` one by one when the
account may not broadcast; a ``failed_list`` read back into each receiver's outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from broadcasts.limits import SlidingWindow
from broadcasts.sender_loop import SenderLoop
from messaging.contract import (
    ChannelError,
    CredentialsRefused,
    Keyboard,
    PermanentChannelError,
    RateLimited,
    Reply,
    TransientChannelError,
    with_keyboard,
)
from storage.broadcasts import (
    Claimed,
    Outcome,
)
from storage.errors import TRY_AGAIN_LATER
from storage.vocabulary import Channel

# One logger for the whole engine (its loops included): operators filter on it.
log = logging.getLogger("broadcasts.engine")

# Viber statuses in a failed_list or an answer (see ../shared/CONTEXT.md).
VIBER_BLOCKED = frozenset({5, 6})
# Bad data, missing data, no suitable device, API version not supported: retrying cannot help.
VIBER_PERMANENT = frozenset({3, 4, 11, 13})
VIBER_BROADCAST_NOT_ALLOWED = 20


class ViberApi(Protocol):
    """The one call the engine needs from the Viber client (``ViberClient.call``)."""

    async def call(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ViberTransport:
    api: ViberApi
    # Reply -> Viber message dicts (bot.viber.render.messages), so the engine imports no adapter.
    render: Callable[[Reply], list[dict[str, Any]]]
    sender_info: Mapping[str, str]
    # The keyboard each resident should have now, by resident id (handlers.keyboards): Viber
    # shows the last keyboard sent, so every broadcast carries it (under a poll's options).
    keyboards: Callable[[Collection[int]], Awaitable[Mapping[int, Keyboard]]] | None = None


class ViberLoop(SenderLoop):
    channel = Channel.VIBER.value
    # Measured: 4 batches in flight sent 37 % more than 2 (bench/broadcast_viber.py).
    batches_in_flight = 4
    # Measured: the serial claim of 1,500 receivers was the slow step (73 % of the run's wall
    # time); claimed ahead, 6,934 -> 12,387 recipients/s (bench/broadcast_viber.py).
    claim_ahead = True

    def __init__(self, *, transport: ViberTransport, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._transport = transport
        self._window = SlidingWindow(self._config.viber_calls, self._config.viber_window)
        self._broadcast_allowed = self._config.viber_broadcast
        self._singles = asyncio.Semaphore(self._config.viber_single_concurrency)
        self.batch_size = self._config.viber_batch * self._config.viber_calls_per_batch

    async def send_batch(self, batch: list[Claimed]) -> list[Outcome]:
        chunks: list[tuple[list[Claimed], Keyboard]] = []
        keyboards = await self._keyboards(batch)
        # One broadcast call carries one text and one keyboard: receivers are grouped by
        # broadcast, body and keyboard (the main menu in each language; an open flow's own).
        by_text: dict[tuple[int, str | None, Keyboard], list[Claimed]] = {}
        for item in batch:
            keyboard = keyboards.get(item.resident_id, ()) if item.resident_id is not None else ()
            by_text.setdefault((item.broadcast_id, item.body, keyboard), []).append(item)
        size = self._config.viber_batch
        for (_, _, keyboard), items in by_text.items():
            chunks.extend(
                (items[start : start + size], keyboard) for start in range(0, len(items), size)
            )
        results = await asyncio.gather(*(self._chunk(chunk, board) for chunk, board in chunks))
        return [outcome for chunk_outcomes in results for outcome in chunk_outcomes]

    async def _keyboards(self, batch: list[Claimed]) -> Mapping[int, Keyboard]:
        lookup = self._transport.keyboards
        if lookup is None:
            return {}
        try:
            return await lookup([item.resident_id for item in batch if item.resident_id])
        except TRY_AGAIN_LATER as error:
            # The message matters more than the menu under it.
            log.warning("viber: keyboards not looked up, sending without: %s", error)
            return {}

    async def _chunk(self, items: list[Claimed], keyboard: Keyboard = ()) -> list[Outcome]:
        # Every item of a chunk shares the broadcast, the body and the keyboard.
        reply = self.reply_for_item(items[0])
        if reply is None:
            return [self.failed(item, "broadcast not found") for item in items]
        reply = with_keyboard(reply, keyboard)
        if not self._broadcast_allowed:
            return await self._one_by_one(items, reply)
        if not await self._window.acquire(self._stop):
            return [self.release(item) for item in items]
        if await self.is_cancelled(items[0].broadcast_id):
            return [self.cancelled(item) for item in items]
        # One look at the clock for the whole chunk: its deliveries were claimed together.
        now = self._clock()
        live = [item for item in items if self.sendable(item, now)]
        outcomes = [self.release(item) for item in items if not self.sendable(item, now)]
        sent = await self._broadcast(live, reply)
        if isinstance(sent, list):
            return outcomes + sent
        token, failures = sent
        return outcomes + [self._read_back(item, token, failures) for item in live]

    async def _broadcast(
        self, live: list[Claimed], reply: Reply
    ) -> list[Outcome] | tuple[str, dict[str, tuple[int, str]]]:
        """Send every part of ``reply`` to ``live``: the message token and the receivers Viber
        refused, or the outcomes of all when the first part did not go out."""
        failures: dict[str, tuple[int, str]] = {}
        token = ""
        for index, message in enumerate(self._transport.render(reply)):
            receivers = [item.external_id for item in live if item.external_id not in failures]
            if not receivers:
                break
            if index > 0 and not await self._window.acquire(self._stop):
                # The first part went out: record them as sent rather than resend it.
                break
            payload = {
                "broadcast_list": receivers,
                "sender": dict(self._transport.sender_info),
                **message,
            }
            try:
                answer = await self._transport.api.call("broadcast_message", payload)
            except (TransientChannelError, PermanentChannelError) as error:
                if index == 0:
                    return await self._refused(error, live, reply)
                # A later part: the first went out, so they count as sent.
                self._note_refusal(error)
                break
            token = token or str(answer.get("message_token", ""))
            failures.update(_failed_list(answer))
        return token, failures

    def _note_refusal(self, error: ChannelError) -> None:
        """What a refused call tells about the channel: pause after a 429; no more broadcast
        calls once Viber says this account may not broadcast."""
        if isinstance(error, RateLimited):
            self._viber_limited(error)
        elif isinstance(error, PermanentChannelError) and error.code == VIBER_BROADCAST_NOT_ALLOWED:
            if self._broadcast_allowed:
                log.warning("viber: broadcast not allowed, sending one by one")
            self._broadcast_allowed = False

    async def _refused(
        self, error: ChannelError, live: list[Claimed], reply: Reply
    ) -> list[Outcome]:
        """The outcomes of the receivers of a first part that Viber refused."""
        self._note_refusal(error)
        if isinstance(error, RateLimited):
            return [self.deferred(item, error.retry_after, str(error)) for item in live]
        if isinstance(error, CredentialsRefused):
            return [self.refused_token(item) for item in live]
        if isinstance(error, TransientChannelError):
            return [self.retry(item, str(error)) for item in live]
        if error.code == VIBER_BROADCAST_NOT_ALLOWED:
            return await self._one_by_one(live, reply)
        return [self.failed(item, str(error)) for item in live]

    def _read_back(
        self, item: Claimed, token: str, failures: dict[str, tuple[int, str]]
    ) -> Outcome:
        failure = failures.get(item.external_id)
        if failure is None:
            return self.sent(item, token)
        status, text = failure
        reason = f"broadcast_message: status {status} {text}"
        if status in VIBER_BLOCKED:
            return self.blocked(item, reason)
        if status in VIBER_PERMANENT:
            return self.failed(item, reason)
        return self.retry(item, reason)

    async def _one_by_one(self, items: list[Claimed], reply: Reply) -> list[Outcome]:
        return list(await asyncio.gather(*(self._single(item, reply) for item in items)))

    async def _single(self, item: Claimed, reply: Reply) -> Outcome:
        async with self._singles:
            if not self.sendable(item):
                return self.release(item)
            if await self.is_cancelled(item.broadcast_id):
                return self.cancelled(item)

            async def send() -> str | None:
                token = ""
                for message in self._transport.render(reply):
                    payload = {
                        "receiver": item.external_id,
                        "sender": dict(self._transport.sender_info),
                        **message,
                    }
                    answer = await self._transport.api.call("send_message", payload)
                    token = token or str(answer.get("message_token", ""))
                return token

            return await self.send_one(item, send, self._viber_limited)

    def _viber_limited(self, error: RateLimited) -> None:
        self._window.pause(error.retry_after)
        self.note_limited(error, self._config.viber_calls / self._config.viber_window)


def _failed_list(answer: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """The receivers of a ``broadcast_message`` answer's ``failed_list``: (status, message)."""
    failures: dict[str, tuple[int, str]] = {}
    for entry in answer.get("failed_list") or []:
        if isinstance(entry, dict) and "receiver" in entry:
            status = int(entry.get("status", -1))
            failures[str(entry["receiver"])] = (status, str(entry.get("status_message")))
    return failures
