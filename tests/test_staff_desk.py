"""The staff desk posts tickets to the staff chats: cards in ordinary groups and forum topics,
residents' messages and attachments, one topic under races, and the catch-up after Telegram
errors. Over the fake Telegram server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.telegram.staff.desk import Desk
from messaging.contract import ResidentWrote, TicketFiled, TicketRated
from storage import ticket_rules
from storage.tickets import get_ticket
from tests.staff_world import (
    ADMIN,
    GROUP_CHAT,
    TG_RESIDENT,
    add_resident_message,
    card_of,
    create_ticket,
    staff_world,
)

pytestmark = pytest.mark.migrated_database


def _photo_id(update: dict[str, object]) -> str:
    message = update["message"]
    assert isinstance(message, dict)
    return str(message["photo"][-1]["file_id"])


async def test_card_in_an_ordinary_group_is_the_root_of_the_thread(database_url: str) -> None:
    async with staff_world(database_url, forum=False) as world:
        photo = _photo_id(await world.telegram.send_photo(TG_RESIDENT))
        document = await world.telegram.send_document(TG_RESIDENT, file_name="скан <1>.pdf")
        doc_id = document["message"]["document"]["file_id"]
        ticket_id = await world.file(
            attachments=(
                ("photo", photo, None),
                ("document", doc_id, "скан <1>.pdf"),
                ("location", "47.9105,33.3918", None),
            )
        )
        ticket = await world.ticket(ticket_id)
        assert ticket.staff_chat_id == GROUP_CHAT and ticket.thread_id is None
        card = card_of(world, ticket)
        text = card["text"]
        # Every field staff need, with the resident's HTML shown as typed.
        for expected in (
            ticket.number,
            "Звернення",
            "Житло та комунальні послуги",
            "Оксана Петренко",
            "Telegram",
            "<b>вже тиждень</b> & ніхто",
            "скарга",
            "oksana@example.com",
            "фото",
            "документ «скан <1>.pdf»",
            "геолокація",
            "нове",
            "не призначено",
        ):
            assert expected in text, expected
        assert ticket.deadline_at is not None
        deadline = ticket.deadline_at.astimezone(world.runtime.settings.zone)
        assert deadline.strftime("%d.%m.%Y") in text
        labels = set(world.buttons(card["message_id"]))
        assert {"✋ Взяти", "↪️ Передати", "⏳ Продовжити строк", "⛔ Відмовити"} <= labels
        # The attachments follow as replies to the card.
        after = world.chat()[-3:]
        assert "photo" in after[0] and "document" in after[1] and "location" in after[2]
        for message in after:
            assert message["reply_to_message"]["message_id"] == card["message_id"]
        thread = await world.thread(ticket_id)
        assert {m.staff_message_id for m in thread} == {m["message_id"] for m in after}
        # Applying the effect again (a retry) posts nothing twice.
        before = len(world.chat())
        await world.desk.apply(TicketFiled(ticket_id))
        assert len(world.chat()) == before
        # A follow-up from the resident joins the thread.
        message_id = await add_resident_message(world.runtime, ticket_id, "А ще <i>світла</i> нема")
        await world.desk.apply(ResidentWrote(message_id, ticket_id))
        last = world.chat()[-1]
        assert "А ще <i>світла</i> нема" in last["text"]
        assert last["reply_to_message"]["message_id"] == card["message_id"]
        assert not [e for e in world.telegram.errors if "parse entities" in e.description]


async def test_forum_topic_is_created_once_when_effects_race(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await create_ticket(world.runtime, clock=world.clock)
        message_id = await add_resident_message(world.runtime, ticket_id, "Доповнення")
        await asyncio.gather(
            world.desk.apply(TicketFiled(ticket_id)),
            world.desk.apply(ResidentWrote(message_id, ticket_id)),
            world.desk.apply(TicketFiled(ticket_id)),
            world.desk.post_pending(),
        )
        assert len(world.telegram.calls_to("createForumTopic")) == 1
        topics = world.telegram.topics(world.chat_id)
        ticket = await world.ticket(ticket_id)
        assert len(topics) == 1 and topics[0]["message_thread_id"] == ticket.thread_id
        assert topics[0]["name"].startswith(ticket.number) and len(topics[0]["name"]) <= 128
        in_topic = [m for m in world.chat() if m.get("message_thread_id") == ticket.thread_id]
        cards = [m for m in in_topic if ticket.number in m["text"] and "reply_markup" in m]
        assert len(cards) == 1
        assert sum("Доповнення" in m["text"] for m in in_topic) == 1
        assert len(world.telegram.calls_to("getChat")) == 1  # is_forum is cached


async def test_two_processes_create_one_topic(pg_url: str) -> None:
    """Two desks (as in two processes) share nothing but the database: the row lock decides."""
    async with staff_world(pg_url, forum=True) as world:
        ticket_id = await create_ticket(world.runtime, clock=world.clock)
        other = Desk(
            bot=world.desk.bot,
            sessionmaker=world.runtime.sessionmaker,
            catalog=world.desk.catalog,
            clock=world.clock,
            zone=world.desk.zone,
            operator_chat_id=world.chat_id,
        )
        await asyncio.gather(
            world.desk.apply(TicketFiled(ticket_id)), other.apply(TicketFiled(ticket_id))
        )
        assert len(world.telegram.calls_to("createForumTopic")) == 1
        assert len([m for m in world.chat() if "reply_markup" in m]) == 1


async def test_a_long_text_is_cut_on_the_card_and_posted_whole(database_url: str) -> None:
    async with staff_world(database_url, forum=False) as world:
        body = ("Абзац про проблему & <деталі>. " * 40 + "\n\n") * 8  # ~10,000 characters
        ticket_id = await world.file(body=body, urgent=False)
        ticket = await world.ticket(ticket_id)
        card = card_of(world, ticket)
        assert len(card["text"]) <= 4096 and "скорочено" in card["text"]
        parts = [m["text"] for m in world.chat() if m["message_id"] > card["message_id"]]
        assert len(parts) >= 3 and all(len(part) <= 4096 for part in parts)
        joined = "".join(part.split(":\n\n", 1)[1] for part in parts)
        assert joined.replace("\n", "").replace(" ", "") == body.replace("\n", "").replace(" ", "")
        # A reply to a continuation part finds the ticket.
        await world.say(ADMIN, "Дякуємо, розглядаємо", reply_to=world.chat()[-1]["message_id"])
        assert any("Дякуємо, розглядаємо" in t for t in world.resident_texts())


async def test_urgent_request_card_shows_the_reason_and_exact_deadline(database_url: str) -> None:
    async with staff_world(database_url, forum=False) as world:
        ticket_id = await world.file(
            kind="info_request",
            queue="public_info",
            category=None,
            urgent=True,
            urgent_reason="Аварія на водогоні",
        )
        ticket = await world.ticket(ticket_id)
        card = card_of(world, ticket)
        assert ticket.deadline_at is not None
        local = ticket.deadline_at.astimezone(world.runtime.settings.zone)
        assert "Терміново" in card["text"] and "Аварія на водогоні" in card["text"]
        assert local.strftime("%d.%m.%Y %H:%M") in card["text"]
        # 48 hours cannot be extended, so the card does not offer it.
        assert "⏳ Продовжити строк" not in world.buttons(card["message_id"])


async def test_catch_up_posts_what_telegram_refused(database_url: str) -> None:
    async with staff_world(database_url, forum=False) as world:
        await world.telegram.kick_bot(GROUP_CHAT, ADMIN)
        ticket_id = await create_ticket(world.runtime, clock=world.clock)
        # The pipeline's effect path logs the failure; the ticket stays stored.
        await world.runtime.pipeline.apply_effects((TicketFiled(ticket_id),))
        assert (await world.ticket(ticket_id)).card_message_id is None
        assert await world.desk.post_pending() == 0
        # The bot is added back; the failed ticket waits out its back-off, then goes.
        world.telegram.add_group(GROUP_CHAT, "Оператори", members=(ADMIN,), admins=(ADMIN,))
        assert await world.desk.post_pending() == 0
        world.clock.advance(timedelta(minutes=20))
        assert await world.desk.post_pending() == 1
        ticket = await world.ticket(ticket_id)
        assert ticket.card_message_id is not None
        assert ticket.number in card_of(world, ticket)["text"]
        # Nothing is left: the next run does nothing.
        assert await world.desk.post_pending() == 0


async def test_catch_up_stops_while_telegram_is_down(database_url: str) -> None:
    async with staff_world(database_url, forum=False) as world:
        first = await create_ticket(world.runtime, clock=world.clock)
        second = await create_ticket(world.runtime, clock=world.clock)
        calls = len(world.telegram.calls)
        await world.telegram.stop()
        assert await world.desk.post_pending() == 0
        for ticket_id in (first, second):
            assert (await world.ticket(ticket_id)).card_message_id is None
        assert len(world.telegram.calls) == calls


async def test_tickets_of_a_queue_without_chat_wait_when_there_is_no_operator_chat(
    database_url: str,
) -> None:
    async with staff_world(database_url, forum=False, operator_chat=False) as world:
        ticket_id = await world.file()
        assert (await world.ticket(ticket_id)).card_message_id is None
        # Giving the queue its own chat is enough for the catch-up to post it.
        await world.set_queue_chat("housing", GROUP_CHAT)
        assert await world.desk.post_pending() == 1
        assert (await world.ticket(ticket_id)).staff_chat_id == GROUP_CHAT


async def test_viber_attachments_are_sent_by_url(database_url: str) -> None:
    async with staff_world(database_url, forum=True, viber=True) as world:
        ticket_id = await world.file(
            channel="viber",
            external_id="VbRes==",
            attachments=(
                ("photo", "https://dl-media.viber.com/1/share/2/long/photo.jpg", None),
                ("document", "https://dl-media.viber.com/1/share/2/long/act.docx", "act.docx"),
            ),
        )
        ticket = await world.ticket(ticket_id)
        assert "Viber" in card_of(world, ticket)["text"]
        photos = world.telegram.calls_to("sendPhoto")
        assert photos[-1]["photo"] == "https://dl-media.viber.com/1/share/2/long/photo.jpg"
        documents = world.telegram.calls_to("sendDocument")
        assert documents[-1]["document"].endswith("act.docx")
        assert all(m.staff_message_id is not None for m in await world.thread(ticket_id))


async def test_a_rating_is_shown_in_the_thread_once(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file()
        async with world.runtime.sessionmaker() as session, session.begin():
            ticket = await get_ticket(session, ticket_id=ticket_id)
            assert ticket is not None
            ticket_rules.close(ticket, now=world.clock())
            ticket_rules.rate(ticket, stars=4, now=world.clock())
        await world.desk.apply(TicketRated(ticket_id))
        await world.desk.apply(TicketRated(ticket_id))
        rated = [text for text in world.texts() if "оцінив" in text]
        assert rated == ["⭐ Заявник оцінив відповідь: ⭐⭐⭐⭐ (4/5)"]
        ticket = await world.ticket(ticket_id)
        assert "Оцінка заявника: ⭐⭐⭐⭐ (4/5)" in card_of(world, ticket)["text"]
        # The comment that follows the stars is shown too.
        async with world.runtime.sessionmaker() as session, session.begin():
            stored = await get_ticket(session, ticket_id=ticket_id)
            assert stored is not None
            stored.rating_comment = "Дякую <3"
        await world.desk.apply(TicketRated(ticket_id))
        assert "Коментар заявника: Дякую <3" in world.texts()[-1]
