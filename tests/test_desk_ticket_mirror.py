"""Both desks at once (``CITYBOT_STAFF_DESKS=web,telegram``): an answer or a note given in the
browser appears in the ticket's Telegram topic with its author, a file with it; an answer given
in the Telegram topic shows on the web page at its next load."""

from __future__ import annotations

import re

import aiohttp
import pytest

from bot.sandbox.fakes.telegram import FakeTelegram
from storage.models import Ticket
from storage.vocabulary import Role
from tests.desk_world import VIBER_RESIDENT, DeskWorld, desk_world
from tests.staff_world import FORUM_CHAT, TG_RESIDENT
from tests.test_desk_ticket import PNG

pytestmark = pytest.mark.migrated_database

OPERATOR_TG = 7002


async def posted_ticket(world: DeskWorld) -> Ticket:
    world.viber.user(VIBER_RESIDENT, name="Марія", subscribed=True)
    ticket_id = await world.file(name="Оксана Петренко")
    assert world.runtime.desk is not None
    await world.runtime.desk.post_ticket(ticket_id)
    async with world.runtime.sessionmaker() as session:
        ticket = await session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.thread_id is not None
    assert ticket.staff_chat_id == FORUM_CHAT
    return ticket


def topic_messages(telegram: FakeTelegram, ticket: Ticket) -> list[dict[str, object]]:
    return [
        m for m in telegram.messages(FORUM_CHAT) if m.get("message_thread_id") == ticket.thread_id
    ]


def texts(messages: list[dict[str, object]]) -> list[str]:
    return [str(m.get("text") or m.get("caption") or "") for m in messages]


async def test_a_web_answer_and_note_appear_in_the_telegram_topic(database_url: str) -> None:
    async with desk_world(database_url, telegram=True) as world:
        telegram = world.telegram
        assert telegram is not None
        telegram.user(OPERATOR_TG, first_name="Петро", last_name="Оператор")
        telegram.add_group(FORUM_CHAT, "Звернення", is_forum=True, members=(OPERATOR_TG,))
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        ticket = await posted_ticket(world)
        page = f"/desk/tickets/{ticket.id}"
        browser = await world.signed_in(maria)
        await browser.get(page)
        status, _ = await browser.post(page + "/answer", {"text": "Ліфт полагодять <у четвер>"})
        assert status == 200
        status, _ = await browser.post(page + "/note", {"text": "Подзвонити в ЖЕК"})
        assert status == 200
        shown = texts(topic_messages(telegram, ticket))
        assert "💬 Марія Коваль (веб): Ліфт полагодять <у четвер>" in shown
        assert "📝 Марія Коваль (веб), нотатка: Подзвонити в ЖЕК" in shown
        # The card shows the ticket as it is now (answered).
        card = telegram.message(FORUM_CHAT, ticket.card_message_id or 0)
        assert card is not None and "Марія Коваль" in str(card.get("text"))

        # A picture from the browser goes into the topic as a photo with the words.
        form = aiohttp.FormData()
        form.add_field("csrf", browser.csrf)
        form.add_field("text", "Схема")
        form.add_field("file", PNG, filename="схема.png")
        async with browser.http.post(world.base + page + "/answer", data=form) as response:
            assert response.status == 200
        photo = topic_messages(telegram, ticket)[-1]
        assert photo.get("photo") and photo.get("caption") == "💬 Марія Коваль (веб): Схема"


async def test_a_telegram_answer_shows_on_the_web_page(database_url: str) -> None:
    async with desk_world(database_url, telegram=True) as world:
        telegram = world.telegram
        assert telegram is not None
        telegram.user(OPERATOR_TG, first_name="Петро", last_name="Оператор")
        telegram.add_group(FORUM_CHAT, "Звернення", is_forum=True, members=(OPERATOR_TG,))
        await world.account("petro", Role.OPERATOR, name="Петро Оператор", telegram_id=OPERATOR_TG)
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        ticket = await posted_ticket(world)
        before = len(topic_messages(telegram, ticket))
        update = await telegram.send_text(
            OPERATOR_TG, "Відповідь із Telegram", chat_id=FORUM_CHAT, thread_id=ticket.thread_id
        )
        assert update.status == 200
        assert "Відповідь із Telegram" in world.viber.texts(VIBER_RESIDENT)[-1]
        browser = await world.signed_in(maria)
        status, body = await browser.get(f"/desk/tickets/{ticket.id}")
        assert status == 200
        assert "Відповідь із Telegram" in body and "Відповідь: Петро Оператор" in body
        # Written in Telegram: not posted into the topic a second time.
        assert not any("(веб)" in text for text in texts(topic_messages(telegram, ticket)))
        assert len(topic_messages(telegram, ticket)) >= before

        # A photo staff sent in Telegram: the page shows it through the desk's file route,
        # which fetches it from the Bot API through the signed media link.
        update = await telegram.send_photo(
            OPERATOR_TG, FORUM_CHAT, caption="Фото з місця", thread_id=ticket.thread_id
        )
        assert update.status == 200
        file_id = update["message"]["photo"][-1]["file_id"]
        status, body = await browser.get(f"/desk/tickets/{ticket.id}")
        found = re.search(r'<img class="photo" src="(/desk/files/\d+)"', body)
        assert found is not None and "Фото з місця" in body
        async with browser.http.get(world.base + found.group(1)) as response:
            assert response.status == 200
            assert await response.read() == telegram.file_content(file_id)
            assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_web_upload_reaches_a_telegram_resident_as_a_file(database_url: str) -> None:
    async with desk_world(database_url, telegram=True) as world:
        telegram = world.telegram
        assert telegram is not None
        telegram.user(TG_RESIDENT, first_name="Оксана", last_name="Петренко")
        assert (await telegram.send_text(TG_RESIDENT, "/start")).status == 200
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        ticket_id = await world.file(channel="telegram", external_id=str(TG_RESIDENT))
        page = f"/desk/tickets/{ticket_id}"
        browser = await world.signed_in(maria)
        await browser.get(page)
        # A .docx (a ZIP): Telegram takes such a document only as an upload, not by URL.
        docx = b"PK\x03\x04" + b"word/document.xml" * 20
        form = aiohttp.FormData()
        form.add_field("csrf", browser.csrf)
        form.add_field("text", "Відповідь у документі")
        form.add_field("file", docx, filename="відповідь.docx")
        async with browser.http.post(world.base + page + "/answer", data=form) as response:
            body = await response.text()
            assert response.status == 200 and "Відповідь надіслано заявникові" in body
        sent = telegram.messages(TG_RESIDENT)[-1]
        document = sent.get("document")
        assert isinstance(document, dict), sent
        assert document["file_name"] == "відповідь.docx"
        assert telegram.file_content(document["file_id"]) == docx
        assert "Відповідь у документі" in str(sent.get("caption"))
