"""The news composer end to end: the real bot in the staff chat of the fake Telegram, residents
of both messengers, the delivery engine sending to the fakes; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage.models import Delivery
from tests.news_world import (
    EDITOR,
    add_people,
    jobs,
    label,
    last_preview,
    news_items,
    news_world,
    press,
    preview_body,
    previews,
    wait_for,
)
from tests.staff_world import OPERATOR, OUTSIDER, World
from tests.test_broadcast_helpers import Person, wait_done

pytestmark = pytest.mark.migrated_database

TG_OUTAGES_POKROVSKYI = Person("telegram", "6100001", "pokrovskyi", ("outages",))
TG_OUTAGES_CITY = Person("telegram", "6100002", "city", ("outages",))
TG_NEWS_ONLY = Person("telegram", "6100003", "pokrovskyi", ("city_news",))
TG_OTHER_DISTRICT = Person("telegram", "6100004", "ternivskyi", ("outages",))
TG_NO_CONSENT = Person("telegram", "6100005", "pokrovskyi", ("outages",), consent=False)
VB_OUTAGES_POKROVSKYI = Person("viber", "VbOutagesPokrovskyi00001==", "pokrovskyi", ("outages",))
VB_DAILY = Person("viber", "VbDailyDigestResident0001==", "pokrovskyi", ("outages",), "daily")
PEOPLE = (
    TG_OUTAGES_POKROVSKYI,
    TG_OUTAGES_CITY,
    TG_NEWS_ONLY,
    TG_OTHER_DISTRICT,
    TG_NO_CONSENT,
    VB_OUTAGES_POKROVSKYI,
    VB_DAILY,
)


def received(world: World, person: Person) -> list[str]:
    if person.channel == "telegram":
        return world.resident_texts(int(person.external_id))
    assert world.viber is not None
    return world.viber.texts(person.external_id)


async def test_compose_target_and_send_now_reaches_exactly_the_audience(database_url: str) -> None:
    async with news_world(database_url, viber=True) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/news Відключення <b>світла</b> & води на вул. Соборності")
        preview = last_preview(world)
        pid = preview["message_id"]
        assert preview["text"] == "📰 Новина №1 · чернетка"
        # Above it, the resident's message: typed HTML is text, not markup.
        body = preview_body(world, pid)
        assert body["text"] == "Відключення <b>світла</b> & води на вул. Соборності"
        assert all(e["type"] != "bold" for e in body.get("entities", []))
        assert body.get("reply_markup") is None
        # Everyone with consent, instant, any topic and district: 5 of 7.
        assert label(world, pid, "👥").startswith("👥 Отримувачів: 5")

        await press(world, EDITOR, pid, "📰")
        await press(world, EDITOR, pid, "▫️ Відключення")
        assert world.last_answer.get("text") == "Отримувачів: 4"
        await press(world, EDITOR, pid, "◀️")
        await press(world, EDITOR, pid, "📍")
        await press(world, EDITOR, pid, "▫️ Покровський")
        await press(world, EDITOR, pid, "◀️")
        assert label(world, pid, "👥").startswith("👥 Отримувачів: 3")

        answer = await press(world, EDITOR, pid, "📨")
        assert answer is not None and "3" in answer
        [item] = await news_items(world)
        # Sending, or already finished: three messages can go out before this looks.
        assert item.status in ("sending", "finished") and item.created_by == EDITOR
        assert item.topics == ["outages"] and item.districts == ["pokrovskyi"]
        done = await wait_done(world.runtime.sessionmaker, item.id)
        assert (done.sent, done.blocked, done.failed) == (3, 0, 0)
        text = "Відключення <b>світла</b> & води на вул. Соборності"
        for person in (TG_OUTAGES_POKROVSKYI, TG_OUTAGES_CITY, VB_OUTAGES_POKROVSKYI):
            assert received(world, person) == [text], person
        for person in (TG_NEWS_ONLY, TG_OTHER_DISTRICT, TG_NO_CONSENT, VB_DAILY):
            assert received(world, person) == [], person
        # The preview has no buttons left once the news is sent.
        assert world.message(pid).get("reply_markup") is None
        assert await world.audit("news.sent")


async def test_channel_toggle_and_urgent(database_url: str) -> None:
    async with news_world(database_url, viber=True) as world:
        await add_people(world, PEOPLE)
        await world.say(EDITOR, "/news Аварія на тепломережі")
        pid = last_preview(world)["message_id"]
        await press(world, EDITOR, pid, "✅ Viber")
        assert label(world, pid, "👥").startswith("👥 Отримувачів: 4")
        assert await press(world, EDITOR, pid, "✅ Telegram") == "Потрібен хоча б один канал."
        # Urgent news also reaches digest residents — but Viber is off.
        await press(world, EDITOR, pid, "⚡")
        assert label(world, pid, "⚡") == "⚡ Термінова: так"
        await press(world, EDITOR, pid, "📨")
        [item] = await news_items(world)
        assert item.channels == ["telegram"] and item.urgent
        await wait_done(world.runtime.sessionmaker, item.id)
        assert received(world, VB_OUTAGES_POKROVSKYI) == []
        assert received(world, VB_DAILY) == []
        assert received(world, TG_OTHER_DISTRICT) == ["Аварія на тепломережі"]


async def test_photo_news_through_the_prompt(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [TG_OUTAGES_CITY])
        await world.say(EDITOR, "/news")
        prompt = world.chat()[-1]
        assert prompt["text"].startswith("📰 Надішліть текст новини")
        # Addressed to the editor: in a group a selective ForceReply opens only for those it
        # mentions.
        assert any(
            entity["type"] == "text_link" and entity["url"] == f"tg://user?id={EDITOR}"
            for entity in prompt["entities"]
        )
        await world.telegram.send_photo(
            EDITOR, world.chat_id, caption="Новий сквер відкрито", reply_to=prompt["message_id"]
        )
        preview = last_preview(world)
        body = preview_body(world, preview["message_id"])
        assert body["caption"] == "Новий сквер відкрито" and body["photo"]
        [item] = await news_items(world)
        assert item.media_kind == "photo" and item.status == "draft"
        # The question was answered: a second answer is refused, nothing new is created.
        await world.say(EDITOR, "ще раз", reply_to=prompt["message_id"])
        assert world.texts()[-1].startswith("На це запитання вже відповіли")
        assert len(await news_items(world)) == 1
        await press(world, EDITOR, preview["message_id"], "📨")
        await wait_done(world.runtime.sessionmaker, item.id)
        [photo] = world.telegram.messages(int(TG_OUTAGES_CITY.external_id))
        assert photo["caption"] == "Новий сквер відкрито" and photo["photo"]


async def test_bad_input_gets_a_clear_answer(database_url: str) -> None:
    async with news_world(database_url) as world:
        await world.say(EDITOR, "/news")
        prompt = world.chat()[-1]["message_id"]
        await world.telegram.send_photo(EDITOR, world.chat_id, reply_to=prompt)
        assert world.texts()[-1].startswith("У новини має бути текст")
        await world.say(EDITOR, "/news " + "д" * 4090 + " <<<<")
        assert world.texts()[-1].startswith("Текст задовгий")
        assert await news_items(world) == []
        # The question is still open after a bad answer.
        await world.say(EDITOR, "Нормальний текст", reply_to=prompt)
        assert [item.text for item in await news_items(world)] == ["Нормальний текст"]


async def test_outsiders_and_operators_are_refused_everywhere(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [TG_OUTAGES_CITY])
        for user, text in ((OUTSIDER, "лише зареєстровані"), (OPERATOR, "лише редактори")):
            for command in ("/news Чужа новина", "/drafts", "/news list"):
                await world.say(user, command)
                assert text in world.texts()[-1], (user, command)
        assert await news_items(world) == []
        await world.say(EDITOR, "/news Справжня новина")
        pid = last_preview(world)["message_id"]
        for user in (OUTSIDER, OPERATOR):
            for data in world.buttons(pid).values():
                await world.press_data(user, pid, data)
                assert world.last_answer.get("show_alert") is True, data
        [item] = await news_items(world)
        assert item.status == "draft" and item.topics == [] and not item.urgent
        denied = await world.audit("news.denied")
        assert len(denied) == 6 + 2 * len(world.buttons(pid))


async def test_a_duplicate_delivery_does_nothing_twice(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [TG_OUTAGES_CITY])
        update = await world.say(EDITOR, "/news Один раз")
        again = await world.telegram.push_update(dict(update))
        assert again.status == 200
        assert len(await news_items(world)) == 1
        assert len(previews(world)) == 1
        pid = last_preview(world)["message_id"]
        data = world.buttons(pid)[label(world, pid, "📨")]
        pressed = await world.telegram.press_button(EDITOR, pid, data, chat_id=world.chat_id)
        await world.telegram.push_update(dict(pressed))
        [item] = await news_items(world)
        async with world.runtime.sessionmaker() as session:
            planned = await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.broadcast_id == item.id)
            )
        assert planned == 1
        assert len(await world.audit("news.sent")) == 1


async def test_progress_message_live_then_final_report(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [TG_OUTAGES_CITY, TG_NEWS_ONLY])
        await world.say(EDITOR, "/news Звіт про хід")
        await press(world, EDITOR, last_preview(world)["message_id"], "📨")
        [item] = await news_items(world)
        await wait_done(world.runtime.sessionmaker, item.id)
        world.clock.advance(timedelta(seconds=5))
        await jobs(world).update_progress()

        async def reported() -> bool:
            return any("надіслано</b>" in t or "надіслано\n" in t for t in world.texts())

        await wait_for(reported)
        report = next(m for m in world.chat() if "Новину №" in (m.get("text") or ""))
        assert "Отримали: 2 з 2" in report["text"]
        assert report.get("reply_markup") is None
        # The final report is written once; later rounds leave it alone.
        edits = len(world.telegram.calls_to("editMessageText"))
        world.clock.advance(timedelta(seconds=5))
        assert await jobs(world).update_progress() == 0
        assert len(world.telegram.calls_to("editMessageText")) == edits
