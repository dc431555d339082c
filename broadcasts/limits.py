"""Client-side rate limiters for the delivery engine: a token bucket (Telegram's messages per
second) and a sliding window (Viber's calls per 10 s), both pausable for a server's
``retry_after`` and both abandoning their wait when the engine stops.

Waiting is cooperative: every wait is bounded by the computed delay and ends early when ``stop``
is set, so no caller can hang past shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

Monotonic = Callable[[], float]


async def _sleep_or_stop(delay: float, stop: asyncio.Event) -> bool:
    """Sleep ``delay`` seconds; False if ``stop`` was set meanwhile."""
    if stop.is_set():
        return False
    if delay <= 0:
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
    return not stop.is_set()


class TokenBucket:
    """``rate`` permits a second. Capacity 1 by default: permits are spaced evenly, so the
    server's own bucket never sees a burst from us (Telegram counts bursts against the limit)."""

    def __init__(self, rate: float, *, capacity: float = 1.0, clock: Monotonic = time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self._paused_until = 0.0
        # One waiter computes at a time: permits are handed out in arrival order.
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Stop handing out permits for ``seconds`` (a 429's retry_after): the whole channel
        waits, not only the message that was refused."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        # Restart slowly after the pause rather than with a burst.
        self._tokens = min(self._tokens, 1.0)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait for a permit; False if the engine is stopping (the caller must not send)."""
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    if not await _sleep_or_stop(self._paused_until - now, stop):
                        return False
                    continue
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return not stop.is_set()
                if not await _sleep_or_stop((1.0 - self._tokens) / self.rate, stop):
                    return False


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
