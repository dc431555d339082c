"""The engine's client-side limiters: even spacing, pauses for the whole channel, sliding
windows, and waits that end when the engine stops."""

from __future__ import annotations

import asyncio
import time

from broadcasts.limits import SlidingWindow, TokenBucket


async def test_token_bucket_spaces_permits_at_the_rate() -> None:
    bucket = TokenBucket(100.0)
    stop = asyncio.Event()
    started = time.monotonic()
    for _ in range(21):
        assert await bucket.acquire(stop)
    elapsed = time.monotonic() - started
    # The first permit is immediate, the next twenty 10 ms apart: no burst.
    assert 0.19 <= elapsed < 0.5


async def test_a_pause_holds_every_sender() -> None:
    bucket = TokenBucket(1000.0)
    stop = asyncio.Event()
    bucket.pause(0.2)
    assert bucket.paused_for() > 0.1
    started = time.monotonic()
    results = await asyncio.gather(*(bucket.acquire(stop) for _ in range(5)))
    assert all(results)
    assert time.monotonic() - started >= 0.19


async def test_stopping_ends_a_long_wait_without_a_permit() -> None:
    bucket = TokenBucket(1.0)
    window = SlidingWindow(1, 60.0)
    stop = asyncio.Event()
    bucket.pause(30.0)
    assert await window.acquire(stop)
    waits = asyncio.gather(bucket.acquire(stop), window.acquire(stop))
    await asyncio.sleep(0.05)
    stop.set()
    assert await asyncio.wait_for(waits, timeout=1.0) == [False, False]


async def test_sliding_window_allows_the_limit_per_window() -> None:
    window = SlidingWindow(3, 0.2, margin=0.0)
    stop = asyncio.Event()
    started = time.monotonic()
    for _ in range(3):
        assert await window.acquire(stop)
    assert time.monotonic() - started < 0.1
    for _ in range(3):
        assert await window.acquire(stop)
    assert time.monotonic() - started >= 0.19
