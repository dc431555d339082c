"""A resident who answers a staff answer continues that ticket (issue 13): with Telegram's Reply on
the message that carried the answer, or by writing right after it (in either messenger); asked
which ticket when several were answered; offered a new ticket when the ticket is closed. On
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from handlers.tickets.followups import answered_tickets
from storage.models import ConversationState, Ticket
from storage.vocabulary import MessageDirection
from tests.harness import TelegramResident, ViberResident, find_resident, onboard
from tests.staff_world import (
    ADMIN,
    OPERATOR,
    TG_RESIDENT,
    VIBER_RESIDENT,
    World,
    card_of,
    staff_world,
)

pytestmark = pytest.mark.migrated_database

KEPT = "Я зберіг ваше повідомлення"


async def _resident_texts(world: World, ticket_id: int) -> list[str | None]:
    return [
        m.text for m in await world.thread(ticket_id) if m.direction == MessageDirection.RESIDENT
    ]


async def _answer(world: World, ticket: Ticket, text: str) -> int:
    """Staff answer in the ticket's topic; the id of the resident's (Telegram) copy."""
    await world.say(OPERATOR, text, thread_id=ticket.thread_id)
    last = world.telegram.messages(TG_RESIDENT)[-1]
    assert text in (last.get("text") or "")
    return int(last["message_id"])


async def test_telegram_reply_and_a_choice_between_two_answered_tickets(
    database_url: str,
) -> None:
    async with staff_world(database_url, forum=True) as world:
        r = TelegramResident(world.telegram, TG_RESIDENT, polling=False)
        await onboard(r)
        a = await world.ticket(
            await world.file(kind="feedback", body="Не світять ліхтарі на Металургів, 5")
        )
        b = await world.ticket(await world.file())
        answer_a = await _answer(world, a, "Уточніть, будь ласка, номер опори")
        await _answer(world, b, "Передали у ЖЕК, чекаємо відповіді")

        # Typed right after two answers: which ticket is not clear, so the bot asks.
        await r.say("А коли саме прийдуть?")
        assert "До якого звернення" in r.last_text()
        assert r.labels()[:3] == [
            f"До звернення {b.number}",
            f"До звернення {a.number}",
            "🆕 Нове звернення",
        ]
        await r.press(f"До звернення {b.number}")
        assert f"Додано до звернення {b.number}" in r.last_text()
        assert await _resident_texts(world, b.id) == ["А коли саме прийдуть?"]
        assert any("А коли саме прийдуть?" in text for text in world.texts())

        # A Reply on the first answer continues the first ticket.
        update = await world.telegram.send_text(TG_RESIDENT, "Опора №17", reply_to=answer_a)
        assert update.status == 200
        assert f"Додано до звернення {a.number}" in r.last_text()
        assert await _resident_texts(world, a.id) == ["Опора №17"]
        assert any("Опора №17" in text for text in world.texts())

        # Closed: a Reply cannot reopen it; the message is kept and may become a new ticket
        # that names the closed one.
        card = card_of(world, await world.ticket(a.id))["message_id"]
        await world.press(ADMIN, card, "✅ Закрити")
        assert await world.press(ADMIN, card, "✅ Так, закрити")
        update = await world.telegram.send_text(
            TG_RESIDENT, "Ліхтарі знову не світять", reply_to=answer_a
        )
        assert update.status == 200
        assert "уже закрите" in r.last_text() and KEPT in r.last_text()
        await r.press("💬 Як відгук або питання")
        # The keyword lists preselected the category (street lights: improvement).
        await r.press("Далі ➡️")
        await r.press("Ні")
        await r.press("✅ Надіслати")
        async with world.runtime.sessionmaker() as session:
            newest = (await session.scalars(select(Ticket).order_by(Ticket.id.desc()))).first()
        assert newest is not None and newest.id not in (a.id, b.id)
        assert newest.body == f"Щодо звернення {a.number}:\nЛіхтарі знову не світять"
        assert newest.category == "improvement"
        assert await _resident_texts(world, a.id) == ["Опора №17"]


async def test_viber_message_typed_right_after_an_answer_continues_the_ticket(
    database_url: str,
) -> None:
    async with staff_world(database_url, forum=True, viber=True) as world:
        assert world.viber is not None
        v = ViberResident(world.viber, VIBER_RESIDENT)
        await onboard(v)
        ticket = await world.ticket(await world.file(channel="viber", external_id=VIBER_RESIDENT))
        await world.say(OPERATOR, "Уточніть номер під'їзду", thread_id=ticket.thread_id)
        assert ticket.number in v.last_text()

        # Thanks are thanks, not a follow-up.
        await v.say("Дякую!")
        assert "Будь ласка!" in v.last_text()
        await v.say("Під'їзд №3, ліфт стоїть на 5 поверсі")
        assert f"Додано до звернення {ticket.number}" in v.last_text()
        # The next message continues the same ticket.
        await v.photo()
        assert f"Додано до звернення {ticket.number}" in v.last_text()
        thread = [m for m in await world.thread(ticket.id) if m.direction == "resident"]
        assert [(m.text, m.attachment_kind) for m in thread] == [
            ("Під'їзд №3, ліфт стоїть на 5 поверсі", None),
            (None, "photo"),
        ]
        assert any("Під'їзд №3" in text for text in world.texts())

        # Days later a message is a new matter: kept as a draft, not added.
        world.clock.advance(timedelta(days=4))
        await v.say("Не працює світлофор біля ринку")
        assert KEPT in v.last_text()
        assert len([m for m in await world.thread(ticket.id) if m.direction == "resident"]) == 2


async def test_an_answer_does_not_disturb_a_resident_in_a_flow(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        r = TelegramResident(world.telegram, TG_RESIDENT, polling=False)
        await onboard(r)
        ticket = await world.ticket(await world.file())
        await r.command("feedback")
        await r.press("🌳 Благоустрій")
        await _answer(world, ticket, "Відповідь по суті")
        # The form still takes the text as its answer.
        await r.say("Переповнені смітники у дворі")
        assert "Додайте фото" in r.last_text()
        assert await _resident_texts(world, ticket.id) == []
        resident = await find_resident(world.runtime.sessionmaker, "telegram", str(TG_RESIDENT))
        assert resident is not None
        async with world.runtime.sessionmaker() as session:
            state = await session.get(ConversationState, resident.id)
        assert state is not None and state.flow == "ticket"


async def test_not_a_follow_up_after_all_goes_to_the_choice_of_a_new_ticket(
    database_url: str,
) -> None:
    async with staff_world(database_url, forum=True) as world:
        r = TelegramResident(world.telegram, TG_RESIDENT, polling=False)
        await onboard(r)
        a = await world.ticket(await world.file())
        b = await world.ticket(await world.file(kind="feedback"))
        await _answer(world, a, "Відповідь на перше")
        await _answer(world, b, "Відповідь на друге")
        await r.say("Ще й дерево впало на дорогу біля школи")
        await r.photo()
        assert "До якого звернення" in r.last_text() and "файлів: 1" in r.last_text()
        await r.press("🆕 Нове звернення")
        assert KEPT in r.last_text() and "Ще й дерево впало" in r.last_text()
        await r.press("🗑 Не надсилати")
        assert "не надсилаю" in r.last_text()
        assert await _resident_texts(world, a.id) == []
        assert await _resident_texts(world, b.id) == []


def test_a_remembered_answer_without_an_offset_is_skipped_not_a_crash() -> None:
    """Remembered times are stored with their offset; a naive one (edited by hand, or from an
    older format) is ignored like any malformed entry instead of failing the comparison."""
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    data = {
        "tickets": [
            {"id": 1, "at": (now - timedelta(hours=1)).isoformat()},
            {"id": 2, "at": "2026-11-26T11:30:00"},
        ]
    }
    assert answered_tickets(data, now=now) == [1]
