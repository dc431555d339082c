"""Viber's sender loop claims its next batch while every slot is busy (broadcasts.sender_loop,
``claim_ahead``): the batch waits for a slot, so no more batches are sent and unrecorded than
``batches_in_flight``, and a batch claimed ahead when the engine stops goes back to pending."""

from __future__ import annotations

import asyncio
import dataclasses

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.viber import FakeViber
from broadcasts.engine import DeliveryEngine
from broadcasts.viber_loop import ViberLoop
from storage.models import Delivery
from tests.harness import VIBER_TOKEN
from tests.test_broadcast_helpers import (
    FAST,
    Person,
    add_residents,
    new_broadcast,
    running,
    subscribe_viber,
    viber_transport,
)

BATCH = 10


async def states(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessionmaker() as session:
        result = await session.execute(
            select(Delivery.state, func.count()).group_by(Delivery.state)
        )
        return {state: int(count) for state, count in result.all()}


async def test_the_batch_claimed_ahead_waits_for_a_slot_and_is_released_at_stop(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    people = [Person("viber", f"viber-ahead-{index:04d}==") for index in range(100)]
    await add_residents(sessionmaker, people)
    # Slow answers keep every slot busy; batches of 10 receivers, one call each.
    config = dataclasses.replace(FAST, viber_batch=BATCH, viber_calls_per_batch=1)
    slots = ViberLoop.batches_in_flight
    async with FakeViber(VIBER_TOKEN, latency=3.0) as vb, viber_transport(vb) as transport:
        subscribe_viber(vb, [p.external_id for p in people])
        await new_broadcast(sessionmaker)
        engine = DeliveryEngine(sessionmaker=sessionmaker, viber=transport, config=config)
        async with running([engine]):
            async with asyncio.timeout(10):
                while True:
                    if (await states(sessionmaker)).get("sending", 0) >= (slots + 1) * BATCH:
                        break
                    await asyncio.sleep(0.02)
            # One batch more than the slots is leased, but only the slots' calls were made.
            assert (await states(sessionmaker))["sending"] == (slots + 1) * BATCH
            assert len(vb.calls_to("broadcast_message")) == slots
        # Stopped while the first calls were answered: nothing stays leased, the batch claimed
        # ahead is pending again, and every sent delivery reached its resident once.
        after = await states(sessionmaker)
        assert "sending" not in after
        assert after["sent"] == vb.stats.recipients_reached
        assert after["sent"] + after["pending"] == 100
        assert after["pending"] >= BATCH
        assert all(len(vb.texts(p.external_id)) <= 1 for p in people)
