"""Bulk actions of incidents in Chromium, with the keyboard alone (Tab, Space, arrows, Enter):
an operator filters the queue, ticks tickets ("select all shown", then one unticked), links
them to an open incident and reads the notice; on a resolved incident's page they send its
answer as the legal answer of the ticked appeals. axe-core finds no violation (of any impact)
on the pages with the new controls; no script or CSP error. The database does not matter here
(tests/test_desk_queue_link.py and tests/test_desk_incidents.py run both): SQLite only."""

from __future__ import annotations

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

from storage.vocabulary import Role
from tests.chromium import SHARED_BROWSER, chromium
from tests.desk_browser import DESKTOP, PHONE, check_a11y, open_tab, sign_in
from tests.desk_seed import NOW, DeskSeed
from tests.desk_world import desk_world
from tests.test_desk_incidents import _file
from tests.test_desk_incidents_browser import _tab_to
from tests.test_desk_queue_link import link, linked_to, once, open_incident

pytestmark = [pytest.mark.migrated_database, *SHARED_BROWSER]


async def _no_violation(page: Page) -> None:
    """No axe-core violation at all, minor ones included, on the page as it is now."""
    results = await Axe().run(page)
    found = [
        f"{v['id']} ({v['impact']}): " + "; ".join(n["target"][0] for n in v["nodes"][:3])
        for v in results.response["violations"]
    ]
    assert found == [], "\n".join(found)


async def _checked(page: Page) -> dict[str, bool]:
    boxes = await page.eval_on_selector_all(
        'input[type="checkbox"][form="queue-link"]', "boxes => boxes.map(b => [b.id, b.checked])"
    )
    return {str(box_id): bool(checked) for box_id, checked in boxes}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_filter_tick_and_link_with_the_keyboard(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        world.clock.now = NOW
        seed = DeskSeed(world.runtime.sessionmaker)
        east = await seed.resident(district="pokrovskyi")
        water = [await seed.filed(resident_id=east, kind="feedback") for _ in range(3)]
        elsewhere = await seed.filed()
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        http = await world.signed_in(maria)
        await http.get("/desk/incidents/new")
        outage = await open_incident(http, "Немає води на Покровському")

        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, maria)
        page = tab.page
        await page.locator("main").focus()

        # Filter by district: Tab to it, arrows choose, Tab to Apply, Enter.
        await _tab_to(page, "#f-district")
        for _ in range(12):
            if await page.evaluate("document.activeElement.value") == "pokrovskyi":
                break
            await page.keyboard.press("ArrowDown")
        await _tab_to(page, '.filters button[type="submit"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "district=pokrovskyi" in page.url
        assert set(await _checked(page)) == {f"pick-{t.id}" for t in water}
        await _no_violation(page)

        # "Select all shown" (the script shows it), Space; then untick the first row.
        await _tab_to(page, "#pick-all")
        await page.keyboard.press("Space")
        assert all((await _checked(page)).values())
        await _tab_to(page, f"#pick-{water[0].id}")
        await page.keyboard.press("Space")
        assert not (await _checked(page))[f"pick-{water[0].id}"]
        assert await page.evaluate("document.querySelector('#pick-all').indeterminate")
        # Each box is named by its ticket's number.
        box = page.get_by_role("checkbox", name=f"Вибрати звернення {water[1].number}")
        assert await box.is_checked()

        await _tab_to(page, "#link-incident")
        assert await page.evaluate("document.activeElement.value") == str(outage)
        await _tab_to(page, '#queue-link button[type="submit"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.get_by_text(
            "Прив'язано до інциденту «Немає води на Покровському»: 2."
        ).wait_for()
        assert "district=pokrovskyi" in page.url
        assert await linked_to(world, outage) == {water[1].id, water[2].id}
        assert elsewhere.id not in await linked_to(world, outage)
        await _no_violation(page)
        # At a phone's width the boxes and the form fit the screen.
        await page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert await page.locator(f"#pick-{water[0].id}").is_visible()
        await _no_violation(page)
        assert tab.errors == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_send_the_answer_as_the_legal_answer_with_the_keyboard(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        appeals = [
            await _file(world, f"VbLegalBrowser{i:010d}==", kind=kind)
            for i, kind in enumerate(("appeal", "info_request", "feedback"))
        ]
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        http = await world.signed_in(maria)
        await http.get("/desk/incidents/new")
        outage = await open_incident(http, "Немає води на Шевченка")
        status, queue = await http.get("/desk/")
        pairs = [("once", once(queue)), ("incident", str(outage))]
        status, _, _ = await link(http, pairs + [("ticket", str(t)) for t in appeals])
        assert status == 303
        status, _ = await http.post(
            f"/desk/incidents/{outage}/resolve", {"answer": "Воду подали о 17:40."}
        )
        assert status == 200

        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, maria)
        page = tab.page
        await page.goto(world.base + f"/desk/incidents/{outage}")
        legal = page.locator('form[action$="/legal"] input[name="ticket"]')
        # The appeal and the information request, ticked; feedback is closed with the answer.
        assert await legal.count() == 2
        await _no_violation(page)
        await page.locator("main").focus()
        await _tab_to(page, f'form[action$="/legal"] input[value="{appeals[1]}"]')
        await page.keyboard.press("Space")
        await _tab_to(page, 'form[action$="/legal"] button[type="submit"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.locator("p.notice").wait_for()
        assert "як відповідь на вибрані" in await page.locator("p.notice").inner_text()
        sent = [e.details["ticket"] for e in await world.audit("incident.legal_answer")]
        assert sent == [appeals[0]]
        # What is left to answer: the information request only.
        assert await legal.count() == 1
        await check_a11y(page)
        await _no_violation(page)
        assert tab.errors == []
