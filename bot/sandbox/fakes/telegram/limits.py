"""Rate limits: a sliding window for the overall limit, token buckets per chat."""

from __future__ import annotations

import math
import time
from collections import deque

# --------------------------------------------------------------------------------------
# Rate limiting
# --------------------------------------------------------------------------------------


class _Bucket:
    """A token bucket: ``rate`` tokens per second up to ``capacity``."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class _Window:
    """At most ``limit`` admitted sends in any interval of ``window`` seconds — a true sliding
    window, as strict as Telegram's counting may be: a burst at the end of one second and the
    start of the next is refused (fixed one-second buckets would admit it), and so is any burst
    after a pause that would put more than ``limit`` sends into one second."""

    def __init__(self, limit: float, window: float = 1.0) -> None:
        self.limit = max(1, math.floor(limit))
        self.window = window
        self.times: deque[float] = deque()

    def wait_time(self) -> float:
        now = time.monotonic()
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        # Until the oldest admitted send leaves the window.
        return max(1e-6, self.times[0] + self.window - now)

    def take(self) -> None:
        self.times.append(time.monotonic())
