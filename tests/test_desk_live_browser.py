"""Live updates in Chromium: two staff members in two browsers see each other's changes without
reloading — a new ticket, a ticket taken, a resident's message in the thread — and the soft lock
"<name> відповідає…" while one of them types an answer."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from sqlalchemy import update

from bot.desk.live import CLOSED
from handlers.staff.core import Actor, Desk
from handlers.staff.tickets import assigning
from storage.models import Staff
from storage.vocabulary import Role
from tests.chromium import SHARED_BROWSER, chromium
from tests.desk_browser import PHONE, check_a11y, open_tab, sign_in
from tests.desk_live import desk_parts, live_feed
from tests.desk_world import DeskWorld, desk_world
from tests.staff_world import add_resident_message
from tests.test_open311 import _key, _post

pytestmark = [pytest.mark.migrated_database, *SHARED_BROWSER]

NO_RELOAD = "window.deskLiveMarker = 1"
# The ticket page's answer box (bot/desk/templates/ticket.html).
ANSWER_LABEL = "Текст відповіді"
STILL_SAME_PAGE = "window.deskLiveMarker === 1"


async def _web_take(world: DeskWorld, staff_id: int, ticket_id: int) -> None:
    """What the ticket screen's "take" button does: the staff core's take as a web actor."""
    actor = Actor(staff_id, desk=Desk.WEB, address="127.0.0.1")
    outcome = await assigning.take(desk_parts(world).tickets, actor, ticket_id)
    assert type(outcome).__name__ == "Done", outcome


async def test_two_browsers_see_each_others_changes_live(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        live_feed(world, interval=0.2)
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        olena = await world.account("olena", Role.OPERATOR, name="Олена Бондар")
        first = await world.file(queue="housing")
        mine = await open_tab(browser, world)
        theirs = await open_tab(browser, world, viewport=PHONE)
        await sign_in(mine, world, maria)
        await sign_in(theirs, world, olena)
        for tab in (mine, theirs):
            await tab.page.locator(f'tr[data-ticket-id="{first}"]').wait_for()
            await tab.page.evaluate(NO_RELOAD)

        # A resident files a ticket: it appears in both queues, announced politely.
        second = await world.file(queue="housing")
        for tab in (mine, theirs):
            await tab.page.locator(f'tr[data-ticket-id="{second}"]').wait_for()
            await tab.page.get_by_role("status").filter(has_text="Нове звернення").wait_for()

        # Maria takes the first ticket: Olena's list shows it in progress, without a reload.
        await _web_take(world, maria.id, first)
        status = theirs.page.locator(f'tr[data-ticket-id="{first}"] [data-field="status"]')
        await status.filter(has_text="у роботі").wait_for()
        await theirs.page.get_by_role("status").filter(has_text="Марія Коваль").wait_for()
        assert await theirs.page.evaluate(STILL_SAME_PAGE)
        assert await theirs.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # The streams break (a proxy, a network blip): the browsers reconnect by themselves
        # with Last-Event-ID, and what happened meanwhile still arrives.
        feed = live_feed(world, interval=0.2)
        for subscriber in list(feed._subscribers):
            subscriber.queue.put_nowait(CLOSED)
        third = await world.file(queue="housing")
        for tab in (mine, theirs):
            await tab.page.locator(f'tr[data-ticket-id="{third}"]').wait_for()
            assert await tab.page.evaluate(STILL_SAME_PAGE)
        for tab in (mine, theirs):
            await check_a11y(tab.page)
            assert tab.errors == []


async def test_presence_and_the_thread_on_a_tickets_page(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        live_feed(world, interval=0.2)
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        olena = await world.account("olena", Role.OPERATOR, name="Олена Бондар")
        ticket_id = await world.file(queue="housing")
        typing, watching = await open_tab(browser, world), await open_tab(browser, world)
        # The watcher's timers can be moved forward (the line goes 20 s after the last ping).
        await watching.page.clock.install()
        await sign_in(typing, world, maria)
        await sign_in(watching, world, olena)
        for tab in (typing, watching):
            await tab.page.goto(f"{world.base}/desk/tickets/{ticket_id}")
            await tab.page.evaluate(NO_RELOAD)

        # Maria types an answer: Olena sees who is answering; Maria does not see herself.
        await typing.page.get_by_label(ANSWER_LABEL).press_sequentially("Доброго дня")
        presence = watching.page.locator("#presence")
        await presence.filter(has_text="Марія Коваль відповідає…").wait_for()
        assert await typing.page.locator("#presence").text_content() == ""
        await watching.page.clock.fast_forward(15_000)
        assert await presence.text_content() == "Марія Коваль відповідає…"
        await watching.page.clock.fast_forward(6_000)
        await presence.filter(has_text="відповідає").wait_for(state="detached")
        assert await presence.text_content() == ""

        # The resident writes: the message is appended to Olena's thread, and the card's status
        # changes when Maria takes the ticket.
        message_id = await add_resident_message(world.runtime, ticket_id, "Ліфт досі стоїть")
        item = watching.page.locator(f'li[data-message-id="{message_id}"]')
        await item.filter(has_text="Ліфт досі стоїть").wait_for()
        await _web_take(world, maria.id, ticket_id)
        card = watching.page.locator(
            f'section[aria-labelledby="card-title"][data-ticket-id="{ticket_id}"]'
        )
        await card.locator('[data-field="assignee"]').filter(has_text="Марія Коваль").wait_for()
        await card.locator('[data-field="status"]').filter(has_text="у роботі").wait_for()
        assert await watching.page.evaluate(STILL_SAME_PAGE)
        for tab in (typing, watching):
            await check_a11y(tab.page)
            assert tab.errors == []


async def test_a_disabled_accounts_open_page_goes_to_the_login_form(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        feed = live_feed(world, interval=0.2)
        feed.recheck = 0.5
        maria = await world.account("maria", Role.OPERATOR)
        tab = await open_tab(browser, world)
        await sign_in(tab, world, maria)
        for _ in range(100):
            if feed.subscribers:
                break
            await asyncio.sleep(0.05)
        async with world.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(Staff).where(Staff.id == maria.id).values(disabled_at=world.clock())
            )
        await tab.page.wait_for_url("**/desk/login")
        await tab.page.get_by_label("Логін").wait_for()
        assert tab.errors == []


async def test_a_request_from_open311_appears_in_an_open_queue(database_url: str) -> None:
    async with (
        desk_world(database_url) as world,
        chromium() as browser,
        aiohttp.ClientSession() as http,
    ):
        live_feed(world, interval=0.2)
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        first = await world.file(queue="housing")
        tab = await open_tab(browser, world)
        await sign_in(tab, world, maria)
        await tab.page.locator(f'tr[data-ticket-id="{first}"]').wait_for()
        await tab.page.evaluate(NO_RELOAD)

        # The contact centre posts a request: it is placed in the list, announced, no reload.
        _key_id, api_key = await _key(world.runtime)
        fields = {
            "api_key": api_key,
            "service_code": "housing",
            "description": "Прорвало трубу біля під'їзду",
            "address_string": "вул. Лермонтова, 5",
        }
        status, body = await _post(http, world.base, fields)
        assert status == 200, body
        number = json.loads(body)[0]["service_request_id"]
        row = tab.page.locator("tr[data-ticket-id]").filter(has_text=number)
        await row.filter(has_text="Open311").wait_for()
        await tab.page.get_by_role("status").filter(has_text=number).wait_for()
        assert await tab.page.evaluate(STILL_SAME_PAGE)
        await check_a11y(tab.page)
        assert tab.errors == []
