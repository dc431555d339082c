"""The desk's sign-in in Chromium: typed with the keyboard alone, at a laptop's and a phone's
width, with no accessibility violation, no script error and no CSP violation."""

from __future__ import annotations

import pytest

from storage.vocabulary import Role
from tests.chromium import SHARED_BROWSER, chromium
from tests.desk_browser import PHONE, check_a11y, open_tab, sign_in
from tests.desk_world import desk_world

pytestmark = [pytest.mark.migrated_database, *SHARED_BROWSER]


async def test_signing_in_with_the_keyboard_alone(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль", totp=True)
        tab = await open_tab(browser, world)
        page = tab.page
        await check_a11y(page)
        # Tab from the top of the page to the login field, type, Enter submits.
        await page.keyboard.press("Tab")  # the skip link
        for _ in range(12):
            if await page.evaluate("document.activeElement.id") == "login":
                break
            await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "login"
        await page.keyboard.type(maria.login)
        await page.keyboard.press("Tab")
        await page.keyboard.type(maria.password)
        await page.keyboard.press("Enter")
        await page.get_by_label("Код із застосунку-автентифікатора").wait_for()
        await check_a11y(page)
        assert await page.evaluate("document.activeElement.tagName") in ("BODY", "INPUT")
        await page.get_by_label("Код із застосунку-автентифікатора").focus()
        await page.keyboard.type(maria.code(world.clock))
        await page.keyboard.press("Enter")
        await page.get_by_text("Марія Коваль").wait_for()
        await check_a11y(page)
        assert tab.errors == []


async def test_the_phone_width_and_the_english_switch(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        maria = await world.account("maria", Role.OPERATOR)
        tab = await open_tab(browser, world, viewport=PHONE)
        await sign_in(tab, world, maria)
        page = tab.page
        # Nothing wider than the screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await check_a11y(page)
        await page.get_by_role("button", name="English").click()
        await page.get_by_role("button", name="Sign out").wait_for()
        assert await page.evaluate("document.documentElement.lang") == "en"
        await check_a11y(page)
        assert tab.errors == []
