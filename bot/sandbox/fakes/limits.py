"""The sliding window both stand-ins count their overall rate limits with."""

from __future__ import annotations

import math
import time
from collections import deque


class SlidingWindow:
    """At most ``limit`` admitted events in any interval of ``window`` seconds — a true sliding
    window, as strict as the real services' counting may be: a burst at the end of one second
    and the start of the next is refused (fixed one-second buckets would admit it), and so is
    any burst after a pause that would put more than ``limit`` events into one window. Memory
    is bounded by ``limit``. ``now`` defaults to the monotonic clock."""

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self.times: deque[float] = deque()

    def wait_time(self, now: float | None = None) -> float:
        """How long until one more event is admitted (0.0: now)."""
        now = time.monotonic() if now is None else now
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        if not self.times:
            return math.inf  # a limit of zero admits nothing, ever
        # Until the oldest admitted event leaves the window.
        return max(1e-6, self.times[0] + self.window - now)

    def take(self, now: float | None = None) -> None:
        self.times.append(time.monotonic() if now is None else now)

    def allow(self, now: float | None = None) -> bool:
        """Admit one event if the window has room."""
        now = time.monotonic() if now is None else now
        if self.wait_time(now) > 0:
            return False
        self.take(now)
        return True
