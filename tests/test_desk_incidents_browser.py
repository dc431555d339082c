"""Incidents in Chromium, with the keyboard alone: an operator opens an incident from the list
and links the suggested tickets; no accessibility violation, no script or CSP error. The DB does
not matter here (tests/test_desk_incidents.py runs both): SQLite only, to keep it short."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from storage.vocabulary import Role
from tests.chromium import chromium
from tests.desk_browser import DESKTOP, check_a11y, open_tab, sign_in
from tests.desk_world import desk_world
from tests.test_desk_incidents import _file

pytestmark = pytest.mark.migrated_database


async def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Tab until the focused element matches ``selector``."""
    for _ in range(limit):
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_open_and_link_with_the_keyboard(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        for i in range(2):
            await _file(world, f"VbIncBrowser{i:012d}==", kind="feedback")
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, maria)
        page = tab.page

        await page.locator("main").focus()
        await _tab_to(page, 'a[href="/desk/incidents"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.get_by_role("heading", name="Інциденти").wait_for()
        await check_a11y(page)
        await _tab_to(page, 'a[href="/desk/incidents/new"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await check_a11y(page)

        await _tab_to(page, "#title")
        await page.keyboard.type("Немає води на Шевченка")
        await page.keyboard.press("Tab")  # the category: arrow keys choose
        while await page.evaluate("document.activeElement.value") != "housing":
            await page.keyboard.press("ArrowDown")
        await _tab_to(page, 'input[value="pokrovskyi"]')
        await page.keyboard.press("Space")
        await _tab_to(page, 'button[type="submit"].primary')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.get_by_text("Інцидент відкрито").wait_for()
        await check_a11y(page)

        # The matcher's suggestions come ticked (same category and district): link them.
        await _tab_to(page, 'form[action$="/link"] button[type="submit"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert await page.locator('[data-field="linked-count"]').inner_text() == "2"
        await check_a11y(page)
        assert tab.errors == []
