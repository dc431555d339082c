"""The loop closes with the resident (issue 13, part 4): staff close a ticket, the resident is
asked "Питання вирішено?" in their messenger; "yes" is recorded and the rating follows; "no"
reopens feedback (with the comment in the staff thread) or offers an appeal's resident a
repeated appeal or a complaint, filed linked to the first; staff see every answer in the thread,
on the card, in the morning summary and in /stats; "my tickets" shows the timeline with dates.

End to end over the Telegram and Viber stand-ins, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.schedule import sla_jobs
from messaging.contract import TicketFiled
from storage.models import AuditEntry, ConversationState, Ticket, TicketEvent
from storage.vocabulary import TicketStatus
from tests.harness import Resident_, TelegramResident, ViberResident, onboard
from tests.staff_world import (
    ADMIN,
    OPERATOR,
    TG_RESIDENT,
    VIBER_RESIDENT,
    World,
    add_resident_message,
    card_of,
    create_ticket,
    staff_world,
)

pytestmark = pytest.mark.migrated_database

CHANNELS = ["telegram", "viber"]
YES = "✅ Так, вирішено"
NO = "❌ Ні, не вирішено"


async def _resident(world: World, channel: str) -> Resident_:
    resident: Resident_
    if channel == "viber":
        assert world.viber is not None
        resident = ViberResident(world.viber, VIBER_RESIDENT)
    else:
        resident = TelegramResident(world.telegram, TG_RESIDENT, polling=False)
    await onboard(resident)
    return resident


async def _file(world: World, resident: Resident_, kind: str) -> int:
    ticket_id = await create_ticket(
        world.runtime,
        clock=world.clock,
        channel=resident.channel,
        external_id=resident.external_id,
        kind=kind,
    )
    await world.desk.apply(TicketFiled(ticket_id))
    return ticket_id


async def _take_answer_close(world: World, ticket_id: int, answer: str = "Полагодили") -> int:
    """Staff take the ticket, answer and close it from the card; returns the card's id."""
    ticket = await world.ticket(ticket_id)
    card_id: int = card_of(world, ticket)["message_id"]
    await world.press(OPERATOR, card_id, "✋ Взяти")
    await world.say(OPERATOR, answer, thread_id=ticket.thread_id)
    await _close(world, card_id)
    return card_id


async def _close(world: World, card_id: int) -> None:
    await world.press(ADMIN, card_id, "✅ Закрити")
    assert await world.press(ADMIN, card_id, "✅ Так, закрити")


