"""The Queues screen and the Dashboard in Chromium: filters and search with the keyboard alone,
usable at a laptop's and a phone's width, no accessibility violation, no script or CSP error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page

from storage.vocabulary import Role
from tests.chromium import SHARED_BROWSER, chromium
from tests.desk_browser import DESKTOP, PHONE, check_a11y, open_tab, sign_in
from tests.desk_seed import NOW, DeskSeed
from tests.desk_world import DeskWorld, desk_world

pytestmark = [pytest.mark.migrated_database, *SHARED_BROWSER]


async def _seed(world: DeskWorld) -> dict[str, int]:
    world.clock.now = NOW
    seed = DeskSeed(world.runtime.sessionmaker)
    resident = await seed.resident(name="Оксана Ґудзь", district="pokrovskyi")
    made = {
        "water": await seed.filed(
            body="Немає гарячої води в будинку на вулиці Шевченка, вода ледь тече вже тиждень",
            resident_id=resident,
            deadline_at=NOW - timedelta(hours=2),
            channel="viber",
        ),
        "info": await seed.filed(kind="info_request", deadline_at=NOW + timedelta(hours=20)),
        "lift": await seed.filed(deadline_at=NOW + timedelta(days=4)),
        "closed": await seed.filed(
            status="closed",
            received_at=NOW - timedelta(days=3),
            first_answer_after=timedelta(hours=1),
            closed_after=timedelta(days=1),
            rating=5,
        ),
    }
    return {name: ticket.id for name, ticket in made.items()}


async def _rows(page: Page) -> list[int]:
    found = await page.eval_on_selector_all(
        "table.tickets tbody tr", "rows => rows.map(r => Number(r.dataset.ticketId))"
    )
    return [int(value) for value in found]


async def _tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    for _ in range(limit):
        if await page.evaluate("document.activeElement.id") == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


async def test_filters_and_search_with_the_keyboard(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        made = await _seed(world)
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, maria)
        page = tab.page
        assert await _rows(page) == [made["water"], made["info"], made["lift"]]
        await check_a11y(page)

        # A filter: Tab to the kind, choose with the arrow keys, Tab to Apply, Enter.
        await _tab_to(page, "f-kind")
        for _ in range(6):
            if await page.evaluate("document.activeElement.value") == "info_request":
                break
            await page.keyboard.press("ArrowDown")
        assert await page.evaluate("document.activeElement.value") == "info_request"
        for _ in range(12):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.type") == "submit":
                break
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "kind=info_request" in page.url
        assert await _rows(page) == [made["info"]]
        await check_a11y(page)

        # The search: Tab to the box, type in capitals, Enter; the address has only a key.
        await page.goto(world.base + "/desk/")
        await page.locator("main").focus()
        await _tab_to(page, "q")
        await page.keyboard.type("ВОДА")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "q=" in page.url and "%D0" not in page.url.upper()
        assert await _rows(page) == [made["water"]]
        await page.get_by_text("прострочено").wait_for()
        await check_a11y(page)
        assert tab.errors == []


async def test_the_phone_width(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        made = await _seed(world)
        head = await world.account("olena", Role.HEAD, name="Олена")
        tab = await open_tab(browser, world, viewport=PHONE)
        await sign_in(tab, world, head)
        page = tab.page
        # Nothing wider than the screen; each stacked cell says what it is.
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert await _rows(page) == [made["water"], made["info"], made["lift"]]
        label = await page.evaluate(
            "getComputedStyle(document.querySelector('table.tickets td'), '::before').content"
        )
        assert "Номер" in label
        await check_a11y(page)
        # The number stays a link to the ticket.
        link = page.locator(f'tr[data-ticket-id="{made["water"]}"] a').first
        assert await link.get_attribute("href") == f"/desk/tickets/{made['water']}"

        await page.get_by_role("link", name="Показники").click()
        await page.get_by_role("heading", name="Показники").wait_for()
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await check_a11y(page)
        await page.get_by_text("Дані графіка таблицею").click()
        await check_a11y(page)
        assert tab.errors == []


async def test_the_dashboard_at_a_laptop_width(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        await _seed(world)
        admin = await world.account("root", Role.ADMIN, departments=None, totp=True)
        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, admin)
        page = tab.page
        await page.goto(world.base + "/desk/dashboard")
        assert await page.locator("svg.chart rect").count() == 2  # two days, one category
        await check_a11y(page)
        assert tab.errors == []
