"""Rate limits per chat and per group: token buckets, as Telegram documents them (the overall
limit is a ``SlidingWindow`` from ``bot.sandbox.fakes.limits``)."""

from __future__ import annotations

import math
import time

from bot.sandbox.fakes.limits import SlidingWindow


class Bucket:
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


def per_second(rate: float) -> SlidingWindow:
    """The overall limit: at most ``rate`` sends in any one second (at least one)."""
    return SlidingWindow(max(1, math.floor(rate)))