async def _events(world: World, ticket_id: int) -> list[str]:
    async with world.runtime.sessionmaker() as session:
        query = (
            select(TicketEvent.kind)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
        return list((await session.scalars(query)).all())


def _kyiv(world: World, ticket: Ticket) -> str:
    assert ticket.closed_at is not None
    return ticket.closed_at.astimezone(world.runtime.settings.zone).strftime("%d.%m.%Y %H:%M")


@pytest.mark.parametrize("channel", CHANNELS)
async def test_yes_is_recorded_then_the_rating_and_the_timeline(
    channel: str, database_url: str
) -> None:
    async with staff_world(database_url, forum=True, viber=channel == "viber") as world:
        resident = await _resident(world, channel)
        ticket_id = await _file(world, resident, "feedback")
        await _take_answer_close(world, ticket_id)

        assert "Питання вирішено?" in resident.last_text()
        assert YES in resident.labels() and NO in resident.labels()
        await resident.press(YES)
        assert "вирішено" in resident.last_text() and "Оцініть" in resident.last_text()
        ticket = await world.ticket(ticket_id)
        assert (ticket.status, ticket.resolution) == (TicketStatus.CLOSED, "resolved")
        assert ticket.resolution_at is not None
        assert await _events(world, ticket_id) == ["taken", "answered", "closed", "resolved"]
        (entry,) = await world.audit("ticket.resolution")
        assert entry.details == {"number": ticket.number, "resolved": True}
        # Staff see it in the thread and on the card.
        assert "✅ Заявник підтвердив: питання вирішено." in world.texts()
        assert "✅ Заявник: питання вирішено" in card_of(world, ticket)["text"]

        # The rating follows the answer.
        await resident.press("⭐⭐⭐⭐⭐")
        assert "коментар" in resident.last_text()
        await resident.press("Пропустити")
        assert (await world.ticket(ticket_id)).rating == 5

        # The question's button pressed again (an old message; in Viber typed): nothing
        # changes, the resident is told they answered already.
        round_ = int(ticket.closed_at.timestamp()) if ticket.closed_at else 0
        if channel == "viber":
            assert world.viber is not None
            await world.viber.send_text(VIBER_RESIDENT, f"act:solved:{ticket_id}:{round_}:no")
        else:
            await resident.press(NO)
        assert "вже відповіли" in resident.last_text()
        assert (await world.ticket(ticket_id)).resolution == "resolved"
        assert len(await world.audit("ticket.resolution")) == 1

        # "My tickets": the timeline with dates in Kyiv time, the department that took it.
        await resident.press("📂 Мої звернення")
        await resident.press(f"{ticket.number} · Закрито")
        shown = resident.last_text()
        assert "Хід розгляду" in shown
        received = ticket.received_at.astimezone(world.runtime.settings.zone)
        assert f"{received:%d.%m.%Y %H:%M} — отримано" in shown
        assert "взято в роботу: Житлово-комунальне господарство" in shown
        assert "надано відповідь" in shown
        assert f"{_kyiv(world, ticket)} — розгляд завершено" in shown
        assert "ви підтвердили: питання вирішено" in shown
        assert "Полагодили" in shown
        # Answered and rated: no question, no stars any more.
        assert YES not in resident.labels() and "⭐⭐⭐⭐⭐" not in resident.labels()

        # /stats: the share of closings confirmed resolved.
        await world.say(ADMIN, "/stats")
        stats = world.texts()[-1]
        assert "Чи вирішено питання" in stats
        assert "✅ так — 1 (100%)" in stats and "без відповіді — 0 (0%)" in stats


@pytest.mark.parametrize("channel", CHANNELS)
async def test_no_reopens_feedback_with_the_comment_in_the_thread(
    channel: str, database_url: str
) -> None:
    async with staff_world(database_url, forum=True, viber=channel == "viber") as world:
        resident = await _resident(world, channel)
        ticket_id = await _file(world, resident, "feedback")
        card_id = await _take_answer_close(world, ticket_id)
        first_round = await world.ticket(ticket_id)

        await resident.press(NO)
        assert "знову відкрите" in resident.last_text()
        ticket = await world.ticket(ticket_id)
        # Open again for staff, with whoever had it; the "no" is on record.
        assert ticket.status == TicketStatus.IN_PROGRESS and ticket.assignee_id == OPERATOR
        assert ticket.resolution == "not_resolved" and ticket.closed_at is None
        assert "🔄 Заявник: питання не вирішено — звернення знову відкрито." in world.texts()
        card = card_of(world, ticket)
        assert "✅ Закрити" in world.buttons(card_id) and "не вирішено" in card["text"]

        await resident.say("Ліхтар досі не світить, <b>перевірте</b> ще раз")
        assert "Коментар додано" in resident.last_text()
        assert any(
            "Ліхтар досі не світить, <b>перевірте</b> ще раз" in text for text in world.texts()
        )
        assert await _events(world, ticket_id) == [
            "taken",
            "answered",
            "closed",
            "not_resolved",
            "reopened",
        ]

        # The question's "yes" pressed now, while the ticket is open again: nothing changes.
        round_ = int(first_round.closed_at.timestamp()) if first_round.closed_at else 0
        if channel == "viber":
            assert world.viber is not None
            await world.viber.send_text(VIBER_RESIDENT, f"act:solved:{ticket_id}:{round_}:yes")
        else:
            await resident.press(YES)
        assert "знову на розгляді" in resident.last_text()
        assert (await world.ticket(ticket_id)).resolution == "not_resolved"

        # The morning summary tells staff which tickets residents said were not resolved.
        runtime = world.runtime
        jobs = sla_jobs(
            runtime.settings,
            sessionmaker=runtime.sessionmaker,
            catalog=runtime.catalog,
            telegram=runtime.telegram,
            clock=world.clock,
        )
        assert jobs is not None
        await jobs.morning()
        summary = world.texts()[-1]
        assert "ранкове зведення" in summary
        assert "❌ не вирішено — 1" in summary and ticket.number in summary

        # Staff answer again and close it: a new question; the old one is stale.
        world.clock.advance(timedelta(seconds=5))
        await world.say(OPERATOR, "Замінили лампу", thread_id=ticket.thread_id)
        await _close(world, card_id)
        assert "Питання вирішено?" in resident.last_text()
        assert first_round.closed_at is not None
        old = f"solved:{ticket_id}:{int(first_round.closed_at.timestamp())}:yes"
        if channel == "viber":
            assert world.viber is not None
            await world.viber.send_text(VIBER_RESIDENT, f"act:{old}")
        else:
            first_question = next(
                m
                for m in world.telegram.messages(TG_RESIDENT)
                if "Питання вирішено?" in (m.get("text") or "")
            )
            await world.telegram.press_button(TG_RESIDENT, first_question["message_id"], old)
        assert "попереднього закриття" in resident.last_text()
        assert (await world.ticket(ticket_id)).resolution is None
        await resident.press(YES)
        assert (await world.ticket(ticket_id)).resolution == "resolved"

        # Both closings were asked: one "no", one "yes".
        await world.say(ADMIN, "/stats")
        stats = world.texts()[-1]
        assert "закрито за 30 днів: 2" in stats
        assert "✅ так — 1 (50%)" in stats and "❌ ні — 1 (50%)" in stats
        assert "Знову відкрито за відповіддю «ні»: 1" in stats


@pytest.mark.parametrize("channel", CHANNELS)
async def test_no_to_an_appeal_offers_a_repeated_appeal_linked_to_the_first(
    channel: str, database_url: str
) -> None:
    async with staff_world(database_url, forum=True, viber=channel == "viber") as world:
        resident = await _resident(world, channel)
        ticket_id = await _file(world, resident, "appeal")
        await _take_answer_close(world, ticket_id, answer="Відмовлено в ремонті ліфта")

        await resident.press(NO)
        ticket = await world.ticket(ticket_id)
        # An appeal stays closed: the law gives the resident a repeated appeal or a complaint.
        assert ticket.status == TicketStatus.CLOSED and ticket.resolution == "not_resolved"
        assert any("Йому запропоновано повторне звернення або скаргу" in t for t in world.texts())
        await resident.press("Пропустити")
        assert "повторне звернення" in resident.last_text() and "скарга" in resident.last_text()
        assert "⚖️ Скарга" in resident.labels()
        await resident.press("🔁 Повторне звернення")
        # Only the substance is asked: name, address, contact come from the first appeal.
        assert "що залишилося не вирішеним" in resident.last_text()
        await resident.say("Ліфт так і не запрацював, прошу розглянути повторно.")
        confirm = resident.last_text()
        assert "Оксана Петренко" in confirm and "вул. Соборності, 1, кв. 2" in confirm
        assert f"Повторне звернення до {ticket.number}" in confirm
        await resident.press("✅ Надіслати")
        number = re.search(r"ЗВ-\d{4}-\d{6}", resident.last_text())
        assert number is not None and number.group() != ticket.number

        async with world.runtime.sessionmaker() as session:
            linked = (
                await session.scalars(select(Ticket).where(Ticket.number == number.group()))
            ).one()
        assert (linked.parent_id, linked.parent_link) == (ticket_id, "repeated")
        assert (linked.kind, linked.appeal_type, linked.category) == (
            "appeal",
            ticket.appeal_type,
            ticket.category,
        )
        assert (linked.full_name, linked.address, linked.contact) == (
            ticket.full_name,
            ticket.address,
            ticket.contact,
        )
        assert linked.body == "Ліфт так і не запрацював, прошу розглянути повторно."
        assert await _events(world, ticket_id) == [
            "taken",
            "answered",
            "closed",
            "not_resolved",
            "refiled",
        ]
        # Staff: the first thread says so, the new card names the first ticket.
        assert f"🔗 Заявник подав пов'язане звернення: Повторне звернення {linked.number}." in (
            world.texts()
        )
        assert f"🔗 Повторне звернення до {ticket.number}" in card_of(world, linked)["text"]

        # The offer's button pressed again files nothing twice.
        if channel == "viber":
            assert world.viber is not None
            await world.viber.send_text(VIBER_RESIDENT, f"act:refile:{ticket_id}:repeated")
        else:
            await resident.press("🔁 Повторне звернення")
        assert f"вже подано: {linked.number}" in resident.last_text()
        async with world.runtime.sessionmaker() as session:
            assert len((await session.scalars(select(Ticket))).all()) == 2

        # The resident's timeline of the first ticket shows the link; what is left to file
        # is the complaint.
        await resident.press("📂 Мої звернення")
        await resident.press(f"{ticket.number} · Закрито")
        assert f"Повторне звернення: {linked.number}" in resident.last_text()
        assert "⚖️ Скарга" in resident.labels()
        assert "🔁 Повторне звернення" not in resident.labels()


async def test_a_complaint_after_the_month_is_not_offered(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        resident = await _resident(world, "telegram")
        ticket_id = await _file(world, resident, "appeal")
        await _take_answer_close(world, ticket_id)
        world.clock.advance(timedelta(days=32))
        await resident.press(NO)
        await resident.press("Пропустити")
        assert "цей строк минув" in resident.last_text()
        assert "⚖️ Скарга" not in resident.labels()
        assert "🔁 Повторне звернення" in resident.labels()
        # The complaint's action sent anyway (a modified client) is refused with the reason.
        update = await world.telegram.press_button(
            TG_RESIDENT,
            world.telegram.messages(TG_RESIDENT)[-1]["message_id"],
            f"refile:{ticket_id}:complaint",
            strict=False,
        )
        assert update.status == 200
        assert "ст. 17" in resident.last_text()
        async with world.runtime.sessionmaker() as session:
            count = len((await session.scalars(select(Ticket))).all())
        assert count == 1


async def test_forged_answers_are_refused_and_audited(database_url: str) -> None:
    async with staff_world(database_url, forum=True, viber=True) as world:
        owner = await _resident(world, "telegram")
        ticket_id = await _file(world, owner, "feedback")
        await _take_answer_close(world, ticket_id)
        ticket = await world.ticket(ticket_id)
        assert ticket.closed_at is not None
        round_ = int(ticket.closed_at.timestamp())

        # Another resident (in Viber anyone can type an action) names the owner's ticket.
        intruder = await _resident(world, "viber")
        assert world.viber is not None
        for action in (
            f"solved:{ticket_id}:{round_}:no",
            f"refile:{ticket_id}:complaint",
            f"solved:{ticket_id}:{round_}:maybe",
            "solved:x",
        ):
            await world.viber.send_text(VIBER_RESIDENT, f"act:{action}")
            assert "Цю дію не виконано" in intruder.last_text()
        ticket = await world.ticket(ticket_id)
        assert ticket.status == TicketStatus.CLOSED and ticket.resolution is None
        async with world.runtime.sessionmaker() as session:
            rows = (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action == "resident.forged_action")
                    .order_by(AuditEntry.id)
                )
            ).all()
        assert [(r.details["kind"], r.details["reason"]) for r in rows] == [
            ("solved", "not_own"),
            ("refile", "not_own"),
            ("solved", "malformed"),
            ("solved", "malformed"),
        ]
        # The owner's own answer still counts.
        await owner.press(YES)
        assert (await world.ticket(ticket_id)).resolution == "resolved"


