"""The ticket page in Chromium: a ticket filed from Viber found in the queue and answered with
a picture that reaches the resident in Viber; answering and closing a ticket with the keyboard
alone (Tab and Enter); no accessibility violation at a laptop's and a phone's width, no script
error and no CSP violation."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import FilePayload, Page
from sqlalchemy import select

from storage.models import Ticket
from storage.vocabulary import Role
from tests.chromium import SHARED_BROWSER, chromium
from tests.desk_browser import DESKTOP, PHONE, check_a11y, open_tab, sign_in, wait_until
from tests.desk_world import VIBER_RESIDENT, DeskWorld, desk_world
from tests.harness import ViberResident, onboard
from tests.test_desk_ticket import PNG

pytestmark = [pytest.mark.migrated_database, *SHARED_BROWSER]

# Every photo in the thread loaded and decoded (the page's heading shows before they do).
IMAGES_LOADED = (
    "[...document.querySelectorAll('img.photo')].every(i => i.complete && i.naturalWidth > 0)"
)


async def viber_ticket(world: DeskWorld) -> Ticket:
    world.viber.user(VIBER_RESIDENT, name="Марія", subscribed=True)
    ticket_id = await world.file(name="Оксана Петренко")
    async with world.runtime.sessionmaker() as session:
        ticket = await session.get(Ticket, ticket_id)
    assert ticket is not None
    return ticket


async def tab_to(page: Page, script: str, *, limit: int = 80) -> None:
    """Press Tab until ``script`` (about ``document.activeElement``) holds."""
    for _ in range(limit):
        if await page.evaluate(script):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached: {script}")


async def filed_from_viber(world: DeskWorld) -> Ticket:
    """A resident files a ticket with a photo through the Viber bot, as a person would."""
    resident = ViberResident(world.viber, VIBER_RESIDENT)
    await onboard(resident)
    await resident.command("feedback")
    await resident.press("🏠 Житло та комунальні послуги")
    await resident.say("Тече дах над квартирою 12, прошу допомогти.")
    await resident.photo(caption="Ось так тече")
    await resident.press("Далі ➡️")
    await resident.press("Ні")
    await resident.press("✅ Надіслати")
    async with world.runtime.sessionmaker() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert ticket.channel == "viber"
    return ticket


async def test_answering_a_viber_ticket_with_a_picture(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        ticket = await filed_from_viber(world)
        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, maria)
        page = tab.page
        await page.get_by_role("link", name=ticket.number).click()
        await page.get_by_role("heading", name=f"Звернення {ticket.number}").wait_for()
        # The resident's photo (the copy the bot kept from Viber) is shown in the thread.
        assert "Ось так тече" in await page.locator("[data-live=thread]").inner_text()
        await wait_until(page, IMAGES_LOADED)
        await check_a11y(page)
        await page.get_by_label("Текст відповіді").fill("Ось схема ремонту")
        await page.get_by_label("Файл (фото або документ)").set_input_files(
            files=[FilePayload(name="схема.png", mimeType="image/png", buffer=PNG)]
        )
        await page.get_by_role("button", name="Надіслати відповідь").click()
        await page.get_by_text("Відповідь надіслано заявникові.").wait_for()
        # The picture is on the page, and the resident got it in Viber.
        assert await page.locator("img.photo").count() == 2
        await wait_until(page, IMAGES_LOADED)
        widths = await page.evaluate(
            "[...document.querySelectorAll('img.photo')].map(i => i.naturalWidth)"
        )
        assert widths[-1] == 1
        pictures = [m for m in world.viber.messages(VIBER_RESIDENT) if m["type"] == "picture"]
        assert pictures, world.viber.messages(VIBER_RESIDENT)
        async with aiohttp.ClientSession() as http, http.get(pictures[-1]["media"]) as response:
            assert response.status == 200 and await response.read() == PNG
        assert "Ось схема ремонту" in " ".join(world.viber.texts(VIBER_RESIDENT))
        await check_a11y(page)
        assert tab.errors == []


async def test_answering_and_closing_with_the_keyboard_alone(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        ticket = await viber_ticket(world)
        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, maria)
        page = tab.page
        # From the queue to the ticket: Tab to its link, Enter.
        await tab_to(page, f"document.activeElement.textContent === {ticket.number!r}")
        await page.keyboard.press("Enter")
        await page.get_by_role("heading", name=f"Звернення {ticket.number}").wait_for()
        await tab_to(page, "document.activeElement.id === 'answer-text'")
        await page.keyboard.type("Відповідь з клавіатури")
        await tab_to(page, "document.activeElement.textContent.trim() === 'Надіслати відповідь'")
        await page.keyboard.press("Enter")
        await page.get_by_text("Відповідь надіслано заявникові.").wait_for()
        assert "Відповідь з клавіатури" in world.viber.texts(VIBER_RESIDENT)[-1]
        await tab_to(page, "document.activeElement.textContent.trim() === 'Закрити звернення'")
        await page.keyboard.press("Enter")
        await page.get_by_text("Звернення закрито.").wait_for()
        async with world.runtime.sessionmaker() as session:
            closed = await session.get(Ticket, ticket.id)
        assert closed is not None and closed.status == "closed"
        await check_a11y(page)
        assert tab.errors == []


async def test_the_ticket_page_at_a_phone_width(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        ticket = await viber_ticket(world)
        tab = await open_tab(browser, world, viewport=PHONE)
        await sign_in(tab, world, maria)
        page = tab.page
        await page.goto(f"{world.base}/desk/tickets/{ticket.id}")
        await page.get_by_role("heading", name=f"Звернення {ticket.number}").wait_for()
        # Nothing wider than the screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await check_a11y(page)
        # A refusal is shown in words on the page (an empty note).
        await page.get_by_role("button", name="Зберегти нотатку").click()
        await page.get_by_role("alert").wait_for()
        assert "Текст порожній" in await page.get_by_role("alert").inner_text()
        await check_a11y(page)
        # The refused form's 422 is the browser's only complaint (no script or CSP error).
        assert [e for e in tab.errors if "status of 422" not in e] == []
