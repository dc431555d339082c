"""One resident's input must not stall everyone: text the database cannot hold is cleaned or
refused with a message before it is stored, data the database refuses anyway is apologised for
and confirmed (never redelivered forever), and none of it reaches the log. Over the fake
messengers, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.telegram import FakeTelegram, SimUpdate
from bot.sandbox.fakes.viber import FakeViber
from messaging.contract import telegram_update_key
from storage.db import create_engine, is_sqlite
from storage.models import AuditEntry, ProcessedUpdate, Resident, Ticket
from tests.harness import (
    TELEGRAM_TOKEN,
    VIBER_TOKEN,
    TelegramResident,
    ViberResident,
    bot_settings,
    onboard,
    running_bot,
)
from tests.staff_world import OPERATOR, staff_world

pytestmark = pytest.mark.migrated_database

APOLOGY = "сталася помилка"
# What the poisoned resident types: none of it may appear in the log.
NAME = "Поліна Отрутенко"
ADDRESS = "вул. Таємнича, 13, кв. 7, м. Кривий Ріг, 50000"
MARKER = "ОТРУТА"
BODY = f"{MARKER}: прошу надати копію рішення про ремонт даху будинку 13"
PERSONAL = (NAME, "Отрутенко", ADDRESS, "Таємнича", BODY, MARKER)
# Another resident must be answered this soon after writing, whatever the poisoned one sent.
PROMPT = 3.0


async def refuse_marked(
    database_url: str, table: str = "tickets", checked: str = "body", quoted: str = "full_name"
) -> None:
    """Make the database itself refuse a row of ``table`` whose ``checked`` text carries
    ``MARKER``.

    No resident input reaches the database unfit any more (the forms' limits fit the columns,
    text is cleaned where an event is built), so the test has the database refuse one, as it
    refuses a value too long or an invalid byte sequence. PostgreSQL casts ``quoted`` to an
    integer (SQLSTATE 22P02, whose message quotes the value); SQLite asks for a blob over its
    length limit (SQLITE_TOOBIG, a DataError)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            if is_sqlite(database_url):
                await connection.execute(
                    text(
                        f"CREATE TRIGGER refuse_marked BEFORE INSERT ON {table}"
                        f" WHEN instr(NEW.{checked}, '{MARKER}') > 0"
                        " BEGIN SELECT zeroblob(2000000000); END"
                    )
                )
            else:
                await connection.execute(
                    text(
                        "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$"
                        f" BEGIN IF position('{MARKER}' in NEW.{checked}) > 0 THEN"
                        f" PERFORM NEW.{quoted}::integer; END IF; RETURN NEW; END $$"
                    )
                )
                await connection.execute(
                    text(
                        f"CREATE TRIGGER refuse_marked BEFORE INSERT ON {table}"
                        " FOR EACH ROW EXECUTE FUNCTION refuse_marked()"
                    )
                )
    finally:
        await engine.dispose()


