"""What a resident writes with a photo, a document or a video (its caption) is kept with the
file: in the ticket's thread, in the copies staff get, in /mydata — and erased by /forget. In
Telegram and Viber, on SQLite and PostgreSQL, at the attachments step and in a follow-up."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from storage.models import Ticket
from tests.harness import TelegramResident, ViberResident, onboard
from tests.staff_world import TG_RESIDENT, VIBER_RESIDENT, World, staff_world

pytestmark = pytest.mark.migrated_database

PHOTO = "Яма біля під'їзду № 3 <глибока> & небезпечна"
DOCUMENT = "Акт обстеження від ЖЕКу"
VIDEO = "Так вода тече з даху"
FOLLOW_UP = "Квитанція про оплату за жовтень"


def _resident(world: World, channel: str) -> TelegramResident | ViberResident:
    if channel == "viber":
        assert world.viber is not None
        return ViberResident(world.viber, VIBER_RESIDENT)
    return TelegramResident(world.telegram, TG_RESIDENT, polling=False)


async def _staff_got(world: World, *texts: str) -> list[str]:
    """The staff chat's texts and captions once every one of ``texts`` is among them."""
    for _ in range(200):
        shown = world.texts()
        if all(any(text in item for item in shown) for text in texts):
            return shown
        await asyncio.sleep(0.05)
    raise AssertionError(f"staff did not get {texts}: {world.texts()}")


async def _ticket(world: World) -> Ticket:
    async with world.runtime.sessionmaker() as session:
        return (await session.scalars(select(Ticket))).one()


@pytest.mark.parametrize("channel", ["telegram", "viber"])
async def test_captions_are_kept_shown_to_staff_and_erased(channel: str, database_url: str) -> None:
    async with staff_world(database_url, viber=True) as world:
        r = _resident(world, channel)
        await onboard(r)
        await r.command("feedback")
        await r.press("🏠 Житло та комунальні послуги")
        await r.say("Тече дах над квартирою 12, прошу допомогти.")
        await r.photo(caption=PHOTO)
        await r.document(caption=DOCUMENT, file_name="akt.pdf")
        await r.video(caption=VIDEO)
        assert "усього 3" in r.last_text()
        await r.press("Далі ➡️")
        await r.press("Ні")
        await r.press("✅ Надіслати")
        number = re.search(r"ВД-\d{4}-\d{6}", r.last_text())
        assert number, r.last_text()

        ticket = await _ticket(world)
        thread = await world.thread(ticket.id)
        assert [(m.attachment_kind, m.text) for m in thread] == [
            ("photo", PHOTO),
            ("document", DOCUMENT),
            ("video", VIDEO),
        ]
        # Staff get each file with its caption (escaped), in the ticket's topic.
        shown = await _staff_got(world, PHOTO, DOCUMENT, VIDEO)
        assert any("відео" in text for text in shown), shown  # the card lists the video
        assert world.telegram.calls_to("sendVideo")

        # A follow-up with a captioned document.
        await r.press("📂 Мої звернення")
        await r.press(f"{number.group(0)} · Зареєстровано")
        await r.press("✍️ Дописати")
        await r.document(caption=FOLLOW_UP, file_name="receipt.pdf")
        assert "Додано до звернення" in r.last_text()
        thread = await world.thread(ticket.id)
        assert (thread[-1].attachment_kind, thread[-1].text) == ("document", FOLLOW_UP)
        await _staff_got(world, FOLLOW_UP)

        await r.command("mydata")
        for caption in (PHOTO, DOCUMENT, VIDEO):
            assert caption in r.last_text()
        assert FOLLOW_UP in r.last_text()

        await r.command("forget")
        await r.press("🗑 Так, видалити")
        assert "видалено" in r.last_text()
        thread = await world.thread(ticket.id)
        assert len(thread) == 4
        assert all(m.text is None and m.attachment_ref is None for m in thread)
        await r.command("mydata")
        assert DOCUMENT not in r.last_text() and FOLLOW_UP not in r.last_text()
