"""Drafts, scheduling (with the test's clock), the two-person rule, and stopping a broadcast
from its progress message; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from messaging.text import local_time
from storage.models import Broadcast
from tests.news_world import (
    EDITOR,
    EDITOR_2,
    add_people,
    jobs,
    label,
    last_preview,
    news_items,
    news_world,
    press,
    preview_body,
    wait_for,
)
from tests.staff_world import ADMIN, World
from tests.test_broadcast_helpers import Person, wait_done

pytestmark = pytest.mark.migrated_database

RESIDENT = Person("telegram", "6200001", "city", ("city_news",))


def when_text(world: World, delta: timedelta) -> str:
    return local_time(world.clock() + delta, world.runtime.settings.zone)


PROMPTS = ("📰 Надішліть", "✏️ Новина №", "🕒 Новина №")


def last_prompt(world: World) -> int:
    found = [m for m in world.chat() if (m.get("text") or "").startswith(PROMPTS)]
    assert found, world.texts()
    return int(found[-1]["message_id"])


async def answer_prompt(world: World, user: int, text: str) -> None:
    await world.say(user, text, reply_to=last_prompt(world))


async def test_schedule_then_the_job_sends_it_when_due(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [RESIDENT])
        await world.say(EDITOR, "/news Сесія міської ради в четвер")
        pid = last_preview(world)["message_id"]
        await press(world, EDITOR, pid, "🕒")
        # Past times and nonsense are refused; the question stays open.
        await answer_prompt(world, EDITOR, when_text(world, -timedelta(hours=1)))
        assert world.texts()[-1].startswith("Цей час уже минув")
        await answer_prompt(world, EDITOR, "завтра вранці")
        assert world.texts()[-1].startswith("Не вдалося розібрати час")
        when = when_text(world, timedelta(days=2))
        await answer_prompt(world, EDITOR, when)
        [item] = await news_items(world)
        assert item.status == "scheduled" and item.scheduled_at is not None
        assert local_time(item.scheduled_at, world.runtime.settings.zone) == when
        assert any(t.startswith(f"🕒 Новину №{item.id} заплановано") for t in world.texts())
        # Not yet due: nothing starts.
        assert await jobs(world).start_scheduled() == []
        world.clock.advance(timedelta(days=2, minutes=1))
        assert await jobs(world).start_scheduled() == [item.id]
        # A second run (or another process) starts nothing again.
        assert await jobs(world).start_scheduled() == []
        await wait_done(world.runtime.sessionmaker, item.id)
        assert world.resident_texts(int(RESIDENT.external_id)) == ["Сесія міської ради в четвер"]


async def test_drafts_list_open_change_and_cancel(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [RESIDENT])
        await world.say(EDITOR, "/drafts")
        assert world.texts()[-1].startswith("Немає чернеток")
        await world.say(EDITOR, "/news Перша чернетка")
        first = last_preview(world)["message_id"]
        assert (await press(world, EDITOR, first, "💾")) == "Чернетку №1 збережено. Список: /drafts"
        await world.say(ADMIN, "/news Друга чернетка")
        second = last_preview(world)["message_id"]
        await press(world, ADMIN, second, "🕒")
        await answer_prompt(world, ADMIN, when_text(world, timedelta(days=1)))
        # The scheduled item's new preview: its time, Change and Cancel.
        second = last_preview(world)["message_id"]
        assert label(world, second, "🕒").startswith("🕒 ")
        await world.say(EDITOR, "/news list")
        listing = world.chat()[-1]
        assert "№1 · чернетка · Перша чернетка" in listing["text"]
        assert "№2 · заплановано на" in listing["text"]
        # Open the saved draft again and change its text.
        await world.press(EDITOR, listing["message_id"], "Відкрити №1")
        reopened = last_preview(world)
        assert preview_body(world, reopened["message_id"])["text"] == "Перша чернетка"
        assert reopened["message_id"] != first
        await press(world, EDITOR, reopened["message_id"], "✏️ Змінити текст")
        await answer_prompt(world, EDITOR, "Перша, виправлена")
        assert preview_body(world, last_preview(world)["message_id"])["text"] == "Перша, виправлена"
        # Change the scheduled one: back to a draft, then cancel it.
        await press(world, ADMIN, second, "✏️ Змінити")
        assert label(world, second, "📨") == "📨 Надіслати зараз"
        items = await news_items(world)
        assert [(i.id, i.status, i.text) for i in items] == [
            (1, "draft", "Перша, виправлена"),
            (2, "draft", "Друга чернетка"),
        ]
        assert items[1].scheduled_at is None
        assert await press(world, ADMIN, second, "✖️") == "Новину №2 скасовано."
        assert world.message(second).get("reply_markup") is None
        await world.say(EDITOR, "/drafts")
        assert "№2" not in world.texts()[-1] and "№1" in world.texts()[-1]
        assert await world.audit("news.cancelled")
        # A button of a cancelled item does nothing more.
        listing2 = world.chat()[-1]
        await world.press_data(EDITOR, listing2["message_id"], "nw:open:2", strict=False)
        assert world.last_answer.get("show_alert") is True


async def test_two_person_rule(database_url: str) -> None:
    async with news_world(database_url, two_person=True) as world:
        await add_people(world, [RESIDENT])
        await world.say(EDITOR, "/news Потрібне затвердження")
        pid = last_preview(world)["message_id"]
        await press(world, EDITOR, pid, "📨")
        [item] = await news_items(world)
        assert item.status == "pending_approval"
        assert any("чекає на затвердження" in t for t in world.texts())
        # The author cannot approve their own news item.
        assert (await press(world, EDITOR, pid, "✅ Затвердити") or "").startswith("Автор не може")
        assert (await news_items(world))[0].status == "pending_approval"
        assert await world.audit("news.approve_refused")
        # A second editor can.
        await press(world, EDITOR_2, pid, "✅ Затвердити")
        [item] = await news_items(world)
        assert item.approved_by == EDITOR_2 and item.approved_at is not None
        await wait_done(world.runtime.sessionmaker, item.id)
        assert world.resident_texts(int(RESIDENT.external_id)) == ["Потрібне затвердження"]
        [approved] = await world.audit("news.approved")
        assert approved.actor == f"staff:{EDITOR_2}"


async def test_two_person_rule_with_a_schedule(database_url: str) -> None:
    async with news_world(database_url, two_person=True) as world:
        await add_people(world, [RESIDENT])
        await world.say(ADMIN, "/news Заплановано із затвердженням")
        pid = last_preview(world)["message_id"]
        await press(world, ADMIN, pid, "🕒")
        await answer_prompt(world, ADMIN, when_text(world, timedelta(hours=3)))
        [item] = await news_items(world)
        assert item.status == "pending_approval" and item.scheduled_at is not None
        # Not approved: the scheduler does not start it.
        world.clock.advance(timedelta(hours=1))
        assert await jobs(world).start_scheduled() == []
        await press(world, EDITOR, last_preview(world)["message_id"], "✅ Затвердити")
        assert (await news_items(world))[0].status == "scheduled"
        assert await jobs(world).start_scheduled() == []
        world.clock.advance(timedelta(hours=2, minutes=1))
        assert await jobs(world).start_scheduled() == [item.id]
        await wait_done(world.runtime.sessionmaker, item.id)


async def test_stop_button_cancels_what_is_pending(database_url: str) -> None:
    people = [Person("telegram", str(6300000 + n), "city", ("city_news",)) for n in range(12)]
    async with news_world(database_url, telegram_rate="2") as world:
        await add_people(world, people)
        await world.say(EDITOR, "/news Повільна розсилка")
        await press(world, EDITOR, last_preview(world)["message_id"], "📨")
        [item] = await news_items(world)

        async def posted() -> bool:
            return any(t.startswith("📨 Розсилка новини") for t in world.texts())

        await wait_for(posted)
        progress = next(m for m in world.chat() if m["text"].startswith("📨 Розсилка новини"))
        answer = await press(world, EDITOR, progress["message_id"], "⛔")
        assert answer is not None and answer.startswith(f"⛔ Розсилку №{item.id} зупинено")
        done = await wait_done(world.runtime.sessionmaker, item.id)
        assert done.status == "cancelled" and done.cancelled > 0
        assert done.sent + done.cancelled == 12
        got = sum(len(world.resident_texts(int(p.external_id))) for p in people)
        assert got == done.sent

        async def closed() -> bool:
            # The engine records the end at its next idle poll; the report follows it.
            async with world.runtime.sessionmaker() as session:
                broadcast = await session.get(Broadcast, item.id)
                return broadcast is not None and broadcast.finished_at is not None

        await wait_for(closed)
        world.clock.advance(timedelta(seconds=5))
        await jobs(world).update_progress()
        final = world.message(progress["message_id"])
        assert "зупинено" in final["text"] and f"не надіслано: {done.cancelled}" in final["text"]
        assert final.get("reply_markup") is None
        assert await world.audit("news.stopped")
