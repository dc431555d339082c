"""Staff actions from the card's buttons and the staff commands: take, extend, refuse, close,
the appeal's term, hand-over, /ticket, /find, /ban; the resident is told in their language; the
card is edited in place; everything is audited; nobody else may act."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.calendar_store import load_calendar
from storage.deadlines import AppealTerm, initial_deadline, maximum_extension
from storage.vocabulary import TicketStatus
from tests.staff_world import (
    ADMIN,
    OPERATOR,
    OTHER_GROUP,
    OUTSIDER,
    TG_RESIDENT,
    card_of,
    staff_world,
)

pytestmark = pytest.mark.migrated_database

TRANSPORT_CHAT = -4500777


async def test_take_extend_and_refuse_an_information_request(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file(
            kind="info_request", queue="public_info", category=None, language="en"
        )
        ticket = await world.ticket(ticket_id)
        card_id = card_of(world, ticket)["message_id"]
        zone = world.runtime.settings.zone

        assert await world.press(OPERATOR, card_id, "✋ Взяти") == "Взято в роботу"
        notice = world.resident_texts()[-1]
        assert ticket.number in notice and "is being worked on" in notice
        ticket = await world.ticket(ticket_id)
        assert ticket.status == TicketStatus.IN_PROGRESS and ticket.assignee_id == OPERATOR
        card = card_of(world, ticket)["text"]
        assert "у роботі" in card and "Петро Оператор" in card
        assert [a.actor for a in await world.audit("ticket.take")] == [f"staff:{OPERATOR}"]
        await world.press(OPERATOR, card_id, "✋ Взяти")
        assert world.last_answer.get("show_alert") and "вже працюєте" in world.last_answer["text"]

        # Extend: the bot asks for the reason; the reply to that question completes it.
        await world.press(OPERATOR, card_id, "⏳ Продовжити строк")
        prompt = world.chat()[-1]
        # ForceReply lives on the client, not on the stored message: check the call.
        markup = world.telegram.calls_to("sendMessage")[-1]["reply_markup"]
        assert markup["force_reply"] is True and markup["selective"] is True
        assert "причину продовження" in prompt["text"]
        assert prompt["message_thread_id"] == ticket.thread_id
        await world.say(OPERATOR, "Великий обсяг <документів>", reply_to=prompt["message_id"])
        ticket = await world.ticket(ticket_id)
        async with world.runtime.sessionmaker() as session:
            calendar = await load_calendar(session)
        expected = maximum_extension(ticket.kind, ticket.received_at, calendar=calendar, zone=zone)
        assert ticket.deadline_at == expected and ticket.extended_at is not None
        assert ticket.extension_reason == "Великий обсяг <документів>"
        notice = world.resident_texts()[-1]
        assert expected is not None and expected.astimezone(zone).strftime("%d.%m.%Y") in notice
        assert "Великий обсяг <документів>" in notice and "20 working days" in notice
        card = card_of(world, ticket)
        assert "продовжено" in card["text"] and "Великий обсяг <документів>" in card["text"]
        assert "⏳ Продовжити строк" not in world.buttons(card_id)
        assert len(await world.audit("ticket.extend")) == 1
        system = [m for m in await world.thread(ticket_id) if m.direction == "system"]
        assert system[-1].text is not None and "Великий обсяг <документів>" in system[-1].text
        assert system[-1].delivery_error is None
        # The question is answered: another reply to it is neither an answer nor an extension.
        count = len(world.resident_texts())
        await world.say(OPERATOR, "Ще раз", reply_to=prompt["message_id"])
        assert len(world.resident_texts()) == count and "закрите" in world.texts()[-1]

        # Refuse: choose the legal ground, then comment.
        await world.press(OPERATOR, card_id, "⛔ Відмовити")
        grounds = world.buttons(card_id)
        assert "Інформація з обмеженим доступом" in grounds and "Анонімне" not in grounds
        await world.press(OPERATOR, card_id, "Інформація з обмеженим доступом")
        prompt = world.chat()[-1]
        assert "коментар до відмови" in prompt["text"]
        await world.say(ADMIN, "Персональні дані третіх осіб", reply_to=prompt["message_id"])
        notice = world.resident_texts()[-1]
        assert "has been refused" in notice and "restricted" in notice
        assert "Персональні дані третіх осіб" in notice and "art. 23" in notice
        ticket = await world.ticket(ticket_id)
        assert ticket.status == TicketStatus.REFUSED and ticket.refusal_ground == "restricted"
        card = card_of(world, ticket)
        assert "відмовлено" in card["text"] and "reply_markup" not in card
        refusals = await world.audit("ticket.refuse")
        assert [r.actor for r in refusals] == [f"staff:{ADMIN}"]
        assert refusals[0].details["ground"] == "restricted"


async def test_term_hand_over_and_close_of_an_appeal(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        world.telegram.add_group(TRANSPORT_CHAT, "Транспорт", members=(ADMIN, OPERATOR))
        await world.set_queue_chat("transport", TRANSPORT_CHAT)
        ticket_id = await world.file(kind="appeal")
        ticket = await world.ticket(ticket_id)
        card_id = card_of(world, ticket)["message_id"]

        # 15 days instead of a month (Law 393/96-ВР art. 20).
        answer = await world.press(OPERATOR, card_id, "⏱ Строк 15 днів")
        async with world.runtime.sessionmaker() as session:
            calendar = await load_calendar(session)
        simple = initial_deadline(
            "appeal",
            ticket.received_at,
            calendar=calendar,
            zone=world.runtime.settings.zone,
            appeal_term=AppealTerm.SIMPLE,
        )
        ticket = await world.ticket(ticket_id)
        assert ticket.appeal_term == "simple" and ticket.deadline_at == simple
        assert (
            answer is not None
            and simple.astimezone(world.runtime.settings.zone).strftime("%d.%m.%Y") in answer
        )
        assert "15 днів" in card_of(world, ticket)["text"]
        assert "📅 Строк 1 місяць" in world.buttons(card_id)
        assert len(await world.audit("ticket.term")) == 1
        # The resident was given a deadline at registration: they are told it moved.
        await world.telegram.wait_for_messages(TG_RESIDENT, 2)
        told = world.resident_texts()[-1]
        assert ticket.number in told and "15 днів" in told
        assert simple.astimezone(world.runtime.settings.zone).strftime("%d.%m.%Y") in told

        # Hand over to the transport queue, which has its own (ordinary) group.
        await world.press(OPERATOR, card_id, "✋ Взяти")
        await world.press(OPERATOR, card_id, "↪️ Передати")
        queues = world.buttons(card_id)
        assert "Транспорт і дороги" in queues and "Житлово-комунальне господарство" not in queues
        await world.press(OPERATOR, card_id, "Транспорт і дороги")
        old = world.message(card_id)
        assert "передано" in old["text"] and "reply_markup" not in old
        ticket = await world.ticket(ticket_id)
        assert ticket.queue_code == "transport" and ticket.staff_chat_id == TRANSPORT_CHAT
        assert ticket.status == TicketStatus.NEW and ticket.assignee_id is None
        new_card = card_of(world, ticket)
        assert ticket.number in new_card["text"] and "Транспорт і дороги" in new_card["text"]
        handovers = await world.audit("ticket.handover")
        assert handovers[0].details == {
            "desk": "telegram",
            "number": ticket.number,
            "source": "housing",
            "target": "transport",
        }

        # Close in the new chat: the resident is asked whether the issue is resolved (the
        # rating follows a "yes": tests/test_closure.py).
        new_id = new_card["message_id"]
        await world.press(ADMIN, new_id, "✅ Закрити", chat_id=TRANSPORT_CHAT)
        assert await world.press(ADMIN, new_id, "✅ Так, закрити", chat_id=TRANSPORT_CHAT)
        closing = world.telegram.messages(TG_RESIDENT)[-1]
        assert "розгляд завершено" in closing["text"] and "Питання вирішено?" in closing["text"]
        asked = [b["callback_data"] for b in closing["reply_markup"]["inline_keyboard"][0]]
        ticket = await world.ticket(ticket_id)
        assert ticket.closed_at is not None
        round_ = int(ticket.closed_at.timestamp())
        assert asked == [f"solved:{ticket_id}:{round_}:{answer}" for answer in ("yes", "no")]
        ticket = await world.ticket(ticket_id)
        assert ticket.status == TicketStatus.CLOSED
        assert "reply_markup" not in card_of(world, ticket)
        assert len(await world.audit("ticket.close")) == 1


async def test_nobody_but_staff_may_act(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file()
        ticket = await world.ticket(ticket_id)
        card_id = card_of(world, ticket)["message_id"]
        before = len(world.resident_texts())

        for user in (OUTSIDER, TG_RESIDENT):
            for label in ("✋ Взяти", "✅ Закрити", "⛔ Відмовити"):
                text = await world.press(user, card_id, label)
                assert text is not None and "зареєстровані працівники" in text
                assert world.last_answer.get("show_alert") is True
        await world.say(OUTSIDER, "Я теж відповім", thread_id=ticket.thread_id)
        assert "зареєстровані працівники" in world.texts()[-1]
        await world.say(TG_RESIDENT, "Відповідь від мешканця", reply_to=card_id)
        await world.say(OUTSIDER, "/ban", thread_id=ticket.thread_id)
        await world.say(OUTSIDER, "/find Петренко")

        assert len(world.resident_texts()) == before
        ticket = await world.ticket(ticket_id)
        assert ticket.status == TicketStatus.NEW and ticket.assignee_id is None
        assert ticket.resident_id is not None
        assert (await world.resident(ticket.resident_id)).banned_at is None
        assert [m.direction for m in await world.thread(ticket_id)] == []
        denied = await world.audit("staff.denied")
        assert len(denied) == 10
        assert {d.actor for d in denied} == {f"telegram:{OUTSIDER}", f"telegram:{TG_RESIDENT}"}
        assert any(d.details["what"] == "/ban" for d in denied)
        assert not await world.audit("ticket.take")

        # A group that is no staff chat is ignored, even for staff.
        calls = len(world.telegram.calls_to("sendMessage"))
        await world.say(ADMIN, "/find Петренко", chat_id=OTHER_GROUP)
        assert len(world.telegram.calls_to("sendMessage")) == calls


async def test_ticket_find_ban_and_unban(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file(name="Оксана Петренко")
        ticket = await world.ticket(ticket_id)

        await world.say(OPERATOR, f"/ticket {ticket.number.lower()}")
        shown = world.chat()[-1]
        assert ticket.number in shown["text"] and "Оксана Петренко" in shown["text"]
        links = [e["url"] for e in shown.get("entities", []) if e["type"] == "text_link"]
        assert links == [f"https://t.me/c/1500000001/{ticket.card_message_id}"]
        await world.say(OPERATOR, "/ticket ЗВ-1999-000001")
        assert "не знайдено" in world.texts()[-1]
        await world.say(OPERATOR, "/find петренко")
        assert ticket.number in world.texts()[-1] and "Знайдено: 1" in world.texts()[-1]
        await world.say(OPERATOR, "/find нічого такого")
        assert "Нічого не знайдено" in world.texts()[-1]

        await world.say(OPERATOR, "/ban")
        assert "гілці звернення" in world.texts()[-1]
        update = await world.say(OPERATOR, "/ban", thread_id=ticket.thread_id)
        assert ticket.resident_id is not None
        resident = await world.resident(ticket.resident_id)
        assert resident.banned_at is not None and resident.banned_by == OPERATOR
        assert "більше не можете подавати" in world.resident_texts()[-1]
        assert "🚫" in card_of(world, ticket)["text"]
        # The same update delivered again changes nothing and sends nothing.
        count = len(world.resident_texts())
        again = await world.telegram.push_update(dict(update))
        assert again.status == 200 and len(world.resident_texts()) == count
        assert len(await world.audit("resident.ban")) == 1
        await world.say(OPERATOR, "/ban", thread_id=ticket.thread_id)
        assert "вже заборонено" in world.texts()[-1]

        await world.say(ADMIN, "/unban", thread_id=ticket.thread_id)
        resident = await world.resident(ticket.resident_id)
        assert resident.banned_at is None and resident.banned_by is None
        assert "знову можете" in world.resident_texts()[-1]
        unbans = await world.audit("resident.unban")
        assert [u.actor for u in unbans] == [f"staff:{ADMIN}"]
        assert unbans[0].subject == f"resident:{resident.id}"


async def test_extension_follows_the_law(database_url: str) -> None:
    async with staff_world(database_url, forum=False) as world:
        late = await world.file(
            kind="info_request",
            queue="public_info",
            category=None,
            received_at=world.clock() - timedelta(days=30),
        )
        card_id = card_of(world, await world.ticket(late))["message_id"]
        text = await world.press(OPERATOR, card_id, "⏳ Продовжити строк")
        assert text is not None and "Продовжити вже не можна" in text
        assert world.last_answer.get("show_alert") is True

        feedback = await world.file(kind="feedback", queue="other", category="other")
        card_id = card_of(world, await world.ticket(feedback))["message_id"]
        assert "⏳ Продовжити строк" not in world.buttons(card_id)
        assert "⏱ Строк 15 днів" not in world.buttons(card_id)
        # A forged button press is checked all the same.
        text = await world.press_data(OPERATOR, card_id, f"tk:ext:{feedback}", strict=False)
        assert text is not None and "не продовжується" in text
        # Garbage is ignored quietly.
        assert await world.press_data(OPERATOR, card_id, "tk:take:abc", strict=False) is None
        assert not await world.audit("ticket.extend")
