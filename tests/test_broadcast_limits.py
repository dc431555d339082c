"""The engine's client-side limiters: even spacing, pauses for the whole channel, no burst after
a pause, the rate adapted after a 429, sliding windows, and waits that end when the engine
stops."""

from __future__ import annotations

import asyncio
import itertools
import time

from broadcasts.limits import Pacer, SlidingWindow


async def test_pacer_spaces_starts_at_the_rate_with_its_margin() -> None:
    pacer = Pacer(100.0, margin=0.05)
    stop = asyncio.Event()
    starts = []
    for _ in range(31):
        started = await pacer.acquire(stop)
        assert started is not None
        starts.append(started)
    # 10.5 ms apart: no window of 1.05 × 100 ms holds more than ten starts (the schedule may
    # run behind by its slack of 2 ms, never more).
    for first, eleventh in zip(starts, starts[10:], strict=False):
        assert eleventh - first >= 0.105 - pacer.slack
    assert starts[-1] - starts[0] < 0.5


async def test_a_pause_holds_every_sender_and_ends_without_a_burst() -> None:
    pacer = Pacer(100.0, margin=0.0)
    stop = asyncio.Event()
    pacer.pause(0.2)
    assert pacer.paused_for() > 0.1
    started = time.monotonic()
    results = await asyncio.gather(*(pacer.acquire(stop) for _ in range(5)))
    starts = sorted(result for result in results if result is not None)
    assert len(starts) == 5
    assert starts[0] - started >= 0.19
    # After the pause the schedule starts again from now: one start per 10 ms, not five at once
    # (a token bucket that kept refilling through the pause would burst).
    assert all(b - a >= 0.01 - pacer.slack for a, b in itertools.pairwise(starts))


async def test_stopping_ends_a_long_wait_without_a_permit() -> None:
    pacer = Pacer(1.0)
    window = SlidingWindow(1, 60.0)
    stop = asyncio.Event()
    pacer.pause(30.0)
    assert await window.acquire(stop)
    waits = asyncio.gather(pacer.acquire(stop), window.acquire(stop))
    await asyncio.sleep(0.05)
    stop.set()
    assert list(await asyncio.wait_for(waits, timeout=1.0)) == [None, False]


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_lone_429_at_the_configured_rate_steps_down_by_one_step() -> None:
    clock = ManualClock()
    pacer = Pacer(30.0, clock=clock)
    stop = asyncio.Event()
    started = await pacer.acquire(stop)
    assert started is not None
    # A stray: late packets bunched in the server's window, not a lower limit.
    assert pacer.limited(1.0, started)
    assert pacer.rate == 29.5
    assert pacer.paused_for() == 1.0
    # Back at the configured rate two seconds later.
    clock.now += 2.0
    assert await pacer.acquire(stop) is not None
    assert pacer.rate == 30.0


async def test_after_a_second_429_the_rate_drops_then_climbs_back() -> None:
    clock = ManualClock()
    pacer = Pacer(30.0, clock=clock)
    stop = asyncio.Event()
    started = await pacer.acquire(stop)
    assert started is not None
    assert pacer.limited(1.0, started)  # a stray: 29.5
    clock.now += 1.0
    started = await pacer.acquire(stop)
    assert started is not None
    # Soon after the first: a limit below the rate.
    assert pacer.limited(1.0, started)
    assert pacer.rate == 29.5 * 0.85
    assert pacer.paused_for() == 1.0
    # Another send that was in flight when the rate dropped: the same event, only counted.
    assert not pacer.limited(1.0, started)
    assert (pacer.rate, pacer.limited_count) == (29.5 * 0.85, 3)
    # +0.5/s every two seconds without a 429, up to the configured rate.
    rates = []
    for _ in range(12):
        clock.now += 2.0
        assert await pacer.acquire(stop) is not None
        rates.append(pacer.rate)
    assert rates[:3] == [29.5 * 0.85 + 0.5, 29.5 * 0.85 + 1.0, 29.5 * 0.85 + 1.5]
    assert rates[-1] == 30.0


async def test_a_lower_limit_is_found_and_kept() -> None:
    clock = ManualClock()
    pacer = Pacer(30.0, clock=clock)
    stop = asyncio.Event()

    async def run(seconds: float) -> float:
        end = clock.now + seconds
        started = clock.now
        while clock.now < end:
            clock.now += max(0.5, pacer.paused_for())
            started = await pacer.acquire(stop) or started
        return started

    # The limit is about 20/s: a 429 whenever the rate is above it.
    rate_at_429 = []
    for _ in range(200):
        started = await run(0.5)
        if pacer.rate > 20.2:
            rate_at_429.append(pacer.rate)
            pacer.limited(1.0, started)
    # Found: a few drops, then probes above the last good rate, less and less often.
    assert 3 <= len(rate_at_429) <= 12
    assert 19.5 <= pacer.rate <= 20.2
    late = rate_at_429[len(rate_at_429) // 2 :]
    assert all(rate <= 20.2 + pacer.increase for rate in late)


async def test_a_limit_that_drops_below_the_good_rate_drops_the_rate() -> None:
    clock = ManualClock()
    pacer = Pacer(30.0, clock=clock)
    stop = asyncio.Event()
    started = await pacer.acquire(stop)
    assert started is not None
    pacer.limited(1.0, started)  # a stray: 29.5
    clock.now += 1.0
    started = await pacer.acquire(stop)
    assert started is not None
    pacer.limited(1.0, started)  # soon after: 29.5 × 0.85
    dropped = 29.5 * 0.85
    clock.now += 2.0
    started = await pacer.acquire(stop)  # +0.5; the dropped rate held
    assert started is not None
    pacer.limited(1.0, started)  # a probe: back to the rate that held
    assert pacer.rate == dropped
    clock.now += 2.0
    started = await pacer.acquire(stop)
    assert started is not None
    pacer.limited(1.0, started)  # at the good rate: the limit fell
    assert pacer.rate == dropped * 0.85


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
