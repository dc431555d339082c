"""Regression: marking a resident blocked (and auditing it) is written once, in
``storage.residents.record_blocked``, and every send after the commit goes through it: a resident
found blocked while being answered, while getting a staff notice, or while the owed-replies job
retries a reply gets one ``resident.blocked`` entry each time, and none more while they stay
blocked. Through the fake Telegram and Viber servers, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import select

from handlers.owed import OWED_AFTER, SETTLE_DELAY
from handlers.sending import send_owed
from storage.models import ProcessedUpdate, Resident
from storage.residents import get_resident
from tests.staff_world import OPERATOR, TG_RESIDENT, VIBER_RESIDENT, World, card_of, staff_world

pytestmark = pytest.mark.migrated_database

# Viber's "receiver not subscribed": what a send to a resident who left meets.
NOT_SUBSCRIBED = 6
SETTLE_WAIT = 5.0


async def _account(world: World, channel: str, external_id: str) -> Resident:
    async with world.runtime.sessionmaker() as session:
        found = await get_resident(session, channel=channel, external_id=external_id)
        assert found is not None
        return found


async def _blocked(world: World) -> list[tuple[str, dict[str, object]]]:
    return [(entry.actor, entry.details) for entry in await world.audit("resident.blocked")]


async def _owed(world: World, expected: int) -> int:
    """The updates whose replies are still owed, once the sent ones were recorded (in batches,
    a moment after the send: ``handlers.owed.Settler``)."""
    deadline = asyncio.get_running_loop().time() + SETTLE_WAIT
    while True:
        async with world.runtime.sessionmaker() as session:
            rows = await session.scalars(
                select(ProcessedUpdate.update_key).where(ProcessedUpdate.owed.is_not(None))
            )
            count = len(rows.all())
        if count == expected or asyncio.get_running_loop().time() > deadline:
            return count
        await asyncio.sleep(SETTLE_DELAY)


async def test_every_send_after_the_commit_marks_a_blocked_resident_once(
    database_url: str,
) -> None:
    async with staff_world(database_url, forum=False, viber=True) as world:
        viber = world.viber
        assert viber is not None
        viber.user(VIBER_RESIDENT, name="Марія", subscribed=True)

        # 1. An answer: the resident writes and has left before the reply goes out.
        viber.fail_next("send_message", status=NOT_SUBSCRIBED)
        assert await viber.send_text(VIBER_RESIDENT, "Добрий день") == 200
        account = await _account(world, "viber", VIBER_RESIDENT)
        me = f"resident:{account.id}"
        assert not account.is_active and account.blocked_at is not None
        assert await _blocked(world) == [(me, {"detected": "send"})]
        assert await _owed(world, 0) == 0  # never sendable: not kept for the job

        # 2. A staff notice: they wrote again (reachable), then left before staff answered.
        assert await viber.send_text(VIBER_RESIDENT, "Я знову тут") == 200
        assert (await _account(world, "viber", VIBER_RESIDENT)).is_active
        ticket_id = await world.file(channel="viber", external_id=VIBER_RESIDENT, name="Марія")
        card = card_of(world, await world.ticket(ticket_id))
        viber.fail_next("send_message", status=NOT_SUBSCRIBED)
        await world.say(OPERATOR, "Відповідь, яку не отримають", reply_to=card["message_id"])
        assert world.texts()[-1].startswith("⚠️")
        assert await _blocked(world) == [(me, {"detected": "send"}), (me, {"detected": "notify"})]
        # Staff try again while the resident is still away: no second entry.
        viber.fail_next("send_message", status=NOT_SUBSCRIBED)
        await world.say(OPERATOR, "Ще одна спроба", reply_to=card["message_id"])
        assert len(await _blocked(world)) == 2

        # 3. An owed reply: the reply met an outage, and the resident left before the job
        # retried it.
        assert await viber.send_text(VIBER_RESIDENT, "Я тут") == 200
        viber.fail_next("send_message", http_status=502)
        assert await viber.send_text(VIBER_RESIDENT, "Коли полагодять?") == 200
        assert (await _account(world, "viber", VIBER_RESIDENT)).is_active
        assert await _owed(world, 1) == 1
        viber.fail_next("send_message", status=NOT_SUBSCRIBED)
        runtime = world.runtime

        def later() -> datetime:
            return world.clock() + OWED_AFTER * 2

        await send_owed(runtime.sessionmaker, runtime.senders, runtime.replies, clock=later)
        assert not (await _account(world, "viber", VIBER_RESIDENT)).is_active
        assert await _blocked(world) == [
            (me, {"detected": "send"}),
            (me, {"detected": "notify"}),
            (me, {"detected": "send"}),
        ]
        # Settled: the next round of the job neither sends nor audits anything.
        assert await _owed(world, 0) == 0
        sent = len(viber.messages(VIBER_RESIDENT))
        assert (
            await send_owed(runtime.sessionmaker, runtime.senders, runtime.replies, clock=later)
            == 0
        )
        assert len(viber.messages(VIBER_RESIDENT)) == sent
        assert len(await _blocked(world)) == 3


async def test_a_resident_who_blocked_the_bot_is_audited_once_whoever_notices(
    database_url: str,
) -> None:
    """Telegram says so twice, by the ``kicked`` update and by the 403 of the next answer: one
    entry (the update's), the answer shown to staff as not delivered."""
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file()
        topic = (await world.ticket(ticket_id)).thread_id
        await world.telegram.block(TG_RESIDENT)
        account = await _account(world, "telegram", str(TG_RESIDENT))
        assert not account.is_active
        assert await _blocked(world) == [(f"resident:{account.id}", {})]
        await world.say(OPERATOR, "Відповідь, яку не отримають", thread_id=topic)
        assert world.texts()[-1].startswith("⚠️")
        assert len(await _blocked(world)) == 1
