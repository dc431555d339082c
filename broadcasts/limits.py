"""Client-side rate limiters for the delivery engine: a pacer for Telegram's messages per second
(even spacing, additive increase and multiplicative decrease after a 429) and a sliding window
(Viber's calls per 10 s), both pausable for a server's ``retry_after`` and both abandoning their
wait when the engine stops.

Waiting is cooperative: every wait is bounded by the computed delay and ends early when ``stop``
is set, so no caller can hang past shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Final

Monotonic = Callable[[], float]

# How much longer than the server's second the pacer's window is: it absorbs the round trip's
# jitter (bench/broadcast_strict.py: 29.50/s and no 429 in 10,000 at 30/s; 12 ms met one).
TELEGRAM_MARGIN: Final = 0.015


async def _sleep_or_stop(delay: float, stop: asyncio.Event) -> bool:
    """Sleep ``delay`` seconds; False if ``stop`` was set meanwhile."""
    if stop.is_set():
        return False
    if delay <= 0:
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
    return not stop.is_set()


class Pacer:
    """Starts of sends spaced so that no window of ``1 + margin`` seconds holds more than
    ``rate`` of them, with the rate adapted to what the server accepts.

    Telegram may count sends in a strict sliding window of one second. Evenly spaced starts
    reach the server shifted by the round trip's jitter; the margin (15 ms by default, 1.5 % of
    the rate) absorbs that jitter and this process's own scheduling delays, so the server's
    window never holds more than ``rate`` (measured: bench/broadcast_strict.py). The schedule
    keeps the fraction of a wait the event loop oversleeps (at most ``slack``) but never runs
    behind ``now`` by more: after a pause or an idle spell the next start is one spacing after
    the first, never a burst.

    After a 429 (``limited``): the whole channel waits ``retry_after``, and the rate drops to
    ``decrease`` × itself (not below ``floor``); every ``interval`` seconds without a 429 it
    climbs by ``increase`` up to the configured rate. A lone 429 at the configured rate after
    ``quiet`` seconds without one is a stray (a late packet bunched with the next, not a lower
    limit): the rate steps down by ``increase`` only, and a second 429 soon after is treated as
    a lower limit. A rate that held for an interval is
    remembered as good: a 429 just above it (a probe) returns to it rather than dropping again,
    and the next probe comes later (``probe_hold`` doubling up to ``probe_hold_max``), so a
    limit lower than configured is found and kept with few 429s. A 429 for a send that started
    before the last decrease belongs to that decrease (it was in flight) and only pauses.
    """

    def __init__(
        self,
        rate: float,
        *,
        margin: float = TELEGRAM_MARGIN,
        slack: float = 0.002,
        decrease: float = 0.85,
        increase: float = 0.5,
        interval: float = 2.0,
        floor: float = 1.0,
        probe_hold: float = 10.0,
        probe_hold_max: float = 60.0,
        quiet: float = 10.0,
        clock: Monotonic = time.monotonic,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.max_rate = rate
        self.rate = rate
        self.margin = margin
        self.slack = slack
        self.decrease = decrease
        self.increase = increase
        self.interval = interval
        self.floor = min(floor, rate)
        self.probe_hold = probe_hold
        self.probe_hold_max = probe_hold_max
        self.quiet = quiet
        self._clock = clock
        self._next = -math.inf
        self._paused_until = 0.0
        self._good: float | None = None
        self._hold = interval
        self._changed = clock()
        self._decreased_at = -math.inf
        # When the rate last changed because of a 429 (-inf: never).
        self._limited_at = -math.inf
        # 429s answered to this channel (every one, including those of the same event).
        self.limited_count = 0
        self._lock = asyncio.Lock()

    @property
    def spacing(self) -> float:
        return (1.0 + self.margin) / self.rate

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def limited(self, retry_after: float, started: float) -> bool:
        """A send that started at ``started`` (``acquire``'s answer) got a 429: pause, and adapt
        the rate unless the send belongs to an event already handled. True if the rate changed."""
        self.limited_count += 1
        self.pause(retry_after)
        if started <= self._decreased_at:
            return False
        now = self._clock()
        stray = self.rate >= self.max_rate and now - self._limited_at >= self.quiet
        self._limited_at = now
        if stray:
            # One step down, as for a failed probe; a second 429 soon after is a lower limit.
            self.rate = max(self.floor, self.rate - self.increase)
            self._good = None
            self._hold = self.interval
        elif self._good is not None and self.rate > self._good:
            # A probe above the last good rate: back to it, and probe again later.
            self.rate = self._good
            self._hold = min(self.probe_hold_max, max(self.probe_hold, self._hold * 2))
        else:
            self.rate = max(self.floor, self.rate * self.decrease)
            self._good = None
            self._hold = self.interval
        self._changed = self._decreased_at = now
        return True

    def _climb(self, now: float) -> None:
        if self.rate >= self.max_rate or now - self._changed < self._hold:
            return
        probing = self._good is not None and self.rate > self._good
        self._good = self.rate
        self.rate = min(self.max_rate, self.rate + self.increase)
        self._changed = now
        if probing:
            # The probe held: the limit may be rising again, climb a little sooner.
            self._hold = max(self.interval, self._hold / 2)

    def reserve(self) -> float:
        """Take the next start at once, ahead of the senders waiting in ``acquire`` (an answer to
        a resident must not queue behind a broadcast): the seconds to wait before sending, at
        most one spacing plus a pause. The waiting senders see the later ``_next`` when they
        wake, so the reserved start counts in the same schedule."""
        now = self._clock()
        start = max(self._next, now, self._paused_until)
        self._next = start + self.spacing
        return start - now

    async def acquire(self, stop: asyncio.Event) -> float | None:
        """Wait for the next start; its time, or None if the engine is stopping (the caller
        must not send)."""
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    if not await _sleep_or_stop(self._paused_until - now, stop):
                        return None
                    continue
                self._climb(now)
                if now >= self._next:
                    self._next = max(self._next, now - self.slack) + self.spacing
                    return None if stop.is_set() else now
                if not await _sleep_or_stop(self._next - now, stop):
                    return None


class SlidingWindow:
    """At most ``limit`` permits in any ``window`` seconds (Viber: 500 broadcast calls per 10 s).
    Memory is bounded by ``limit``."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        margin: float = 0.2,
        clock: Monotonic = time.monotonic,
    ):
        if limit < 1 or window <= 0:
            raise ValueError("limit and window must be positive")
        self.limit = limit
        # The server counts a call when it arrives; round trips vary, so our window is a little
        # longer than the server's and a late call cannot land in the server's next window.
        self.window = window + margin
        self._clock = clock
        self._times: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def acquire(self, stop: asyncio.Event) -> bool:
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    if not await _sleep_or_stop(self._paused_until - now, stop):
                        return False
                    continue
                while self._times and now - self._times[0] >= self.window:
                    self._times.popleft()
                if len(self._times) < self.limit:
                    self._times.append(now)
                    return not stop.is_set()
                delay = self._times[0] + self.window - now
                if not await _sleep_or_stop(delay, stop):
                    return False
