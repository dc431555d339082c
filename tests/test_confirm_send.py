"""Sending or scheduling to more residents than ``CITYBOT_CONFIRM_ABOVE`` asks "Send to N
residents? Yes / No" under the preview first (news and polls); nothing goes out before "Yes".
End to end against the fake Telegram, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from messaging.text import local_time
from storage.models import Broadcast, Delivery
from tests.news_world import (
    EDITOR,
    EDITOR_2,
    add_people,
    label,
    last_preview,
    news_items,
    news_world,
    press,
    with_buttons,
)
from tests.staff_world import World
from tests.test_broadcast_helpers import Person, wait_done

pytestmark = pytest.mark.migrated_database

PEOPLE = tuple(Person("telegram", f"630000{n}", "city", ("city_news",)) for n in range(1, 4))


async def planned(world: World) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery)) or 0)


def nobody_got_anything(world: World) -> bool:
    return all(world.resident_texts(int(p.external_id)) == [] for p in PEOPLE)


async def test_news_above_the_threshold_waits_for_yes(database_url: str) -> None:
    async with news_world(database_url, confirm_above=2) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/news Ремонт мосту")
        pid = last_preview(world)["message_id"]

        answer = await press(world, EDITOR, pid, "📨")
        assert answer is not None and answer.startswith("❓ Надіслати 3 мешканцям?"), answer
        assert world.last_answer.get("show_alert") is True
        assert label(world, pid, "❓") == "❓ Надіслати 3 мешканцям?"
        [item] = await news_items(world)
        assert item.status == "draft" and await planned(world) == 0

        # "No": nothing is sent, the draft's keyboard is back.
        answer = await press(world, EDITOR, pid, "✖️ Ні")
        assert answer is not None and "Нічого не надіслано" in answer
        assert "📨 Надіслати зараз" in world.buttons(pid)
        [item] = await news_items(world)
        assert item.status == "draft" and await planned(world) == 0
        assert nobody_got_anything(world)

        # "Yes": sent to the three.
        await press(world, EDITOR, pid, "📨")
        answer = await press(world, EDITOR, pid, "✅ Так")
        assert answer is not None and "отримувачів 3" in answer, answer
        done = await wait_done(world.runtime.sessionmaker, item.id)
        assert done.sent == 3
        assert all(world.resident_texts(int(p.external_id)) == ["Ремонт мосту"] for p in PEOPLE)


async def test_news_confirmation_asks_again_when_the_audience_changed(database_url: str) -> None:
    async with news_world(database_url, confirm_above=2) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/news Зміна маршруту")
        pid = last_preview(world)["message_id"]
        await press(world, EDITOR, pid, "📨")
        yes = world.buttons(pid)["✅ Так"]
        # A fourth resident subscribes before "Yes": the confirmed number is stale.
        await add_people(world, [Person("telegram", "6300009", "city", ("city_news",))])
        await world.press_data(EDITOR, pid, yes)
        assert world.last_answer.get("text", "").startswith("Кількість отримувачів змінилася")
        assert label(world, pid, "❓") == "❓ Надіслати 4 мешканцям?"
        [item] = await news_items(world)
        assert item.status == "draft" and await planned(world) == 0


async def test_news_schedule_above_the_threshold_waits_for_yes(database_url: str) -> None:
    async with news_world(database_url, confirm_above=2) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/news Сесія ради")
        pid = last_preview(world)["message_id"]
        await press(world, EDITOR, pid, "🕒")
        prompt = world.chat()[-1]["message_id"]
        when = local_time(world.clock() + timedelta(days=1), world.runtime.settings.zone)
        await world.say(EDITOR, when, reply_to=prompt)
        assert any(
            t.startswith(f"❓ Запланувати на {when} для 3 мешканців?") for t in world.texts()
        ), world.texts()
        [item] = await news_items(world)
        assert item.status == "draft" and item.scheduled_at is None
        confirm = last_preview(world)["message_id"]
        assert confirm != pid
        await press(world, EDITOR, confirm, "✅ Так")
        [item] = await news_items(world)
        assert item.status == "scheduled" and item.scheduled_at is not None
        assert local_time(item.scheduled_at, world.runtime.settings.zone) == when
        assert await planned(world) == 0


async def test_two_person_rule_confirms_before_submitting_for_approval(
    database_url: str,
) -> None:
    async with news_world(database_url, two_person=True, confirm_above=2) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/news Двоє ключів")
        pid = last_preview(world)["message_id"]
        answer = await press(world, EDITOR, pid, "📨")
        assert answer is not None and answer.startswith("❓ Надіслати 3 мешканцям?")
        [item] = await news_items(world)
        assert item.status == "draft"
        await press(world, EDITOR, pid, "✅ Так")
        [item] = await news_items(world)
        assert item.status == "pending_approval" and await planned(world) == 0
        # The second editor approves as before: no second confirmation.
        await press(world, EDITOR_2, last_preview(world)["message_id"], "✅ Затвердити")
        assert (await wait_done(world.runtime.sessionmaker, item.id)).sent == 3


async def test_news_at_or_below_the_threshold_has_no_extra_step(database_url: str) -> None:
    async with news_world(database_url, confirm_above=3) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/news Без підтвердження")
        pid = last_preview(world)["message_id"]
        answer = await press(world, EDITOR, pid, "📨")
        assert answer is not None and "отримувачів 3" in answer, answer
        [item] = await news_items(world)
        assert (await wait_done(world.runtime.sessionmaker, item.id)).sent == 3


async def test_poll_above_the_threshold_waits_for_yes(database_url: str) -> None:
    async with news_world(database_url, confirm_above=2) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/poll Де поставити лавки?\n- Парк\n- Сквер")
        pid = with_buttons(world, "pl:")[-1]["message_id"]
        answer = await press(world, EDITOR, pid, "📨")
        assert answer is not None and answer.startswith("❓ Надіслати 3 мешканцям?"), answer
        assert await planned(world) == 0
        await press(world, EDITOR, pid, "✖️ Ні")
        assert await planned(world) == 0 and nobody_got_anything(world)
        await press(world, EDITOR, pid, "📨")
        answer = await press(world, EDITOR, pid, "✅ Так")
        assert answer is not None and "надсилається" in answer, answer
        async with world.runtime.sessionmaker() as session:
            broadcast = (
                await session.scalars(select(Broadcast).where(Broadcast.kind == "poll"))
            ).one()
        assert (await wait_done(world.runtime.sessionmaker, broadcast.id)).sent == 3


async def test_poll_below_the_threshold_has_no_extra_step(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/poll Де поставити лавки?\n- Парк\n- Сквер")
        pid = with_buttons(world, "pl:")[-1]["message_id"]
        answer = await press(world, EDITOR, pid, "📨")
        assert answer is not None and "надсилається" in answer, answer
