"""News in Chromium: an editor composes with a preview, sees the live count change when a
district is ticked, and sends; the resident gets it. At a laptop's and a phone's width, with no
accessibility violation, no script error and no CSP violation."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from storage.vocabulary import Role
from tests.chromium import SHARED_BROWSER, chromium
from tests.desk_browser import DESKTOP, PHONE, check_a11y, open_tab, sign_in
from tests.desk_world import desk_world
from tests.test_broadcast_helpers import Person, wait_done
from tests.test_desk_news import add_people, items, received

pytestmark = [pytest.mark.migrated_database, *SHARED_BROWSER]

POKROVSKYI = Person("viber", "VbBrowserNewsPokrovskyi1==", "pokrovskyi", ("outages",))
TERNIVSKYI = Person("viber", "VbBrowserNewsTernivskyi01==", "ternivskyi", ("outages",))


async def test_compose_preview_live_count_and_send(database_url: str) -> None:
    async with desk_world(database_url, quiet_hours="") as world, chromium() as browser:
        await add_people(world, [POKROVSKYI, TERNIVSKYI])
        olena = await world.account("olena", Role.EDITOR, name="Олена Редакторка")
        for viewport in (DESKTOP, PHONE):
            tab = await open_tab(browser, world, viewport=viewport)
            await sign_in(tab, world, olena)
            page = tab.page
            await page.get_by_role("link", name="Новини").click()
            await page.get_by_role("heading", name="Новини").wait_for()
            await check_a11y(page)
            await page.get_by_role("link", name="Нова новина").click()
            count = page.locator("[data-count]")
            assert await count.inner_text() == "2"
            await check_a11y(page)
            # Ticking a district recounts at once (the script asks the server).
            await page.get_by_label("Покровський").check()
            await expect(count).to_have_text("1")
            await page.get_by_label("Текст новини").fill("Вода <b>буде</b> о 18:00 💧")
            await page.get_by_role("button", name="Зберегти й переглянути").click()
            await page.get_by_role("heading", name="Як отримають мешканці").wait_for()
            telegram = page.locator(".phone.telegram .bubble-text")
            viber = page.locator(".phone.viber .bubble-text")
            assert await telegram.inner_html() == "Вода <b>буде</b> о 18:00 💧"
            assert await viber.inner_text() == "Вода буде о 18:00 💧"
            assert await page.locator("[data-count]").inner_text() == "1"
            await check_a11y(page)
            if viewport is PHONE:
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"]
            assert tab.errors == []
            await tab.context.close()
        # The second draft is sent from the browser.
        tab = await open_tab(browser, world)
        await sign_in(tab, world, olena)
        page = tab.page
        drafts = await items(world)
        await page.goto(world.base + f"/desk/news/{drafts[-1].id}")
        await page.get_by_role("button", name="Надіслати зараз").click()
        done = await wait_done(world.runtime.sessionmaker, drafts[-1].id)
        assert done.sent == 1
        # The progress script reloads the page itself once the sending finished.
        await page.get_by_role("heading", name="Підсумок розсилки").wait_for()
        await check_a11y(page)
        assert received(world, POKROVSKYI) == ["Вода буде о 18:00 💧"]
        assert received(world, TERNIVSKYI) == []
        assert tab.errors == []


async def test_a_poll_composed_sent_and_its_results(database_url: str) -> None:
    async with desk_world(database_url, quiet_hours="") as world, chromium() as browser:
        await add_people(world, [POKROVSKYI, TERNIVSKYI])
        olena = await world.account("olena", Role.EDITOR)
        tab = await open_tab(browser, world)
        await sign_in(tab, world, olena)
        page = tab.page
        await page.get_by_role("link", name="Опитування").click()
        await page.get_by_role("link", name="Нове опитування").click()
        await check_a11y(page)
        await page.get_by_label("Питання").fill("Де облаштувати сквер?")
        await page.get_by_label("Варіанти відповіді").fill("Біля школи\nБіля ринку")
        await page.get_by_label("Тернівський").check()
        await expect(page.locator("[data-count]")).to_have_text("1")
        await page.get_by_role("button", name="Зберегти й переглянути").click()
        await page.get_by_role("heading", name="Як отримають мешканці").wait_for()
        assert "Біля школи" in await page.locator(".phone.viber").inner_text()
        await check_a11y(page)
        await page.get_by_role("button", name="Надіслати зараз").click()
        await page.get_by_role("button", name="Закрити опитування зараз").wait_for()
        assert await world.viber.press_button(TERNIVSKYI.external_id, "Біля ринку") == 200
        for _ in range(100):
            await page.reload()
            if "Проголосували 1 з 1" in await page.content():
                break
        await page.get_by_role("heading", name="Результати").wait_for()
        await check_a11y(page)
        for viewport in (PHONE, DESKTOP):
            await page.set_viewport_size(viewport)  # type: ignore[arg-type]
            await check_a11y(page)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], viewport
        assert tab.errors == []
