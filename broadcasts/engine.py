"""The delivery engine: sends planned broadcasts from the ``deliveries`` queue at each
messenger's rate limit, records every outcome, and survives crashes and several processes.

This module runs the loops (one per channel, in the process that leads it); the loop every
channel shares is ``broadcasts.sender_loop`` (with ``EngineConfig``), the channels' sending is
``broadcasts.telegram_loop`` and ``broadcasts.viber_loop``.

One sender loop per channel. A loop claims a batch of due deliveries (pending, next_attempt_at
passed), leasing them (state ``sending``, ``lease_until``) in one transaction — on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so several processes share a broadcast and each delivery is claimed by
one of them — sends the batch, and writes the outcomes of the whole batch in one transaction. A
few batches per channel are in flight (Telegram 2, Viber 4), so the next one is claimed while the
last responses of the previous one arrive and the rate does not dip between batches. Viber's loop
also claims its next batch while all four are busy (its claims, not Viber's limit, were the slow
step); that batch waits for a slot, so the batches sent and not yet recorded are still four.

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
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.election import AlwaysLeader, Election, Term
from broadcasts.limits import Pacer
from broadcasts.sender_loop import EngineConfig, SenderLoop, reply_for
from broadcasts.telegram_loop import TelegramLoop
from broadcasts.viber_loop import ViberLoop, ViberTransport
from messaging.contract import (
    Sender,
)
from storage.vocabulary import Clock, system_clock

__all__ = ["DeliveryEngine", "EngineConfig", "ViberTransport", "reply_for"]


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

    def _term(self, make: Callable[[asyncio.Event, asyncio.Event], SenderLoop]) -> Term:
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
