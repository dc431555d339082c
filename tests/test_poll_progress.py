"""A poll's broadcast gets the news composer's live progress message, Stop button and final
report. End to end against the fake Telegram, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import Broadcast, Poll
from tests.news_world import EDITOR, add_people, jobs, news_world, press, wait_for, with_buttons
from tests.staff_world import World
from tests.test_broadcast_helpers import Person, wait_done

pytestmark = pytest.mark.migrated_database

POLL = "/poll Де поставити лавки?\n- Парк\n- Сквер"


async def send_poll(world: World) -> tuple[int, int]:
    """Compose and send the poll; (poll id, broadcast id)."""
    await world.say(EDITOR, POLL)
    pid = with_buttons(world, "pl:")[-1]["message_id"]
    answer = await press(world, EDITOR, pid, "📨")
    assert answer is not None and "надсилається" in answer, answer
    async with world.runtime.sessionmaker() as session:
        poll = (await session.scalars(select(Poll))).one()
        return poll.id, poll.broadcast_id


async def progress_message(world: World, poll_id: int) -> dict[str, Any]:
    heads = (f"📨 Розсилка опитування №{poll_id}", f"✅ Опитування №{poll_id}")

    async def posted() -> bool:
        return any(t.startswith(heads) for t in world.texts())

    await wait_for(posted)
    return next(m for m in world.chat() if (m.get("text") or "").startswith(heads))


async def finished(world: World, broadcast_id: int) -> None:
    async def closed() -> bool:
        # The engine records the end at its next idle poll; the report follows it.
        async with world.runtime.sessionmaker() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            return broadcast is not None and broadcast.finished_at is not None

    await wait_for(closed)


async def test_poll_progress_ends_with_the_final_report(database_url: str) -> None:
    people = [Person("telegram", str(6600000 + n), "city") for n in range(3)]
    async with news_world(database_url) as world:
        await add_people(world, people)
        poll_id, broadcast_id = await send_poll(world)
        message = await progress_message(world, poll_id)
        await wait_done(world.runtime.sessionmaker, broadcast_id)
        await finished(world, broadcast_id)
        world.clock.advance(timedelta(seconds=5))
        await jobs(world).update_progress()
        final = world.message(message["message_id"])
        assert final["text"].startswith(f"✅ Опитування №{poll_id} надіслано"), final["text"]
        assert "Отримали: 3 з 3" in final["text"]
        assert f"/pollresults {poll_id}" in final["text"]
        assert final.get("reply_markup") is None
        # Written once: later rounds leave it alone.
        edits = len(world.telegram.calls_to("editMessageText"))
        world.clock.advance(timedelta(seconds=5))
        assert await jobs(world).update_progress() == 0
        assert len(world.telegram.calls_to("editMessageText")) == edits


async def test_poll_stop_cancels_what_is_pending(database_url: str) -> None:
    people = [Person("telegram", str(6610000 + n), "city") for n in range(12)]
    async with news_world(database_url, telegram_rate="2") as world:
        await add_people(world, people)
        poll_id, broadcast_id = await send_poll(world)
        message = await progress_message(world, poll_id)
        assert message["text"].startswith(f"📨 Розсилка опитування №{poll_id}")
        answer = await press(world, EDITOR, message["message_id"], "⛔")
        assert answer is not None and answer.startswith(
            f"⛔ Розсилку опитування №{poll_id} зупинено"
        ), answer
        done = await wait_done(world.runtime.sessionmaker, broadcast_id)
        assert done.status == "cancelled" and done.cancelled > 0
        assert done.sent + done.cancelled == 12
        got = sum(len(world.resident_texts(int(p.external_id))) for p in people)
        assert got == done.sent
        await finished(world, broadcast_id)
        world.clock.advance(timedelta(seconds=5))
        await jobs(world).update_progress()
        final = world.message(message["message_id"])
        assert final["text"].startswith(f"⛔ Розсилку опитування №{poll_id} зупинено")
        assert f"не надіслано: {done.cancelled}" in final["text"]
        assert await world.audit("poll.stopped")
