"""One channel's sender loop of the delivery engine (``broadcasts.engine`` tells the whole
story): claim a batch of due deliveries under a lease, send it, record the outcomes of the whole
batch in one transaction, with a few batches in flight; and the mapping of a send's result
(sent, blocked, rate limited, transient or permanent error) onto a delivery's outcome. The
channels' loops (``telegram_loop``, ``viber_loop``) only send a claimed batch."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.limits import TELEGRAM_MARGIN
from broadcasts.quiet import QuietHours
from messaging.contract import (
    Button,
    CredentialsRefused,
    Media,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
    Reply,
    TransientChannelError,
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
from storage.vocabulary import Clock

# One logger for the whole engine (its loops included): operators filter on it.
log = logging.getLogger("broadcasts.engine")

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
    # The messenger refuses the bot's token (revoked): the deliveries go back to pending,
    # nothing counted against them, and the loop asks again after this long.
    token_pause: float = 300.0
    # Quiet hours: only urgent broadcasts are sent inside the window (None: never quiet).
    quiet: QuietHours | None = None

    @property
    def effective_telegram_rate(self) -> float:
        return self.paid_rate if self.telegram_paid else self.telegram_rate


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


class SenderLoop:
    """One channel's sender loop; subclasses send a claimed batch."""

    channel: str
    batch_size: int
    # Claimed batches in flight at once: while one waits for the messenger, the next is claimed
    # and the one before is recorded.
    batches_in_flight = 2
    # Claim the next batch while every slot is busy (see ``run``): for a loop whose claims,
    # not its messenger's limit, are the slow step.
    claim_ahead = False

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
        # Set by a send the messenger refused for the token; the loop then rests.
        self.token_refused = False

    async def run(self) -> None:
        inflight: set[asyncio.Task[None]] = set()
        # The next batch, claimed while every slot is busy (only after a full claim: more work is
        # likely waiting), so a slot that frees starts sending at once instead of waiting for a
        # claim. It is not sent before a slot frees: the batches sent and not yet recorded stay
        # at most ``batches_in_flight``.
        ahead: asyncio.Task[list[Claimed]] | None = None
        full = False
        try:
            while not self._stop.is_set():
                if self.token_refused:
                    await self._rest_refused(inflight)
                    continue
                if len(inflight) < self.batches_in_flight:
                    claim, ahead = ahead, None
                    try:
                        batch = await (claim if claim is not None else self._claim())
                    except TRY_AGAIN_LATER as error:
                        log.warning("%s: claim failed, retrying later: %s", self.channel, error)
                        await self._idle(self._config.error_pause)
                        continue
                    full = len(batch) >= self.batch_size
                    if batch:
                        inflight.add(asyncio.create_task(self._process(batch)))
                        continue
                if inflight:
                    if ahead is None and full and self.claim_ahead:
                        ahead = asyncio.create_task(self._claim())
                    done, inflight = await asyncio.wait(
                        inflight, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        log_failure(task, self.channel)
                    continue
                await self._finish()
                await self._idle(self._config.idle_poll)
        finally:
            await self._shut_down(inflight, ahead)

    async def _shut_down(
        self, inflight: set[asyncio.Task[None]], ahead: asyncio.Task[list[Claimed]] | None
    ) -> None:
        # A batch claimed ahead is released (its sends see the stop), and batches in flight stop
        # sending (their waits end at once) and record what they did.
        if ahead is not None:
            (batch,) = await asyncio.gather(ahead, return_exceptions=True)
            if isinstance(batch, BaseException):
                log.warning("%s: claim failed at shutdown: %r", self.channel, batch)
            elif batch:
                inflight.add(asyncio.create_task(self._process(batch)))
        if inflight:
            for result in await asyncio.gather(*inflight, return_exceptions=True):
                if isinstance(result, BaseException):
                    log.error("%s: batch failed at shutdown: %r", self.channel, result)
        if self._throttle_task is not None:
            await asyncio.gather(self._throttle_task, return_exceptions=True)

    async def _rest_refused(self, inflight: set[asyncio.Task[None]]) -> None:
        """The token was refused: let the batches in flight record their (released) items,
        then send nothing until ``token_pause`` has passed (a wake-up does not shorten it)."""
        if inflight:
            for result in await asyncio.gather(*inflight, return_exceptions=True):
                if isinstance(result, BaseException):
                    log.error("%s: batch failed: %r", self.channel, result)
            inflight.clear()
        self.token_refused = False
        log.warning(
            "%s: the bot's token is refused; deliveries wait, asking again in %.0f s",
            self.channel,
            self._config.token_pause,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=self._config.token_pause)

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

    def sendable(self, item: Claimed, now: datetime | None = None) -> bool:
        """Still ours long enough to send and record (at ``now``, default the clock's); False
        once the engine stops."""
        if self._stop.is_set():
            return False
        return (now or self._clock()) + self._config.lease_margin < item.lease_until

    def cancelled(self, item: Claimed) -> Outcome:
        return Outcome(item.id, DeliveryState.CANCELLED)

    def release(self, item: Claimed) -> Outcome:
        # Not sent: back to pending at once, nothing counted.
        return Outcome(item.id, DeliveryState.PENDING, retry_at=self._clock())

    def sent(self, item: Claimed, message_id: str | None) -> Outcome:
        return Outcome(item.id, DeliveryState.SENT, message_id=message_id or None)

    def blocked(self, item: Claimed, error: str) -> Outcome:
        return Outcome(item.id, DeliveryState.BLOCKED, resident_id=item.resident_id, error=error)

    def refused_token(self, item: Claimed) -> Outcome:
        """Not the recipient's fault, nor fixed by retrying soon: back to pending, uncounted,
        and the loop rests (``token_pause``)."""
        self.token_refused = True
        return self.release(item)

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
        except CredentialsRefused:
            return self.refused_token(item)
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


def log_failure(task: asyncio.Task[None], channel: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s: batch failed: %r", channel, task.exception())