async def test_a_long_thread_fits_one_message(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        resident = await _resident(world, "telegram")
        ticket_id = await _file(world, resident, "feedback")
        for index in range(40):
            await add_resident_message(world.runtime, ticket_id, f"{index:02d} " + "слово " * 120)
        await resident.press("📂 Мої звернення")
        ticket = await world.ticket(ticket_id)
        await resident.press(f"{ticket.number} · Зареєстровано")
        shown = resident.last_text()
        assert len(shown) <= 4096
        assert "ще раніших повідомлень" in shown
        assert "39 слово" in shown and "00 слово" not in shown
        assert "отримано" in shown


@pytest.mark.parametrize("channel", CHANNELS)
async def test_no_to_an_information_request_offers_a_complaint(
    channel: str, database_url: str
) -> None:
    """Law 2939-VI art. 23: the holder's answer may be appealed. The complaint is an appeal,
    which needs a place of residence (Law 393/96-ВР art. 5) that a request does not ask: only
    that and the text are asked; name and contact come from the request."""
    async with staff_world(database_url, forum=True, viber=channel == "viber") as world:
        resident = await _resident(world, channel)
        ticket_id = await _file(world, resident, "info_request")
        async with world.runtime.sessionmaker() as session, session.begin():
            stored = await session.get(Ticket, ticket_id)
            assert stored is not None
            stored.address = stored.category = None  # a request has neither
        await _take_answer_close(world, ticket_id, answer="Інформацією не володіємо")

        await resident.press(NO)
        ticket = await world.ticket(ticket_id)
        assert ticket.status == TicketStatus.CLOSED and ticket.resolution == "not_resolved"
        await resident.say("Інформація є на сайті іншого органу")
        assert "Коментар додано" in resident.last_text()
        assert "ст. 23" in resident.last_text()
        assert "📄 Новий запит" in resident.labels()
        await resident.press("⚖️ Скарга")
        assert "місце проживання" in resident.last_text()
        await resident.say("м. Кривий Ріг, вул. Металургів, 5")
        assert "не згодні" in resident.last_text()
        await resident.say("Прошу переглянути відповідь на мій запит.")
        await resident.press("✅ Надіслати")
        number = re.search(r"ЗВ-\d{4}-\d{6}", resident.last_text())
        assert number is not None
        async with world.runtime.sessionmaker() as session:
            complaint = (
                await session.scalars(select(Ticket).where(Ticket.number == number.group()))
            ).one()
        assert (complaint.kind, complaint.appeal_type, complaint.parent_link) == (
            "appeal",
            "complaint",
            "complaint",
        )
        assert complaint.parent_id == ticket_id and complaint.category == "council_work"
        assert complaint.address == "м. Кривий Ріг, вул. Металургів, 5"
        assert (complaint.full_name, complaint.contact) == (ticket.full_name, ticket.contact)
        # The comment reached the staff thread of the request.
        assert any("Інформація є на сайті іншого органу" in text for text in world.texts())


async def test_an_answer_in_the_middle_of_a_draft_keeps_the_draft(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        resident = await _resident(world, "telegram")
        ticket_id = await _file(world, resident, "feedback")
        await _take_answer_close(world, ticket_id)
        # The resident is writing another ticket when they answer the question.
        await resident.command("feedback")
        await resident.press("🏠 Житло та комунальні послуги")
        await resident.press(NO)
        assert "знову відкрите" in resident.last_text() and "Мої звернення" in resident.last_text()
        assert (await world.ticket(ticket_id)).status == TicketStatus.IN_PROGRESS
        # The draft goes on where it was.
        await resident.say("У дворі не вивезли сміття")
        async with world.runtime.sessionmaker() as session:
            state = (await session.scalars(select(ConversationState))).one()
        assert (state.flow, state.data["answers"]["body"]) == (
            "ticket",
            "У дворі не вивезли сміття",
        )
