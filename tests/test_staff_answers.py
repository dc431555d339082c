"""Staff answer residents from the staff chat: in a forum topic or as replies in an ordinary
group, to Telegram and Viber residents, text, photos and documents (Viber through our signed
/media route); notes stay internal; canned answers; delivery failures shown in the thread."""

from __future__ import annotations

import aiohttp
import pytest

from messaging.contract import ResidentWrote
from storage.vocabulary import MessageDirection, TicketStatus
from tests.staff_world import (
    ADMIN,
    OPERATOR,
    TG_RESIDENT,
    VIBER_RESIDENT,
    add_resident_message,
    card_of,
    staff_world,
)

pytestmark = pytest.mark.migrated_database


async def _get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.read()


async def test_answers_in_a_topic_reach_the_telegram_resident(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file()
        ticket = await world.ticket(ticket_id)
        topic = ticket.thread_id
        assert topic is not None
        before = len(world.resident_texts())

        await world.say(OPERATOR, "<b>Дякуємо</b> & розглянемо до п'ятниці", thread_id=topic)
        texts = world.resident_texts()
        assert len(texts) == before + 1
        assert ticket.number in texts[-1] and "надано відповідь" in texts[-1]
        assert "<b>Дякуємо</b> & розглянемо до п'ятниці" in texts[-1]

        ticket = await world.ticket(ticket_id)
        assert ticket.status == TicketStatus.ANSWERED and ticket.assignee_id == OPERATOR
        card = card_of(world, ticket)["text"]
        assert "відповідь надано" in card and "Петро Оператор" in card
        staff_messages = [m for m in await world.thread(ticket_id) if m.direction == "staff"]
        assert len(staff_messages) == 1 and staff_messages[0].author_id == OPERATOR
        assert staff_messages[0].staff_message_id is not None
        answers = await world.audit("ticket.answer")
        assert [a.actor for a in answers] == [f"staff:{OPERATOR}"]

        # The next answer has no "answered" header; a photo goes as a photo.
        await world.say(ADMIN, "Ще одне уточнення", thread_id=topic)
        assert "надано відповідь" not in world.resident_texts()[-1]
        update = await world.telegram.send_photo(
            ADMIN, world.chat_id, caption="Фото акту", thread_id=topic
        )
        assert update.status == 200
        last = world.telegram.messages(TG_RESIDENT)[-1]
        assert "photo" in last and "Фото акту" in last["caption"]

        # Notes are never relayed.
        count = len(world.resident_texts())
        await world.say(OPERATOR, "!Перевірити, чи це не дубль", thread_id=topic)
        await world.say(OPERATOR, "/note Зателефонувати в ЖЕК", thread_id=topic)
        assert len(world.resident_texts()) == count
        notes = [m for m in await world.thread(ticket_id) if m.direction == MessageDirection.NOTE]
        assert [n.text for n in notes] == ["Перевірити, чи це не дубль", "Зателефонувати в ЖЕК"]
        assert world.texts()[-1].startswith("📝")
        assert len(await world.audit("ticket.note")) == 2

        # Talk in the chat outside any ticket is left alone.
        calls = len(world.telegram.calls_to("sendMessage"))
        await world.say(OPERATOR, "Колеги, нарада о 14:00")
        assert len(world.telegram.calls_to("sendMessage")) == calls


async def test_replies_in_an_ordinary_group_reach_a_viber_resident_with_files(
    database_url: str,
) -> None:
    async with staff_world(database_url, forum=False, viber=True) as world:
        assert world.viber is not None
        world.viber.user(VIBER_RESIDENT, name="Марія", subscribed=True)
        ticket_id = await world.file(channel="viber", external_id=VIBER_RESIDENT, name="Марія")
        card = card_of(world, await world.ticket(ticket_id))

        await world.say(OPERATOR, "Відповідь <i>для</i> Viber & ко", reply_to=card["message_id"])
        texts = world.viber.texts(VIBER_RESIDENT)
        assert texts and "Відповідь <i>для</i> Viber & ко" in texts[-1]

        # A reply to the resident's own message (its copy in the chat) is an answer too.
        follow_up = await add_resident_message(world.runtime, ticket_id, "Коли?")
        await world.desk.apply(ResidentWrote(follow_up, ticket_id))
        copy_id = world.chat()[-1]["message_id"]
        await world.say(OPERATOR, "Завтра", reply_to=copy_id)
        assert "Завтра" in world.viber.texts(VIBER_RESIDENT)[-1]

        # A photo: Viber gets a link to our /media route, which serves Telegram's bytes.
        update = await world.telegram.send_photo(
            OPERATOR, world.chat_id, caption="Схема", reply_to=card["message_id"]
        )
        file_id = update["message"]["photo"][-1]["file_id"]
        picture = world.viber.messages(VIBER_RESIDENT)[-1]
        assert picture["type"] == "picture"
        public = world.runtime.settings.public_url
        assert public is not None and picture["media"].startswith(public + "/media/")
        status, body = await _get(picture["media"])
        assert status == 200 and body == world.telegram.file_content(file_id)
        # Forged or tampered tokens are not served.
        token = picture["media"].rsplit("/", 1)[1]
        tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
        forged = picture["media"].replace(token, tampered)
        assert (await _get(forged))[0] == 404
        assert (await _get(f"{public}/media/not-a-token"))[0] == 404

        # A document goes as a Viber file message.
        update = await world.telegram.send_document(
            OPERATOR, world.chat_id, file_name="відповідь.pdf", reply_to=card["message_id"]
        )
        # Viber sends the file, then the header with the ticket number as text.
        file_message = [m for m in world.viber.messages(VIBER_RESIDENT) if m["type"] == "file"][-1]
        assert file_message["file_name"] == "відповідь.pdf"
        status, body = await _get(file_message["media"])
        assert status == 200
        assert body == world.telegram.file_content(update["message"]["document"]["file_id"])


async def test_a_failed_delivery_is_shown_in_the_thread(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file()
        topic = (await world.ticket(ticket_id)).thread_id
        await world.telegram.block(TG_RESIDENT)
        update = await world.say(OPERATOR, "Відповідь, яку не отримають", thread_id=topic)
        warning = world.chat()[-1]
        assert warning["text"].startswith("⚠️") and "blocked" in warning["text"]
        assert warning["message_thread_id"] == topic
        assert warning["reply_to_message"]["message_id"] == update["message"]["message_id"]
        staff_message = next(m for m in await world.thread(ticket_id) if m.direction == "staff")
        assert staff_message.delivery_error is not None
        ticket = await world.ticket(ticket_id)
        assert ticket.resident_id is not None
        assert not (await world.resident(ticket.resident_id)).is_active


async def test_canned_answers(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file()
        topic = (await world.ticket(ticket_id)).thread_id

        await world.say(OPERATOR, "/template_add lift Ліфт полагодять")
        assert "адміністратори й редактори" in world.texts()[-1]
        await world.say(ADMIN, "/template_add lift Ліфт полагодять <швидко> & якісно\nДякуємо!")
        assert "lift" in world.texts()[-1]
        assert len(await world.audit("template.save")) == 1
        await world.say(OPERATOR, "/templates")
        assert "lift" in world.texts()[-1] and "Ліфт полагодять" in world.texts()[-1]

        await world.say(OPERATOR, "/t lift", thread_id=topic)
        answer = world.resident_texts()[-1]
        assert "Ліфт полагодять <швидко> & якісно\nДякуємо!" in answer
        await world.say(OPERATOR, "/t nothing", thread_id=topic)
        assert "nothing" in world.texts()[-1]
        await world.say(OPERATOR, "/t lift")  # outside a ticket's thread
        assert "гілці звернення" in world.texts()[-1]

        await world.say(OPERATOR, "/help")
        assert "Команди працівників" in world.texts()[-1]
        await world.say(ADMIN, "/template_del lift")
        await world.say(OPERATOR, "/templates")
        assert "ще немає" in world.texts()[-1]


async def test_answers_to_closed_tickets_are_not_sent(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file()
        ticket = await world.ticket(ticket_id)
        card = card_of(world, ticket)
        await world.press(OPERATOR, card["message_id"], "✅ Закрити")
        await world.press(OPERATOR, card["message_id"], "✅ Так, закрити")
        count = len(world.resident_texts())
        await world.say(OPERATOR, "Запізніла відповідь", thread_id=ticket.thread_id)
        assert len(world.resident_texts()) == count
        assert "закрите" in world.texts()[-1]
