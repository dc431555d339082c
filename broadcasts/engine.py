"""The delivery engine: sends planned broadcasts from the ``deliveries`` queue at each
messenger's rate limit, records every outcome, and survives crashes and several processes.

One sender loop per channel. A loop claims a batch of due deliveries (pending, next_attempt_at
passed), leasing them (state ``sending``, ``lease_until``) in one transaction — on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so several processes share a broadcast and each delivery is claimed by
one of them — sends the batch, and writes the outcomes of the whole batch in one transaction. A
few batches per channel are in flight (Telegram 2, Viber 4), so the next one is claimed while the
last responses of the previous one arrive and the rate does not dip between batches.

Telegram: a pacer at the configured rate (30/s; 1,000/s in paid-broadcast mode; see
broadcasts.limits.Pacer): evenly spaced starts with a small margin, so no one-second window at the
server holds more than the rate whatever the round trip's jitter, no burst after a pause, and
after a 429 a reduced rate that climbs back (a limit lower than configured is found and kept);
enough concurrent requests to keep it busy with 50 ms round trips. Viber: ``broadcast_message``
with up to 300 receivers per call within 500 calls per 10 s (sliding window); if the account may
not broadcast (status 20) the loop falls back to ``send_message`` per resident for the rest of
the run. A 429 (Viber status 12) pauses the whole channel for ``retry_after`` and the delivery goes
back to pending without counting as a failure (``deferrals`` caps even that); it is logged at
INFO, counted (``_Loop.rate_limited``), and recorded for the progress messages, which may be
rendered by another process (storage.pacing). Blocked or not
subscribed: delivery ``blocked``, resident inactive. Transient errors: retried with exponential
backoff, ``failed`` after ``max_attempts``. Permanent errors: ``failed`` with the reason.

Crash safety and the duplicate window
-------------------------------------
A delivery is ``sending`` only while a process holds its lease. If the process dies, its
deliveries stay ``sending`` until ``lease_until`` passes; the next claim (by any process, or the
restarted one) puts them back to pending and sends them. Nothing is lost. A resident can get a
message twice only if it was actually sent but its outcome was not yet committed at the moment
of the crash: at most the deliveries of the batches in flight, i.e. ``batches_in_flight × batch
size`` per channel (Telegram: 2 × the rate × 1 s, 60 at 30/s; Viber: 4 × 1,500 receivers), and
only after the lease (default 60 s) has expired. A process never starts sending a delivery whose
lease is about to expire (it puts it back instead), so a slow process and its successor do not
overlap.
The same window applies when a batch's outcomes cannot be written (database down).
Long texts split by the messenger adapters into several messages are retried whole after a 429
in the middle: the parts already sent may arrive twice (news is meant to fit one message).

Per-recipient texts and quiet hours
-----------------------------------
A delivery with a ``body`` of its own (a digest) is sent with that text instead of the
broadcast's; Viber broadcast calls group receivers by body, so identical digests still go out
300 at a time. A long digest is split by the adapters like any text, so the duplicate note
above applies to its parts (a 429 after the first part resends the parts already sent; digests
are kept to a few parts: see broadcasts.digest). During quiet hours (``EngineConfig.quiet``)
only urgent broadcasts are claimed: the deliveries of the others stay pending and go out when
the window ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.election import AlwaysLeader, Election, Term
from broadcasts.limits import TELEGRAM_MARGIN, Pacer, SlidingWindow
from broadcasts.quiet import QuietHours
from messaging.contract import (
    Button,
    Keyboard,
    Media,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
    Reply,
    Sender,
    TransientChannelError,
    with_keyboard,
)
from storage.broadcasts import (
    Claimed,
    DeliveryState,
    Outcome,
    cancelled_broadcast_ids,
    claim_due,
    finish_done,
    record_outcomes,
)
from storage.errors import TRY_AGAIN_LATER
from storage.models import Broadcast
from storage.pacing import record_throttle
from storage.vocabulary import Channel, Clock, system_clock

log = logging.getLogger(__name__)

# Viber statuses in a failed_list or an answer (see ../shared/CONTEXT.md).
VIBER_BLOCKED = frozenset({5, 6})
# Bad data, missing data, no suitable device, API version not supported: retrying cannot help.
VIBER_PERMANENT = frozenset({3, 4, 11, 13})
VIBER_BROADCAST_NOT_ALLOWED = 20
# How stale a loop's view of cancelled broadcasts may be (seconds).
CANCEL_REFRESH = 0.5


@dataclass(frozen=True, slots=True)
class EngineConfig:
    telegram_rate: float = 30.0
    # broadcasts.limits.TELEGRAM_MARGIN (what it costs: 1.5 % of the rate).
    telegram_margin: float = TELEGRAM_MARGIN
    telegram_paid: bool = False
    # Telegram's cap with allow_paid_broadcast.
    paid_rate: float = 1000.0
    viber_broadcast: bool = True
    viber_calls: int = 500
    viber_window: float = 10.0
    viber_batch: int = 300
    # Broadcast calls per claimed batch (so a claim is 1,500 receivers).
    viber_calls_per_batch: int = 5
    viber_single_concurrency: int = 10
    # The round trip the concurrency is sized for (Ukraine to the messengers: about 50 ms).
    round_trip: float = 0.05
    lease: timedelta = timedelta(seconds=60)
    # Never start a send with less lease left than this: the outcome must be recorded in time.
    lease_margin: timedelta = timedelta(seconds=15)
    max_attempts: int = 5
    max_deferrals: int = 50
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    idle_poll: float = 1.0
    # A database error makes the loop wait this long before the next try.
    error_pause: float = 2.0
    # Quiet hours: only urgent broadcasts are sent inside the window (None: never quiet).
    quiet: QuietHours | None = None

    @property
    def effective_telegram_rate(self) -> float:
        return self.paid_rate if self.telegram_paid else self.telegram_rate


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


def reply_for(broadcast: Broadcast) -> Reply:
    media = (
        Media(kind=broadcast.media_kind, ref=broadcast.media_ref, file_name=broadcast.media_name)
        if broadcast.media_kind and broadcast.media_ref
        else None
    )
    # A poll's options: the same buttons for every recipient (inline in Telegram, a keyboard in
    # Viber); each press comes back to the conversation as the button's action.
    buttons = tuple(
        tuple(Button(label=label, action=action) for label, action in row)
        for row in broadcast.buttons or ()
    )
    return Reply(text=broadcast.text, media=media, buttons=buttons)


class _Loop:
    """One channel's sender loop; subclasses send a claimed batch."""

    channel: str
    batch_size: int
    # Claimed batches in flight at once: while one waits for the messenger, the next is claimed
    # and the one before is recorded.
    batches_in_flight = 2

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        config: EngineConfig,
        clock: Clock,
        stop: asyncio.Event,
        wake: asyncio.Event,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._config = config
        self._clock = clock
        self._stop = stop
        self._wake = wake
        self._replies: dict[int, Reply] = {}
        self._cancelled: set[int] = set()
        self._cancelled_checked = -math.inf
        # 429s (Viber: status 12) answered to this loop.
        self.rate_limited = 0
        self._throttle: tuple[float, float] | None = None
        self._throttle_task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        inflight: set[asyncio.Task[None]] = set()
        try:
            while not self._stop.is_set():
                if len(inflight) < self.batches_in_flight:
                    try:
                        batch = await self._claim()
                    except TRY_AGAIN_LATER as error:
                        log.warning("%s: claim failed, retrying later: %s", self.channel, error)
                        await self._idle(self._config.error_pause)
                        continue
                    if batch:
                        inflight.add(asyncio.create_task(self._process(batch)))
                        continue
                if inflight:
                    done, inflight = await asyncio.wait(
                        inflight, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        _log_failure(task, self.channel)
                    continue
                await self._finish()
                await self._idle(self._config.idle_poll)
        finally:
            # Batches in flight stop sending (their waits end at once) and record what they did.
            if inflight:
                for result in await asyncio.gather(*inflight, return_exceptions=True):
                    if isinstance(result, BaseException):
                        log.error("%s: batch failed at shutdown: %r", self.channel, result)
            if self._throttle_task is not None:
                await asyncio.gather(self._throttle_task, return_exceptions=True)

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _claim(self) -> list[Claimed]:
        now = self._clock()
        quiet = self._config.quiet is not None and self._config.quiet.contains(now)
        async with self._sessionmaker() as session, session.begin():
            batch = await claim_due(
                session,
                channel=self.channel,
                limit=self.batch_size,
                now=now,
                lease=self._config.lease,
                urgent_only=quiet,
            )
            missing = {item.broadcast_id for item in batch} - self._replies.keys()
            for broadcast_id in missing:
                broadcast = await session.get(Broadcast, broadcast_id)
                if broadcast is not None:
                    self._replies[broadcast_id] = reply_for(broadcast)
        return batch

    def reply_for_item(self, item: Claimed) -> Reply | None:
        """What to send to this recipient: their own body (a digest) or the broadcast's reply."""
        reply = self._replies.get(item.broadcast_id)
        if reply is None or item.body is None:
            return reply
        return dataclasses.replace(reply, text=item.body)

    async def _finish(self) -> None:
        try:
            async with self._sessionmaker() as session, session.begin():
                closed = await finish_done(session, now=self._clock())
        except TRY_AGAIN_LATER as error:
            log.warning("%s: finishing broadcasts failed: %s", self.channel, error)
            return
        for broadcast_id in closed:
            log.info("broadcast %d finished", broadcast_id)

    async def _process(self, batch: list[Claimed]) -> None:
        outcomes = await self.send_batch(batch)
        try:
            async with self._sessionmaker() as session, session.begin():
                await record_outcomes(session, outcomes=outcomes, now=self._clock())
        except TRY_AGAIN_LATER as error:
            # The deliveries stay leased and go out again after the lease: the documented window.
            log.error("%s: %d outcomes not recorded: %s", self.channel, len(outcomes), error)

    async def send_batch(self, batch: list[Claimed]) -> list[Outcome]:
        raise NotImplementedError

    def note_limited(self, error: RateLimited, rate: float) -> None:
        """Log and count a 429, and record the pause where progress messages read it (in the
        background, one write at a time: the 429s of one event coalesce)."""
        self.rate_limited += 1
        log.info(
            "%s: rate limited (%s), retry_after %g s; pacing at %.1f/s",
            self.channel,
            error,
            error.retry_after,
            rate,
        )
        self._throttle = (error.retry_after, rate)
        if self._throttle_task is None or self._throttle_task.done():
            self._throttle_task = asyncio.create_task(self._record_throttle())

    async def _record_throttle(self) -> None:
        while self._throttle is not None:
            retry_after, rate = self._throttle
            self._throttle = None
            try:
                async with self._sessionmaker() as session, session.begin():
                    await record_throttle(
                        session,
                        channel=self.channel,
                        retry_after=retry_after,
                        now=self._clock(),
                        rate=rate,
                    )
            except TRY_AGAIN_LATER as error:
                log.warning("%s: rate limit not recorded: %s", self.channel, error)

    async def is_cancelled(self, broadcast_id: int) -> bool:
        """Whether staff cancelled the broadcast after its deliveries were claimed: claimed ones
        are then not sent either. Checked at most every CANCEL_REFRESH seconds per loop."""
        now = time.monotonic()
        if now - self._cancelled_checked >= CANCEL_REFRESH:
            # Set first: concurrent senders use the previous answer instead of querying too.
            self._cancelled_checked = now
            try:
                async with self._sessionmaker() as session:
                    self._cancelled = set(await cancelled_broadcast_ids(session))
            except TRY_AGAIN_LATER as error:
                log.warning("%s: cancellations not checked: %s", self.channel, error)
        return broadcast_id in self._cancelled

    # -- outcomes ---------------------------------------------------------------------------

    def sendable(self, item: Claimed) -> bool:
        """Still ours long enough to send and record; False once the engine stops."""
        if self._stop.is_set():
            return False
        return self._clock() + self._config.lease_margin < item.lease_until

    def cancelled(self, item: Claimed) -> Outcome:
        return Outcome(item.id, DeliveryState.CANCELLED)

    def release(self, item: Claimed) -> Outcome:
        # Not sent: back to pending at once, nothing counted.
        return Outcome(item.id, DeliveryState.PENDING, retry_at=self._clock())

    def sent(self, item: Claimed, message_id: str | None) -> Outcome:
        return Outcome(item.id, DeliveryState.SENT, message_id=message_id or None)

    def blocked(self, item: Claimed, error: str) -> Outcome:
        return Outcome(item.id, DeliveryState.BLOCKED, resident_id=item.resident_id, error=error)

    def failed(self, item: Claimed, error: str) -> Outcome:
        return Outcome(item.id, DeliveryState.FAILED, error=error, attempt=True)

    def deferred(self, item: Claimed, retry_after: float, error: str) -> Outcome:
        if item.deferrals + 1 >= self._config.max_deferrals:
            return Outcome(item.id, DeliveryState.FAILED, error=f"rate limited: {error}")
        retry_at = self._clock() + timedelta(seconds=retry_after)
        return Outcome(
            item.id, DeliveryState.PENDING, error=error, retry_at=retry_at, deferral=True
        )

    def retry(self, item: Claimed, error: str) -> Outcome:
        attempts = item.attempts + 1
        if attempts >= self._config.max_attempts:
            return Outcome(item.id, DeliveryState.FAILED, error=error, attempt=True)
        delay = min(self._config.backoff_cap, self._config.backoff_base * 2 ** (attempts - 1))
        retry_at = self._clock() + timedelta(seconds=delay)
        return Outcome(item.id, DeliveryState.PENDING, error=error, retry_at=retry_at, attempt=True)

    async def send_one(
        self,
        item: Claimed,
        send: Callable[[], Awaitable[str | None]],
        limited: Callable[[RateLimited], None],
    ) -> Outcome:
        """Send one delivery and map the neutral channel errors onto its outcome."""
        try:
            message_id = await send()
        except RateLimited as error:
            limited(error)
            return self.deferred(item, error.retry_after, str(error))
        except RecipientBlocked as error:
            return self.blocked(item, str(error))
        except TransientChannelError as error:
            return self.retry(item, str(error))
        except PermanentChannelError as error:
            return self.failed(item, str(error))
        except Exception as error:
            # A bug or an error the adapter did not map: counted as a failed attempt (so it is
            # bounded) rather than losing the outcomes of the whole batch.
            log.exception("%s: unexpected error sending delivery %d", self.channel, item.id)
            return self.retry(item, repr(error))
        return self.sent(item, message_id)


def _log_failure(task: asyncio.Task[None], channel: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s: batch failed: %r", channel, task.exception())


class TelegramLoop(_Loop):
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


class ViberLoop(_Loop):
    channel = Channel.VIBER.value
    # Measured: 4 batches in flight sent 37 % more than 2 (bench/broadcast_viber.py).
    batches_in_flight = 4

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
        live = [item for item in items if self.sendable(item)]
        outcomes = [self.release(item) for item in items if not self.sendable(item)]
        failures: dict[str, tuple[int, str]] = {}
        token = ""
        messages = self._transport.render(reply)
        for index, message in enumerate(messages):
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
            except RateLimited as error:
                self._viber_limited(error)
                if index == 0:
                    return outcomes + [
                        self.deferred(item, error.retry_after, str(error)) for item in live
                    ]
                break
            except TransientChannelError as error:
                if index == 0:
                    return outcomes + [self.retry(item, str(error)) for item in live]
                break
            except PermanentChannelError as error:
                if error.code == VIBER_BROADCAST_NOT_ALLOWED:
                    if self._broadcast_allowed:
                        log.warning("viber: broadcast not allowed, sending one by one")
                    self._broadcast_allowed = False
                    if index == 0:
                        return outcomes + await self._one_by_one(live, reply)
                    break
                if index == 0:
                    return outcomes + [self.failed(item, str(error)) for item in live]
                break
            token = token or str(answer.get("message_token", ""))
            for entry in answer.get("failed_list") or []:
                if isinstance(entry, dict) and "receiver" in entry:
                    status = int(entry.get("status", -1))
                    failures[str(entry["receiver"])] = (status, str(entry.get("status_message")))
        for item in live:
            failure = failures.get(item.external_id)
            if failure is None:
                outcomes.append(self.sent(item, token))
                continue
            status, text = failure
            reason = f"broadcast_message: status {status} {text}"
            if status in VIBER_BLOCKED:
                outcomes.append(self.blocked(item, reason))
            elif status in VIBER_PERMANENT:
                outcomes.append(self.failed(item, reason))
            else:
                outcomes.append(self.retry(item, reason))
        return outcomes

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


class DeliveryEngine:
    """Runs one sender loop per configured channel until ``stop`` is set, in the process that
    leads that channel (``election``; see broadcasts.election)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        telegram: Sender | None = None,
        viber: ViberTransport | None = None,
        config: EngineConfig | None = None,
        clock: Clock = system_clock,
        election: Election | None = None,
        telegram_pacer: Pacer | None = None,
    ) -> None:
        """``telegram_pacer``: the process's budget of the bot token's free sends, shared with
        its other Telegram calls (not used for paid broadcasts, which have their own limit)."""
        self._sessionmaker = sessionmaker
        self._telegram = telegram
        self._telegram_pacer = None if (config and config.telegram_paid) else telegram_pacer
        self._viber = viber
        self._config = config or EngineConfig()
        self._clock = clock
        self._election: Election = election or AlwaysLeader()
        self._wake: list[asyncio.Event] = []

    def wake(self) -> None:
        """A broadcast was just planned: look for work now rather than at the next poll."""
        for event in self._wake:
            event.set()

    async def run(self, stop: asyncio.Event) -> None:
        common = {"sessionmaker": self._sessionmaker, "config": self._config, "clock": self._clock}
        terms: dict[str, Term] = {}
        telegram, viber = self._telegram, self._viber
        if telegram is not None:
            terms["telegram"] = self._term(
                lambda term_stop, wake: TelegramLoop(
                    sender=telegram,
                    pacer=self._telegram_pacer,
                    stop=term_stop,
                    wake=wake,
                    **common,
                )
            )
        if viber is not None:
            terms["viber"] = self._term(
                lambda term_stop, wake: ViberLoop(
                    transport=viber, stop=term_stop, wake=wake, **common
                )
            )
        if not terms:
            return
        tasks = [
            asyncio.create_task(
                self._election.lead(f"sender:{channel}", stop, term), name=f"broadcast-{channel}"
            )
            for channel, term in terms.items()
        ]
        stopper = asyncio.create_task(self._relay(stop))
        try:
            await asyncio.gather(*tasks)
        finally:
            stopper.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(stopper, *tasks, return_exceptions=True)
            self._wake.clear()

    def _term(self, make: Callable[[asyncio.Event, asyncio.Event], _Loop]) -> Term:
        """One leadership term of a channel: its loop runs until the term's stop is set."""
        wake = asyncio.Event()
        self._wake.append(wake)

        async def term(term_stop: asyncio.Event) -> None:
            # An idle loop sleeps on its wake event: the end of the term must wake it too.
            relay = asyncio.create_task(_set_when(term_stop, wake))
            try:
                await make(term_stop, wake).run()
            finally:
                relay.cancel()

        return term

    async def _relay(self, stop: asyncio.Event) -> None:
        # Idle loops sleep on their wake event: stopping must wake them too.
        await stop.wait()
        self.wake()


async def _set_when(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()