def assert_not_logged(records: Iterable[logging.LogRecord], values: Iterable[str]) -> None:
    """None of ``values`` in any record's formatted message or exception text (the fake
    messengers' own records aside: they stand for Telegram's and Viber's servers)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    checked = 0
    for record in records:
        if record.name.startswith("bot.sandbox"):
            continue
        logged = formatter.format(record)
        checked += 1
        for value in values:
            assert value not in logged, f"{value!r} logged by {record.name}:\n{logged[:2000]}"
    assert checked, "nothing was logged at all: is the log captured?"


async def _failures(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.action == "handler.failed")
        return list((await session.scalars(query)).all())


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _fill_info_request(resident: TelegramResident | ViberResident) -> None:
    """Everything of a request for information up to the confirmation screen."""
    await resident.command("inforequest")
    await resident.say(NAME)
    await resident.say(ADDRESS)
    await resident.say(BODY)
    await resident.press("Ні")
    assert "Перевірте" in resident.last_text()


async def _press_without_waiting(fake: FakeTelegram, user_id: int, label: str) -> SimUpdate:
    for message in reversed(fake.messages(user_id)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("text") == label:
                    return await fake.press_button(
                        user_id, message["message_id"], button["callback_data"]
                    )
    raise LookupError(label)


async def _confirmed(fake: FakeTelegram, update_id: int, within: float) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while any(u.get("update_id") == update_id for u in fake.pending_updates()):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_polling_a_refused_update_is_apologised_for_confirmed_and_holds_up_nobody(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=fake.base_url,
            telegram_mode="polling",
        )
        async with running_bot(settings) as runtime:
            poisoned = TelegramResident(fake, 7001, polling=True)
            other = TelegramResident(fake, 7002, polling=True)
            await onboard(poisoned)
            await _fill_info_request(poisoned)
            await refuse_marked(database_url)
            before = len(fake.messages(7001))

            poison = await _press_without_waiting(fake, 7001, "✅ Надіслати")
            await fake.send_text(7002, "/help")
            # The other resident is answered at once, not after the poller's back-off.
            await fake.wait_for_messages(7002, 1, timeout=PROMPT)
            # The poisoned update is answered with an apology and confirmed.
            assert await _confirmed(fake, poison["update_id"], PROMPT), fake.pending_updates()
            await fake.wait_for_messages(7001, before + 1, timeout=PROMPT)
            assert APOLOGY in poisoned.last_text()
            assert fake.pending_updates() == []
            # The other resident's next message is not held up either.
            await other.say("/help")
            assert len(fake.messages(7002)) == 2

            sessionmaker = runtime.sessionmaker
            assert await _count(sessionmaker, Ticket) == 0
            [failure] = await _failures(sessionmaker)
            key = telegram_update_key(int(TELEGRAM_TOKEN.split(":")[0]), poison["update_id"])
            assert failure.subject == f"telegram:{key}"
            reason = failure.details["reason"]
            assert ("DataError" in reason) if is_sqlite(database_url) else ("22P02" in reason)
            assert not any(value in str(failure.details) for value in PERSONAL)
            async with sessionmaker() as session:
                claim = await session.get(ProcessedUpdate, ("telegram", key))
            assert claim is not None
    assert_not_logged(caplog.records, PERSONAL)


async def test_viber_a_refused_update_is_answered_200_with_an_apology_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            poisoned = ViberResident(fake, "poisonedResidentId000A==", name=NAME)
            other = ViberResident(fake, "otherResidentId0000000B==", name="Богдан Коваль")
            await onboard(poisoned)
            await _fill_info_request(poisoned)
            await refuse_marked(database_url)
            before = len(fake.messages(poisoned.external_id))

            # A 200, not a 500: Viber does not deliver it again and again.
            assert await fake.press_button(poisoned.external_id, "✅ Надіслати") == 200
            assert fake.pending_callbacks == []
            assert len(fake.messages(poisoned.external_id)) == before + 1
            assert APOLOGY in poisoned.last_text()
            # Viber shows the last message's keyboard: the apology keeps the step's buttons.
            assert "✅ Надіслати" in poisoned.labels()
            # Delivered again anyway (the same bytes): a no-op, no second apology.
            assert await fake.replay() == 200
            assert len(fake.messages(poisoned.external_id)) == before + 1

            await other.say("/help")
            assert len(fake.messages(other.external_id)) == 1

            assert await _count(runtime.sessionmaker, Ticket) == 0
            [failure] = await _failures(runtime.sessionmaker)
            assert failure.subject is not None and failure.subject.startswith("viber:message:")
            assert not any(value in str(failure.details) for value in PERSONAL)
    assert_not_logged(caplog.records, PERSONAL)


async def test_polling_nul_in_a_name_and_a_text_is_cleaned_and_holds_up_nobody(
    database_url: str,
) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=fake.base_url,
            telegram_mode="polling",
        )
        async with running_bot(settings) as runtime:
            fake.user(7101, first_name="Ок\x00сана", last_name="Петренко")
            fake.user(7102, first_name="Богдан")
            first = await fake.send_text(7101, "/start")
            await fake.send_text(7102, "/start")
            await fake.wait_for_messages(7102, 1, timeout=PROMPT)
            assert await _confirmed(fake, first["update_id"], PROMPT), fake.pending_updates()
            resident = TelegramResident(fake, 7101, polling=True)
            fake.user(7101, first_name="Ок\x00сана", last_name="Петренко")
            async with runtime.sessionmaker() as session:
                names = set((await session.scalars(select(Resident.name))).all())
            assert names == {"Оксана Петренко", "Богдан"}

            # A NUL in a ticket's text: the ticket is filed without it.
            await resident.press("Продовжити без згоди")
            await resident.press("Українська")
            await resident.press("Готово ✔️")
            await resident.press("Усе місто")
            await resident.press("✍️ Звернутися")
            await resident.press("💬 Відгук або питання")
            await resident.press("🏠 Житло та комунальні послуги")
            await resident.say("Не працює\x00 ліфт у під'їзді")
            await resident.press("Далі ➡️")
            await resident.press("✅ Надіслати")
            assert "ВД-" in resident.last_text()
            assert fake.pending_updates() == []
            async with runtime.sessionmaker() as session:
                body = await session.scalar(select(Ticket.body))
            assert body == "Не працює ліфт у під'їзді"


async def test_viber_a_postal_address_longer_than_its_column_is_refused_with_a_message(
    database_url: str,
) -> None:
    """The issue's case: a 290-character postal address, allowed by the form (500), did not fit
    tickets.contact (256): PostgreSQL refused the ticket on every redelivery."""
    long_address = ("вул. Дуже Довга, буд. 1, кв. 2, м. Кривий Ріг, 50000; " * 6)[:290]
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            resident = ViberResident(fake, "longAddressResident00A==")
            await onboard(resident)
            await resident.command("inforequest")
            await resident.say("Петренко Оксана")
            await resident.say(long_address)
            told = resident.last_text()
            assert "Адреса задовга: 290 символів, можна до 256" in told, told
            await resident.say(long_address[:200])
            await resident.say("Копія рішення про ремонт даху")
            await resident.press("Ні")
            await resident.press("✅ Надіслати")
            assert "ЗІ-" in resident.last_text()
            async with runtime.sessionmaker() as session:
                contact = await session.scalar(select(Ticket.contact))
            assert contact == long_address[:200].strip()
            assert await _failures(runtime.sessionmaker) == []


async def test_a_staff_answer_the_database_refuses_is_not_retried_forever(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file()
        topic = (await world.ticket(ticket_id)).thread_id
        await refuse_marked(database_url, "ticket_messages", "text", "text")
        before = len(world.resident_texts())
        # Answered 200 (world.say checks it), not 500 again and again.
        await world.say(OPERATOR, BODY, thread_id=topic)
        assert len(world.resident_texts()) == before
        assert [m for m in await world.thread(ticket_id) if m.direction == "staff"] == []
        assert world.telegram.pending_updates() == []
        # The next answer goes through.
        await world.say(OPERATOR, "Дякуємо, розглянемо до п'ятниці", thread_id=topic)
        assert len(world.resident_texts()) == before + 1
    assert_not_logged(caplog.records, (BODY, MARKER))
