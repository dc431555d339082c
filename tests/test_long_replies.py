"""A reply longer than one message reaches the resident whole, once and in order: it is sent
message by message, spaced the way Telegram allows one chat (a short burst, then about one a
second), and a 429 half-way resumes at the first message not sent (regression: ``/mydata``
with five long tickets arrived with its first part twice and its end two minutes later)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.pacing import ChatPacer
from bot.telegram.sender import TEXT_LIMIT, telegram_parts
from bot.viber import render
from messaging.contract import Button, KeyboardKind, Media, Reply
from messaging.text import utf16_len
from storage.deadlines import TicketKind
from storage.models import ProcessedUpdate, Ticket
from storage.tickets import queue_for_new_ticket
from storage.vocabulary import TicketStatus
from tests.harness import (
    TELEGRAM_TOKEN,
    TelegramResident,
    bot_settings,
    find_resident,
    onboard,
    running_bot,
)

pytestmark = pytest.mark.migrated_database

BODY = "Прошу перевірити нарахування за опалення у будинку. " * 75  # ~3,900 characters


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_pacer_lets_a_short_burst_through_then_one_a_second() -> None:
    clock = Clock()
    pacer = ChatPacer(interval=1.0, burst=3, clock=clock)
    assert [pacer.reserve(7) for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]
    # Another chat has a burst of its own.
    assert pacer.reserve(8) == 0.0
    # After a quiet while the burst is back.
    clock.now += 10
    assert [pacer.reserve(7) for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_after_a_429_the_chat_waits_it_out_then_goes_one_at_a_time() -> None:
    clock = Clock()
    pacer = ChatPacer(interval=1.0, burst=3, clock=clock)
    pacer.hold(7, retry_after=2)
    assert [pacer.reserve(7) for _ in range(3)] == [2.0, 3.0, 4.0]


def test_a_long_reply_is_one_telegram_message_per_part_with_the_buttons_on_the_last() -> None:
    menu = ((Button("📂 Мої звернення", "my"),),)
    reply = Reply(text=("абв " * 3000).strip(), buttons=menu, keyboard=KeyboardKind.MENU)
    parts = telegram_parts(reply)
    assert len(parts) == 3
    assert all(utf16_len(part.text) <= TEXT_LIMIT for part in parts)
    assert [part.buttons for part in parts] == [(), (), menu]
    assert parts[-1].keyboard is KeyboardKind.MENU
    assert " ".join(part.text for part in parts) == reply.text
    # Parts are final: splitting one again changes nothing (owed parts are stored as parts).
    assert all(telegram_parts(part) == (part,) for part in parts)
    # A file whose text is too long for its caption goes first, alone.
    photo = Media(kind="photo", ref="AgAD-file")
    with_photo = telegram_parts(Reply(text="т" * 2000, media=photo, buttons=menu))
    assert [(p.media, p.text, p.buttons) for p in with_photo] == [
        (photo, "", ()),
        (None, "т" * 2000, menu),
    ]
    short = Reply(text="Коротко", media=photo)
    assert telegram_parts(short) == (short,)


def test_a_long_reply_is_one_viber_message_per_part() -> None:
    reply = Reply(
        text=("<b>Звернення</b> &amp; відповідь " * 700).strip(),
        buttons=((Button("Меню", "menu"),),),
    )
    parts = render.parts(reply)
    assert len(parts) > 1
    assert [len(render.messages(part)) for part in parts] == [1] * len(parts)
    whole = [m["text"] for m in render.messages(reply)]
    assert [render.messages(part)[0]["text"] for part in parts] == whole
    assert "keyboard" in render.messages(parts[-1])[0]
    assert all("keyboard" not in render.messages(part)[0] for part in parts[:-1])
    photo = Media(kind="photo", ref="https://x.test/a.jpg")
    with_photo = render.parts(Reply(text="о" * 300, media=photo))
    assert [len(render.messages(part)) for part in with_photo] == [1, 1]


@contextlib.asynccontextmanager
async def _resident_with_long_tickets(
    database_url: str, fake: FakeTelegram
) -> AsyncIterator[TelegramResident]:
    settings = bot_settings(
        database_url,
        telegram_token=TELEGRAM_TOKEN,
        telegram_api_url=fake.base_url,
        telegram_mode="webhook",
        webhook_secret="s3cr3t-Token_x-long-enough",
        # As deployed: a burst of three, then one a second.
        telegram_chat_rate=1,
        telegram_chat_burst=3,
    )
    resident = TelegramResident(fake, 5550001, polling=False)
    async with running_bot(settings) as runtime:
        await onboard(resident)
        now = datetime.now(UTC)
        stored = await find_resident(runtime.sessionmaker, "telegram", resident.external_id)
        assert stored is not None
        async with runtime.sessionmaker() as session, session.begin():
            for n in range(1, 6):
                queue = await queue_for_new_ticket(
                    session, kind=TicketKind.FEEDBACK, category="utilities"
                )
                session.add(
                    Ticket(
                        number=f"ВД-2026-{n:06d}",
                        kind=TicketKind.FEEDBACK.value,
                        status=TicketStatus.NEW.value,
                        resident_id=stored.id,
                        channel="telegram",
                        queue_code=queue,
                        category="utilities",
                        body=f"{n}: {BODY}",
                        received_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
        yield resident
        # Nothing is left for the owed-replies job: every part went out live (sent replies are
        # recorded in batches a moment later).
        for _ in range(100):
            async with runtime.sessionmaker() as session:
                owed = await session.scalars(
                    select(ProcessedUpdate.update_key).where(ProcessedUpdate.owed.is_not(None))
                )
                if not owed.all():
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("replies left owed after they were sent")


async def _mydata(resident: TelegramResident) -> list[str]:
    before = len(resident.texts())
    await resident.command("mydata")
    # The webhook is answered once the replies went out (the harness waits for them).
    return resident.texts()[before:]


def _export(texts: list[str]) -> dict[str, object]:
    assert "Що ми зберігаємо" in texts[0]
    # Parts are cut at line breaks of the indented JSON; strict=False tolerates a cut elsewhere.
    parsed = json.loads("\n".join(texts[1:]), strict=False)
    assert isinstance(parsed, dict)
    return parsed


@pytest.mark.parametrize("burst", [3, 1])
async def test_mydata_with_five_long_tickets_arrives_whole_once_and_in_order(
    database_url: str, burst: int
) -> None:
    # burst 3: Telegram's short burst then ~1/s; burst 1: a stricter chat limit than we pace
    # for, so 429s come and the reply must resume where it stopped.
    async with (
        FakeTelegram(
            TELEGRAM_TOKEN,
            per_chat_rate=1.0,
            per_chat_burst=burst,
            # The harness answers a webhook once its replies went out: seconds, here.
            webhook_timeout=60,
        ) as fake,
        _resident_with_long_tickets(database_url, fake) as resident,
    ):
        refused_before = fake.rate_limited_count
        texts = await _mydata(resident)
        assert len(texts) >= 6  # the summary and at least five parts of the export
        assert len(set(texts)) == len(texts), "a part arrived twice"
        export = _export(texts)
        tickets = export["tickets"]
        assert isinstance(tickets, list)
        assert [t["number"] for t in tickets] == [f"ВД-2026-{n:06d}" for n in range(5, 0, -1)] or [
            t["number"] for t in tickets
        ] == [f"ВД-2026-{n:06d}" for n in range(1, 6)]
        for ticket in tickets:
            assert " ".join(ticket["body"].split()) == " ".join(
                f"{ticket['number'][-1]}: {BODY}".split()
            )
        if burst == 3:
            # Paced to what the chat allows: not one refusal.
            assert fake.rate_limited_count == refused_before
