"""Nothing a token, a webhook secret or a resident owns reaches the log at INFO or above, in
either format (``CITYBOT_LOG_FORMAT``): a realistic day — a Telegram resident files an appeal
with their name, address, an e-mail in the text and a shared phone contact through the webhook
and its secret, staff answer in the ticket's topic, a Viber resident writes — with the root
logger at INFO and the process's own handlers (``bot.logs``)."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from bot.config import LogFormat
from bot.logs import (
    TEXT_FORMAT,
    ContextFilter,
    JsonFormatter,
    RedactingFormatter,
    quiet_libraries,
    secrets_of,
)
from storage.models import Ticket
from tests.conftest import pg_database
from tests.harness import (
    TELEGRAM_TOKEN,
    VIBER_TOKEN,
    WEBHOOK_SECRET,
    TelegramResident,
    ViberResident,
    bot_settings,
    onboard,
)
from tests.staff_world import OPERATOR, TG_RESIDENT, staff_world

FULL_NAME = "Коваленко Марія Степанівна"
ADDRESS = "Кривий Ріг, вул. Гетьманська, 17"
EMAIL = "maria.kovalenko@example.net"
BODY = f"Прорвало трубу опалення у підвалі, пишіть на {EMAIL} будь ласка"
PHONE = "+380971112233"
ANSWER = "Аварійна бригада приїде до обіду четверга"
VIBER_ID = "Vb3rLogTest00000000000=="
VIBER_NAME = "Ганна Мельничук"
VIBER_TEXT = "Сміттєві баки на Гагаріна не вивозили тиждень"

SECRETS = {
    "Telegram token": TELEGRAM_TOKEN,
    "Telegram token's secret part": TELEGRAM_TOKEN.split(":", 1)[1],
    "Viber token": VIBER_TOKEN,
    "webhook secret": WEBHOOK_SECRET,
    "full name": FULL_NAME,
    "surname": "Коваленко",
    "Telegram profile name": "Петренко",
    "Viber name": VIBER_NAME,
    "address": "Гетьманська",
    "e-mail": EMAIL,
    "e-mail's user": "maria.kovalenko",
    "phone": PHONE,
    "phone's digits": PHONE[-9:],
    "message text": "Прорвало трубу",
    "staff answer": "Аварійна бригада",
    "Viber text": "Сміттєві баки",
}


@contextmanager
def _captured() -> Iterator[dict[LogFormat, io.StringIO]]:
    """Both formats of ``bot.logs`` on the root logger at INFO, as ``citybot run`` has it."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    quiet_libraries()  # as the command does
    outputs = {fmt: io.StringIO() for fmt in LogFormat}
    handlers = []
    for fmt, stream in outputs.items():
        handler = logging.StreamHandler(stream)
        handler.addFilter(ContextFilter())
        handler.setFormatter(
            JsonFormatter() if fmt is LogFormat.JSON else logging.Formatter(TEXT_FORMAT)
        )
        handler.setLevel(logging.INFO)
        root.addHandler(handler)
        handlers.append(handler)
    try:
        yield outputs
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(level)


async def test_no_secret_and_no_personal_data_is_logged_at_info() -> None:
    with _captured() as outputs:
        async with pg_database() as url, staff_world(url, forum=True, viber=True) as world:
            resident = TelegramResident(world.telegram, TG_RESIDENT, polling=False)
            await onboard(resident)
            await resident.command("appeal")
            await resident.press("Скарга")
            await resident.press("🏠 Житло та комунальні послуги")
            await resident.say(FULL_NAME)
            await resident.say(ADDRESS)
            await resident.say(BODY)
            await resident.press("Далі ➡️")
            shared = await world.telegram.send_contact(TG_RESIDENT, PHONE)
            assert shared.status == 200
            await resident.press("✅ Надіслати")
            number = re.search(r"ЗВ-\d{4}-\d{6}", resident.last_text())
            assert number is not None, resident.last_text()
            async with world.runtime.sessionmaker() as session:
                ticket = await session.scalar(select(Ticket).where(Ticket.number == number[0]))
            assert ticket is not None and ticket.contact == PHONE
            assert ticket.thread_id is not None
            await world.say(OPERATOR, ANSWER, thread_id=ticket.thread_id)
            assert ANSWER in resident.last_text()

            assert world.viber is not None
            viber = ViberResident(world.viber, VIBER_ID, name=VIBER_NAME)
            await onboard(viber)
            # A reply that fails on the way out is logged, and kept to be sent again.
            world.viber.fail_next("send_message", http_status=503)
            await viber.say(VIBER_TEXT)
            world.viber.fail_next("send_message", status=3)
            await viber.say(VIBER_TEXT)

    text, lines = outputs[LogFormat.TEXT].getvalue(), outputs[LogFormat.JSON].getvalue()
    # The scenario was logged (not a silent logger), and in the expected shapes.
    assert "update=telegram:" in text and "update=viber:" in text
    records = [json.loads(line) for line in lines.splitlines()]
    assert len(records) == len(text.splitlines()) > 5
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r.get("update", "").startswith("telegram:") for r in records)
    assert any(r.get("ticket") == number[0] for r in records)
    # Staff updates too (they do not go through the residents' pipeline).
    staff = [r for r in records if r.get("ticket") and r["logger"] == "aiogram.event"]
    assert staff and all(r.get("update", "").startswith("telegram:") for r in staff)
    for output in (text, lines):
        for what, secret in SECRETS.items():
            found = [line for line in output.splitlines() if secret in line]
            assert not found, f"{what} logged: {found[:3]}"


def test_the_configured_secrets_are_blanked_out_of_every_line_as_a_safety_net() -> None:
    """Under the messages themselves (tested above without it): what a library quotes in an
    exception, such as aiohttp's request URL with the Bot API token in its path."""
    settings = bot_settings(
        "postgresql+asyncpg://citybot:db-Password-42@db.example/citybot",
        telegram_token=TELEGRAM_TOKEN,
        viber_token=VIBER_TOKEN,
        telegram_mode="webhook",
    )
    secrets = secrets_of(settings)
    url = f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/getMe"
    try:
        raise ConnectionError(f"{url} (db-Password-42, {VIBER_TOKEN}, {WEBHOOK_SECRET})")
    except ConnectionError:
        record = logging.getLogger("aiogram").makeRecord(
            "aiogram", logging.ERROR, __file__, 1, "failed: %s", (url,), sys.exc_info()
        )
    for inner in (logging.Formatter(TEXT_FORMAT), JsonFormatter()):
        ContextFilter().filter(record)
        line = RedactingFormatter(inner, secrets).format(record)
        record.exc_text = None  # formatted afresh by the next formatter
        assert "failed: https://api.telegram.org/bot[REDACTED]/getMe" in line
        assert "ConnectionError" in line and "[REDACTED]" in line
        for secret in (TELEGRAM_TOKEN, SECRETS["Telegram token's secret part"], VIBER_TOKEN):
            assert secret not in line
        assert "db-Password-42" not in line and WEBHOOK_SECRET not in line
