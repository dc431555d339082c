"""Consultation drafts and the organisation registry in Chromium, with the keyboard alone: an
editor opens the new-draft form from the consultations list, leaves the title empty and sees
the problem next to it (the rest kept), writes the draft and saves it; then adds an
organisation to the registry. No accessibility violation on any page, no script or CSP error.
SQLite only (the HTTP tests run both databases)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page
from sqlalchemy import select

from storage import consultations
from storage.models import Consultation, Organisation
from storage.vocabulary import Role
from tests.chromium import SHARED_BROWSER, chromium
from tests.desk_browser import DESKTOP, check_a11y, open_tab, sign_in
from tests.desk_world import desk_world
from tests.test_desk_incidents_browser import _tab_to

pytestmark = [pytest.mark.migrated_database, *SHARED_BROWSER]


async def _enter(page: Page, selector: str) -> None:
    """Follow the link or press the button ``selector`` with the keyboard."""
    await _tab_to(page, selector)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def _type(page: Page, selector: str, text: str) -> None:
    await _tab_to(page, selector)
    await page.keyboard.type(text)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_write_a_draft_and_add_an_organisation_with_the_keyboard(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        olena = await world.account("olena", Role.EDITOR, name="Олена Редактор")
        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, olena)
        page = tab.page

        await page.locator("main").focus()
        await _enter(page, 'a[href="/desk/consultations"]')
        await _enter(page, 'a[href="/desk/consultations/new"]')
        await page.get_by_role("heading", name="Нове обговорення").wait_for()
        await check_a11y(page)

        # The summary and a question, but no title: the form comes back with the problem.
        await _type(page, "#summary", "Проєкт змінює правила прибирання дворів 🧹.")
        await _type(page, "#questions", "Чи підтримуєте? | Так | Ні")
        await page.keyboard.press("Enter")
        await page.keyboard.type("Що змінити?")
        # ``required`` would stop an empty title in the browser: a title of spaces passes it
        # and the server refuses it.
        await page.locator("main").focus()
        await _type(page, "#title", "   ")
        await _enter(page, 'button[type="submit"].primary')
        await page.locator("#title-error").wait_for()
        assert await page.locator("#summary").input_value() == (
            "Проєкт змінює правила прибирання дворів 🧹."
        )
        await check_a11y(page)

        await page.locator("main").focus()
        await _tab_to(page, "#title")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("Правила благоустрою")
        await _tab_to(page, 'input[name="districts"][value="pokrovskyi"]')
        await page.keyboard.press("Space")
        await _enter(page, 'button[type="submit"].primary')
        await page.get_by_text("Чернетку збережено").wait_for()
        await check_a11y(page)
        async with world.runtime.sessionmaker() as session:
            [item] = (await session.scalars(select(Consultation))).all()
            questions = await consultations.questions_of(session, item.id)
        assert item.title == "Правила благоустрою" and item.districts == ["pokrovskyi"]
        assert [q.text for q in questions] == ["Чи підтримуєте?", "Що змінити?"]

        await _enter(page, 'a[href="/desk/consultations"]')
        await _enter(page, 'a[href="/desk/organisations"]')
        await check_a11y(page)
        await _enter(page, 'a[href="/desk/organisations/new"]')
        await check_a11y(page)
        await _type(page, "#name", "ГО «Зелене місто»")
        await _type(page, "#contact_person", "Марія Коваль")
        await _tab_to(page, 'input[name="topics"][value="decisions"]')
        await page.keyboard.press("Space")
        await _enter(page, 'button[type="submit"].primary')
        await page.get_by_text("Організацію додано").wait_for()
        await check_a11y(page)
        # The one refused form logs its 422; nothing else (no script or CSP error).
        [refused] = tab.errors
        assert "status of 422" in refused
        async with world.runtime.sessionmaker() as session:
            [organisation] = (await session.scalars(select(Organisation))).all()
        assert organisation.name == "ГО «Зелене місто»" and organisation.topics == ["decisions"]
        assert organisation.contact_person == "Марія Коваль"
