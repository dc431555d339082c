"""The media page in Chromium, with the keyboard alone: an operator reaches it from the menu,
reads the digest and corrects an item's tone; no accessibility violation (axe-core), no script
or CSP error, on a desktop and on a phone. SQLite only (tests/test_desk_media.py runs both)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.vocabulary import Role
from tests.chromium import chromium
from tests.desk_browser import DESKTOP, PHONE, check_a11y, open_tab, sign_in
from tests.desk_seed import NOW
from tests.desk_world import desk_world
from tests.media_world import seed_item
from tests.test_desk_incidents_browser import _tab_to

pytestmark = pytest.mark.migrated_database


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_read_and_correct_with_the_keyboard(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        world.clock.now = NOW
        async with world.runtime.sessionmaker() as session, session.begin():
            item = await seed_item(session, at=NOW - timedelta(hours=5), tone="neutral")
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, maria)
        page = tab.page
        await page.locator("main").focus()
        await _tab_to(page, 'a[href="/desk/media"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.get_by_role("heading", name="ЗМІ про місто").wait_for()
        await check_a11y(page)

        await _tab_to(page, f"#tone-{item}")
        while await page.evaluate("document.activeElement.value") != "negative":
            await page.keyboard.press("ArrowDown")
        await _tab_to(page, f'form[action="/desk/media/{item}"] button')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.get_by_text("Тему й тон виправлено.").wait_for()
        assert await page.locator(f"#tone-{item}").input_value() == "negative"
        await check_a11y(page)

        phone = await open_tab(browser, world, viewport=PHONE)
        await sign_in(phone, world, maria)
        await phone.page.goto(world.base + "/desk/media")
        await check_a11y(phone.page)
        assert tab.errors == [] and phone.errors == []
