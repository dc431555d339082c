"""Every news preview shows its number and state; a sent item's preview says when it was sent and
loses its buttons; a preview replaced by a newer one is marked outdated and its buttons do
nothing. End to end against the fake Telegram, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from messaging.text import local_time
from storage.models import Delivery
from tests.news_world import (
    EDITOR,
    add_people,
    jobs,
    last_preview,
    news_items,
    news_world,
    press,
    preview_body,
    wait_for,
    with_buttons,
)
from tests.staff_world import World
from tests.test_broadcast_helpers import Person, wait_done

pytestmark = pytest.mark.migrated_database

RESIDENT = Person("telegram", "6500001", "city", ("city_news",))


async def planned(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery)) or 0)


async def test_old_previews_after_change_and_after_sending_refuse_their_buttons(
    database_url: str,
) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [RESIDENT])
        await world.say(EDITOR, "/news Перша версія")
        old = last_preview(world)["message_id"]
        assert world.message(old)["text"] == "📰 Новина №1 · чернетка"
        old_buttons = world.buttons(old)

        # "Change text": a new preview; the old one says it is outdated, without buttons.
        await press(world, EDITOR, old, "✏️ Змінити текст")
        await world.say(EDITOR, "Друга версія", reply_to=world.chat()[-1]["message_id"])
        new = last_preview(world)["message_id"]
        assert new != old and preview_body(world, new)["text"] == "Друга версія"
        assert world.message(old)["text"].startswith("⚠️ Застарілий перегляд новини №1")
        assert world.message(old).get("reply_markup") is None
        # A stale client still shows the old buttons: pressing them changes nothing.
        for name in ("📨 Надіслати зараз", "✖️ Скасувати", "⚡ Термінова: ні"):
            await world.press_data(EDITOR, old, old_buttons[name], strict=False)
            assert world.last_answer.get("show_alert") is True
            assert world.last_answer.get("text", "").startswith("Цей перегляд застарів"), name
        [item] = await news_items(world)
        assert item.status == "draft" and not item.urgent and await planned(world) == 0

        # Sent from the new preview: once finished, the preview says when, without buttons.
        new_buttons = world.buttons(new)
        await press(world, EDITOR, new, "📨")
        await wait_done(world.runtime.sessionmaker, item.id)
        world.clock.advance(timedelta(seconds=5))
        await jobs(world).update_progress()
        [item] = await news_items(world)
        assert item.finished_at is not None
        sent_at = item.finished_at.astimezone(world.runtime.settings.zone).strftime("%d.%m %H:%M")

        async def shows_sent() -> bool:
            return bool(world.message(new)["text"] == f"✅ Надіслано {sent_at}, №1")

        await wait_for(shows_sent)
        assert world.message(new).get("reply_markup") is None
        # The old preview stays outdated.
        assert world.message(old)["text"].startswith("⚠️ Застарілий перегляд")
        for name in ("📨 Надіслати зараз", "✖️ Скасувати", "🕒 Запланувати"):
            await world.press_data(EDITOR, new, new_buttons[name], strict=False)
            assert world.last_answer.get("show_alert") is True
            assert "надіслано" in world.last_answer.get("text", ""), name
        assert await planned(world) == 1
        assert world.resident_texts(int(RESIDENT.external_id)) == ["Друга версія"]
        [item] = await news_items(world)
        assert item.status == "finished"


async def test_preview_shows_scheduled_and_cancelled(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [RESIDENT])
        await world.say(EDITOR, "/news Засідання")
        pid = last_preview(world)["message_id"]
        await press(world, EDITOR, pid, "🕒")
        when = local_time(world.clock() + timedelta(days=1), world.runtime.settings.zone)
        await world.say(EDITOR, when, reply_to=world.chat()[-1]["message_id"])
        scheduled = last_preview(world)["message_id"]
        assert world.message(scheduled)["text"] == f"🕒 Новина №1 · заплановано на {when}"
        assert world.message(pid)["text"].startswith("⚠️ Застарілий перегляд новини №1")
        await press(world, EDITOR, scheduled, "✖️")
        assert world.message(scheduled)["text"] == "✖️ Скасовано, №1"
        assert world.message(scheduled).get("reply_markup") is None


async def test_poll_preview_shows_its_state_and_refuses_buttons_once_sent(
    database_url: str,
) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [RESIDENT])
        await world.say(EDITOR, "/poll Де лавки?\n- Парк\n- Сквер")
        [preview] = with_buttons(world, "pl:")
        pid = preview["message_id"]
        assert preview["text"].startswith("👁 Опитування №1 · чернетка")
        buttons = world.buttons(pid)
        await world.press(EDITOR, pid, "📨 Надіслати зараз")
        sent = world.message(pid)
        assert sent["text"].startswith("👁 Опитування №1 · надсилається"), sent["text"]
        assert sent.get("reply_markup") is None
        for name in ("📨 Надіслати зараз", "🔘", "✖️ Скасувати"):
            data = next(d for label, d in buttons.items() if label.startswith(name))
            await world.press_data(EDITOR, pid, data, strict=False)
            assert world.last_answer.get("show_alert") is True
            assert "уже надіслане" in world.last_answer.get("text", ""), name
        assert await planned(world) == 1
