"""Residents file, follow, rate and erase tickets — the same scenarios in Telegram and Viber, on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.viber import FakeViber
from storage.calendar import WorkCalendar
from storage.deadlines import initial_deadline
from storage.models import AuditEntry, ConversationState, Resident, Ticket, TicketMessage
from tests.harness import (
    VIBER_TOKEN,
    WORLDS,
    ViberResident,
    bot_settings,
    find_resident,
    onboard,
    running_bot,
)

pytestmark = pytest.mark.migrated_database

KYIV = ZoneInfo("Europe/Kyiv")
CHANNELS = ["viber", "telegram-webhook"]


async def _tickets(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Ticket]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Ticket).order_by(Ticket.id))).all())


async def _messages(
    sessionmaker: async_sessionmaker[AsyncSession], ticket_id: int
) -> list[TicketMessage]:
    async with sessionmaker() as session:
        query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
        return list((await session.scalars(query.order_by(TicketMessage.id))).all())


def _number(text: str) -> str:
    found = re.search(r"(ВД|ЗВ|ЗІ|ПД)-\d{4}-\d{6}", text)
    assert found, text
    return found.group(0)


def _year() -> int:
    return datetime.now(KYIV).year


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_each_kind_is_filed_with_a_number_and_a_deadline(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url, tickets_per_hour=10) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await onboard(r)

            # Feedback with a photo, not anonymous.
            await r.press("✍️ Звернутися")
            await r.press("💬 Відгук або питання")
            assert "не є офіційним зверненням" in r.texts()[-2]
            await r.press("🏠 Житло та комунальні послуги")
            await r.say("Не працює ліфт <b>у під'їзді</b> & 🙂")
            await r.photo()
            assert "Вкладень: 1" in r.last_text() or "усього 1" in r.last_text()
            await r.press("Далі ➡️")
            await r.press("Ні")
            assert "Перевірте" in r.last_text()
            assert "Не працює ліфт <b>у під'їзді</b> & 🙂" in r.last_text()
            await r.press("✅ Надіслати")
            assert _number(r.last_text()) == f"ВД-{_year()}-000001"

            # An appeal, with validation errors on the way.
            await r.command("appeal")
            await r.press("Скарга")
            await r.press("🚌 Транспорт і дороги")
            await r.say("Іван")
            assert "щонайменше два слова" in r.last_text()
            await r.say("Петренко Оксана Іванівна")
            await r.say("Кривий Ріг, вул. Соборності, 1")
            await r.say("Коротко")
            assert "Закоротко" in r.last_text()
            await r.say("Ями на дорозі біля зупинки «Площа Визволення» вже третій місяць.")
            await r.press("Далі ➡️")
            await r.say("не контакт")
            assert "не схоже" in r.last_text()
            await r.say("oksana@example.com")
            await r.press("✅ Надіслати")
            assert _number(r.last_text()) == f"ЗВ-{_year()}-000001"

            # An urgent request for public information: 48 hours, shown with the time.
            await r.command("inforequest")
            await r.say("Петренко Оксана")
            await r.say("+38 (067) 123-45-67")
            await r.say("Результати аналізу води в Інгульці за жовтень")
            await r.press("Так")
            await r.say("Вода зі зміненим кольором, є ризик для здоров'я")
            await r.press("✅ Надіслати")
            registered = r.last_text()
            assert _number(registered) == f"ЗІ-{_year()}-000001"
            assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", registered)

            # Legal aid.
            await r.command("legalaid")
            await r.press("Трудові питання")
            await r.say("Роботодавець не виплатив заробітну плату за два місяці.")
            await r.press("Далі ➡️")
            await r.say("0671234567")
            await r.press("✅ Надіслати")
            assert _number(r.last_text()) == f"ПД-{_year()}-000001"

            feedback, appeal, info, legal = await _tickets(sessionmaker)
            resident = await find_resident(sessionmaker, r.channel, r.external_id)
            assert resident is not None
            assert all(
                t.resident_id == resident.id and t.channel == r.channel
                for t in (feedback, appeal, info, legal)
            )
            assert (feedback.kind, feedback.queue_code, feedback.anonymous) == (
                "feedback",
                "housing",
                False,
            )
            assert feedback.body == "Не працює ліфт <b>у під'їзді</b> & 🙂"
            photos = await _messages(sessionmaker, feedback.id)
            assert [m.attachment_kind for m in photos] == ["photo"]
            assert (appeal.appeal_type, appeal.queue_code) == ("complaint", "transport")
            assert (appeal.full_name, appeal.contact) == (
                "Петренко Оксана Іванівна",
                "oksana@example.com",
            )
            assert appeal.address == "Кривий Ріг, вул. Соборності, 1"
            assert (info.queue_code, info.urgent, info.contact) == (
                "public_info",
                True,
                "+380671234567",
            )
            assert info.deadline_at == info.received_at + timedelta(hours=48)
            assert (legal.queue_code, legal.category, legal.contact) == (
                "legal_aid",
                "labour",
                "+380671234567",
            )
            calendar = WorkCalendar(holidays=frozenset(), martial_law=True)
            assert appeal.deadline_at == initial_deadline(
                "appeal", appeal.received_at, calendar=calendar, zone=KYIV
            )
            assert {t.status for t in (feedback, appeal, info, legal)} == {"new"}


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_back_cancel_and_restart_in_the_middle(world_name: str, database_url: str) -> None:
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await onboard(r)
            await r.command("appeal")
            await r.press("Заява (клопотання)")
            await r.press("⬅️ Назад")
            assert "Оберіть вид звернення" in r.last_text()
            await r.press("Пропозиція (зауваження)")
            await r.press("🌳 Благоустрій")
            await r.say("Коваленко Марія")
        async with world.restart() as sessionmaker:
            # The flow continues where it was after a restart.
            await r.say("Кривий Ріг, вул. Лермонтова, 10")
            assert "Крок 5" in r.last_text()
            await r.press("✖️ Скасувати")
            assert "Нічого не надіслано" in r.last_text()
            assert await _tickets(sessionmaker) == []


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_consent_is_asked_before_personal_data(world_name: str, database_url: str) -> None:
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await onboard(r, consent=False)
            await r.command("inforequest")
            assert "згода" in r.last_text()
            await r.press("✅ Погоджуюсь")
            assert "прізвище" in r.last_text()
            resident = await find_resident(sessionmaker, r.channel, r.external_id)
            assert resident is not None and resident.has_consent
            # Feedback without consent is anonymous and does not ask.
            await r.press("✖️ Скасувати")
            await r.press("⚙️ Налаштування")
            await r.press("🔐 Відкликати згоду")
            await r.command("feedback")
            await r.press("Інше")
            await r.say("Дякую за новий парк!")
            await r.press("Далі ➡️")
            assert "Перевірте" in r.last_text()
            await r.press("✅ Надіслати")
            (ticket,) = await _tickets(sessionmaker)
            assert ticket.anonymous and ticket.full_name is None


async def test_flood_limit_keeps_the_draft(database_url: str) -> None:
    async with WORLDS["viber"](database_url, tickets_per_hour=1) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await onboard(r)
            for text in ("Перший відгук про парк", "Другий відгук про парк"):
                await r.command("feedback")
                if "годину" in r.last_text():
                    break
                await r.press("Інше")
                await r.say(text)
                await r.press("Далі ➡️")
                await r.press("Так")
                await r.press("✅ Надіслати")
            assert "за останню годину" in r.last_text()
            assert len(await _tickets(sessionmaker)) == 1


async def test_flood_limit_at_submit_keeps_the_draft(database_url: str) -> None:
    """Two drafts started before either was sent: the second submit is refused, the draft stays."""
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(
            database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url, tickets_per_hour=1
        )
        async with running_bot(settings) as runtime:
            r = ViberResident(fake, "flood==")
            await onboard(r)
            await r.command("feedback")
            await r.press("Інше")
            await r.say("Відгук номер один")
            await r.press("Далі ➡️")
            await r.press("Так")
            # Simulate a ticket filed meanwhile (e.g. from another device of the same identity).
            async with runtime.sessionmaker() as session, session.begin():
                resident = (await session.scalars(select(Resident))).one()
                session.add(
                    Ticket(
                        number="ВД-2000-000009",
                        kind="feedback",
                        status="new",
                        resident_id=resident.id,
                        channel="viber",
                        queue_code="other",
                        received_at=datetime.now(UTC),
                        created_at=datetime.now(UTC),
                        updated_at=datetime.now(UTC),
                    )
                )
            await r.press("✅ Надіслати")
            assert "за останню годину" in r.last_text()
            async with runtime.sessionmaker() as session:
                state = (await session.scalars(select(ConversationState))).one()
            assert state.step == "confirm" and state.data["answers"]["body"] == "Відгук номер один"


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_my_tickets_follow_up_rating_mydata_and_forget(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await onboard(r)
            await r.command("mytickets")
            assert "ще немає звернень" in r.last_text()
            await r.command("appeal")
            await r.press("Заява (клопотання)")
            await r.press("🤝 Соціальний захист")
            await r.say("Сидоренко Петро")
            await r.say("м. Кривий Ріг, вул. Металургів, 5")
            await r.say("Прошу призначити субсидію на опалення, документи додаю.")
            await r.press("Далі ➡️")
            await r.say("petro@example.org")
            await r.press("✅ Надіслати")
            number = _number(r.last_text())

            await r.press("📂 Мої звернення")
            await r.press(f"{number} · Зареєстровано")
            assert number in r.last_text() and "Прошу призначити субсидію" in r.last_text()
            await r.press("✍️ Дописати")
            await r.say("Додаю номер особового рахунку: 12345")
            assert "Додано до звернення" in r.last_text()
            await r.command("mytickets")
            await r.press(f"{number} · Зареєстровано")
            await r.press("✍️ Дописати")
            await r.location(47.91, 33.39)
            (ticket,) = await _tickets(sessionmaker)
            thread = await _messages(sessionmaker, ticket.id)
            assert [(m.direction, m.text, m.attachment_kind) for m in thread] == [
                ("resident", "Додаю номер особового рахунку: 12345", None),
                ("resident", None, "location"),
            ]

            # Staff closed it (the staff side is tested elsewhere): the resident says it is
            # resolved (tests/test_closure.py), then rates it.
            async with sessionmaker() as session, session.begin():
                stored = await session.get(Ticket, ticket.id)
                assert stored is not None
                stored.status, stored.closed_at = "closed", datetime.now(UTC)
            await r.command("mytickets")
            await r.press(f"{number} · Закрито")
            await r.press("✅ Так, вирішено")
            await r.press("⭐⭐⭐⭐")
            assert "коментар" in r.last_text()
            await r.say("Швидко і ввічливо")
            assert "Дякуємо" in r.last_text()
            async with sessionmaker() as session:
                rated = await session.get(Ticket, ticket.id)
                assert rated is not None and (rated.rating, rated.rating_comment) == (
                    4,
                    "Швидко і ввічливо",
                )

            await r.command("mydata")
            assert "Що ми зберігаємо" in r.texts()[-2]
            assert '"number": "' + number in r.last_text()
            assert "Сидоренко Петро" in r.last_text()

            await r.command("forget")
            await r.press("🗑 Так, видалити")
            assert "видалено" in r.last_text()
            async with sessionmaker() as session:
                erased = await session.get(Ticket, ticket.id)
                assert erased is not None
                assert (erased.number, erased.kind, erased.status) == (number, "appeal", "closed")
                assert erased.full_name is erased.address is erased.contact is erased.body is None
                assert erased.rating_comment is None and erased.erased_at is not None
                messages = (await session.scalars(select(TicketMessage))).all()
                assert all(m.text is None and m.attachment_ref is None for m in messages)
                resident = await find_resident(sessionmaker, r.channel, r.external_id)
                assert resident is not None and resident.name is None and not resident.has_consent
                actions = (await session.scalars(select(AuditEntry.action))).all()
                assert "resident.forget" in actions and "ticket.filed" in actions


async def test_a_resident_cannot_open_someone_elses_ticket(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            owner = ViberResident(fake, "owner==")
            await onboard(owner)
            await owner.command("feedback")
            await owner.press("Інше")
            await owner.say("Приватне: моя адреса вул. Таємна, 7")
            await owner.press("Далі ➡️")
            await owner.press("Ні")
            await owner.press("✅ Надіслати")
            (ticket,) = await _tickets(runtime.sessionmaker)
            intruder = ViberResident(fake, "intruder==")
            await onboard(intruder)
            for forged in (
                f"act:myopen:{ticket.id}",
                f"act:mywrite:{ticket.id}",
                f"act:rate:{ticket.id}:5",
            ):
                await intruder.say(forged)
                assert "не знайдено" in intruder.last_text()
                assert "Таємна" not in intruder.last_text()
            assert len(await _messages(runtime.sessionmaker, ticket.id)) == 0


async def test_banned_resident_cannot_file(database_url: str) -> None:
    async with WORLDS["viber"](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await onboard(r)
            async with sessionmaker() as session, session.begin():
                resident = (await session.scalars(select(Resident))).one()
                resident.banned_at = datetime.now(UTC)
            await r.command("feedback")
            assert "обмежено" in r.last_text()
            assert await _tickets(sessionmaker) == []


async def test_long_text_gets_a_clear_answer(database_url: str) -> None:
    async with WORLDS["viber"](database_url) as world:
        r = world.resident
        async with world.restart():
            await onboard(r)
            await r.command("feedback")
            await r.press("Інше")
            await r.say("я" * 5000)
            assert "Задовго: 5000" in r.last_text()
            await r.say("   ")
            assert "Порожнє" in r.last_text()


async def test_the_same_submit_delivered_twice_files_one_ticket(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            r = ViberResident(fake, "twice==")
            await onboard(r)
            await r.command("feedback")
            await r.press("Інше")
            await r.say("Відгук, надісланий двічі мережею")
            await r.press("Далі ➡️")
            await r.press("Так")
            status = await fake.send_text(r.external_id, "act:form:submit", message_token=424242)
            assert status == 200
            assert (
                await fake.send_text(r.external_id, "act:form:submit", message_token=424242) == 200
            )
            assert await fake.replay() == 200
            assert len(await _tickets(runtime.sessionmaker)) == 1
            assert sum("Зареєстровано" in t for t in r.texts()) == 1
