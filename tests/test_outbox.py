"""The outbox: work after the commit runs in order per key, concurrently across keys, survives
a failure of earlier work, and is drained (or cancelled) at shutdown. Deterministic: every
step waits on events, never on time."""

from __future__ import annotations

import asyncio
import logging

import pytest

from handlers.outbox import Outbox, Work


def _record(log: list[str], name: str, gate: asyncio.Event | None = None) -> Work:
    async def work() -> None:
        log.append(f"{name} start")
        if gate is not None:
            await gate.wait()
        log.append(f"{name} end")

    return work


async def test_one_key_in_submission_order_even_when_the_first_is_slow() -> None:
    outbox = Outbox()
    log: list[str] = []
    gate = asyncio.Event()
    await outbox.submit("telegram:1", _record(log, "a", gate))
    await outbox.submit("telegram:1", _record(log, "b"))
    await outbox.submit("telegram:1", _record(log, "c"))
    for _ in range(5):
        await asyncio.sleep(0)
    # b and c wait for a, however long a takes.
    assert log == ["a start"]
    gate.set()
    await outbox.drain()
    assert log == ["a start", "a end", "b start", "b end", "c start", "c end"]
    assert len(outbox) == 0


async def test_other_keys_do_not_wait() -> None:
    outbox = Outbox()
    log: list[str] = []
    gate = asyncio.Event()
    await outbox.submit("telegram:1", _record(log, "slow", gate))
    await outbox.submit("telegram:2", _record(log, "other"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert log == ["slow start", "other start", "other end"]
    gate.set()
    await outbox.drain()


async def test_a_failure_is_logged_and_the_next_work_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = Outbox()
    log: list[str] = []

    async def broken() -> None:
        raise RuntimeError("Bot API said no")

    await outbox.submit("viber:x", broken)
    await outbox.submit("viber:x", _record(log, "next"))
    with caplog.at_level(logging.ERROR, logger="handlers.outbox"):
        await outbox.drain()
    assert log == ["next start", "next end"]
    assert "work after the commit failed for viber:x" in caplog.text


async def test_drain_waits_for_work_submitted_while_draining() -> None:
    outbox = Outbox()
    log: list[str] = []

    async def first() -> None:
        await outbox.submit("telegram:1", _record(log, "second"))
        log.append("first")

    await outbox.submit("telegram:1", first)
    await outbox.drain()
    assert log == ["first", "second start", "second end"]


async def test_close_finishes_what_fits_in_the_grace_and_cancels_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = Outbox()
    log: list[str] = []
    never = asyncio.Event()
    await outbox.submit("telegram:1", _record(log, "quick"))
    await outbox.submit("telegram:2", _record(log, "stuck", never))
    with caplog.at_level(logging.WARNING, logger="handlers.outbox"):
        await outbox.close(0.05)
    assert log == ["quick start", "quick end", "stuck start"]
    assert len(outbox) == 0
    assert "cancelling 1 unfinished deliveries" in caplog.text
    with pytest.raises(RuntimeError):
        await outbox.submit("telegram:1", _record(log, "late"))


async def test_a_full_outbox_makes_the_next_submit_wait() -> None:
    outbox = Outbox(limit=2)
    log: list[str] = []
    gate = asyncio.Event()
    await outbox.submit("telegram:1", _record(log, "a", gate))
    await outbox.submit("telegram:2", _record(log, "b", gate))
    third = asyncio.create_task(outbox.submit("telegram:3", _record(log, "c")))
    for _ in range(5):
        await asyncio.sleep(0)
    # No room: the third submit (and so its webhook's answer) waits.
    assert not third.done() and len(outbox) == 2
    gate.set()
    await third
    await outbox.drain()
    assert log[-2:] == ["c start", "c end"] and len(outbox) == 0
