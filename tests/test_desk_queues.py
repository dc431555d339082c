"""The Queues screen at /desk/ over real HTTP on both databases: the departments' counts, every
filter through the form's fields, search (Cyrillic in any case, numbers, names) through the POST
form and its opaque key, keyset pages forward and back, bad cursors and filters answered with a
clear 400 page, and who sees what (department × role, signed out)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.desk.searches import SearchStore
from storage.vocabulary import Role
from tests.desk_seed import NOW, DeskSeed
from tests.desk_world import Browser, DeskWorld, desk_world

pytestmark = pytest.mark.migrated_database

_ROW = re.compile(r'<tr data-ticket-id="(\d+)"')
_LINK = re.compile(r'<a href="([^"]*)" rel="(next|prev)"')


def ids(body: str) -> list[int]:
    return [int(found) for found in _ROW.findall(body)]


def links(body: str) -> dict[str, str]:
    return {rel: html.unescape(href) for href, rel in _LINK.findall(body)}


def counts_row(body: str, code: str) -> list[str]:
    block = body.split(f'<tr data-department="{code}">', 1)[1].split("</tr>", 1)[0]
    return [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", block)
    ]


async def _world_at_now(world: DeskWorld) -> DeskSeed:
    # The seed's fixed "now" (a Wednesday), so "due within a working day" is Thursday's end.
    world.clock.now = NOW
    return DeskSeed(world.runtime.sessionmaker)


async def searched(browser: Browser, query: str, **filters: str) -> tuple[str, str]:
    """The search form as a browser posts it: the redirect's address and the page."""
    async with browser.http.post(
        browser.base + "/desk/search",
        data={"csrf": browser.csrf, "q": query, **filters},
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
        location = response.headers["Location"]
    status, body = await browser.get(location)
    assert status == 200
    return location, body


async def test_counts_rows_and_marks(database_url: str) -> None:
    async with desk_world(database_url) as world:
        seed = await _world_at_now(world)
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        resident = await seed.resident(name="Оксана Петренко", district="pokrovskyi")
        overdue = await seed.filed(deadline_at=NOW - timedelta(hours=3), resident_id=resident)
        soon = await seed.filed(
            deadline_at=NOW + timedelta(hours=20), assignee_id=maria.id, channel="viber"
        )
        later = await seed.filed(deadline_at=NOW + timedelta(days=9), kind="info_request")
        await seed.filed(status="closed", deadline_at=NOW - timedelta(days=1))
        await seed.filed(queue="transport", category="roads_transport")

        browser = await world.signed_in(maria)
        status, body = await browser.get("/desk/")
        assert status == 200
        assert ids(body) == [overdue.id, soon.id, later.id]
        assert 'data-live="queue"' in body
        # Open 3, overdue 1, due within a working day 1, unassigned 2.
        assert counts_row(body, "housing") == ["3", "1", "1", "2"]
        assert "Житлово-комунальне господарство" in body
        assert 'data-department="transport"' not in body
        row = body.split(f'data-ticket-id="{overdue.id}"', 1)[1].split("</tr>", 1)[0]
        assert f'href="/desk/tickets/{overdue.id}"' in row and overdue.number in row
        assert "Оксана Петренко" in row and "Покровський" in row and "Не працює ліфт" in row
        assert "Звернення" in row and "Житло та комунальні послуги" in row
        assert 'class="overdue">прострочено' in row
        row = body.split(f'data-ticket-id="{soon.id}"', 1)[1].split("</tr>", 1)[0]
        assert 'class="due-soon">строк спливає' in row and "Марія Коваль" in row
        assert "Viber" in row
        assert "Запит на інформацію" in body


async def test_each_filter_through_the_form(database_url: str) -> None:
    async with desk_world(database_url) as world:
        seed = await _world_at_now(world)
        maria = await world.account(
            "maria", Role.OPERATOR, departments=("housing", "transport"), name="Марія"
        )
        petro = await world.account("petro", Role.OPERATOR, name="Петро")
        east = await seed.resident(district="pokrovskyi")
        plain = await seed.filed(deadline_at=NOW + timedelta(days=9))
        info = await seed.filed(kind="info_request", deadline_at=NOW + timedelta(days=8))
        social = await seed.filed(category="social", deadline_at=NOW + timedelta(days=7))
        district = await seed.filed(resident_id=east, deadline_at=NOW + timedelta(days=6))
        viber = await seed.filed(channel="viber", deadline_at=NOW + timedelta(days=5))
        mine = await seed.filed(assignee_id=maria.id, deadline_at=NOW + timedelta(days=4))
        petros = await seed.filed(assignee_id=petro.id, deadline_at=NOW + timedelta(days=3))
        soon = await seed.filed(deadline_at=NOW + timedelta(hours=20))
        late = await seed.filed(deadline_at=NOW - timedelta(days=1))
        closed = await seed.filed(status="closed", deadline_at=NOW + timedelta(days=2))
        road = await seed.filed(queue="transport", category="roads_transport")
        unassigned = {plain, info, social, district, viber, soon, late, road}
        everything = unassigned | {mine, petros}

        browser = await world.signed_in(maria)
        status, body = await browser.get("/desk/")
        assert set(ids(body)) == {t.id for t in everything}
        # The form offers every filter with these names.
        for name in ("department", "kind", "status", "category", "district", "channel"):
            assert f'<select id="f-{name}" name="{name}">' in body
        for name in ("assignee", "deadline"):
            assert f'<select id="f-{name}" name="{name}">' in body
        assert '<option value="me"' in body and '<option value="none"' in body
        assert f'<option value="{petro.id}"' in body
        cases = {
            "kind=info_request": {info},
            "category=social": {social},
            "district=pokrovskyi": {district},
            "channel=viber": {viber},
            "assignee=me": {mine},
            "assignee=none": unassigned,
            f"assignee={petro.id}": {petros},
            "deadline=overdue": {late},
            "deadline=soon": {soon},
            "status=closed": {closed},
            "status=all": everything | {closed},
            "department=transport": {road},
            "department=housing&deadline=overdue": {late},
        }
        for query, expected in cases.items():
            status, body = await browser.get("/desk/?" + query)
            assert status == 200, query
            assert set(ids(body)) == {t.id for t in expected}, query
            # The chosen value stays selected in the form.
            for pair in query.split("&"):
                name, value = pair.split("=")
                assert re.search(
                    f'<select id="f-{name}".*?<option value="{value}" selected>', body, re.S
                ), query
        # Sorted by deadline whatever the filter.
        status, body = await browser.get("/desk/?department=housing")
        assert ids(body)[:2] == [late.id, soon.id]


@pytest.mark.parametrize(
    "query", ["kind=nonsense", "status=<b>", "assignee=x1", "deadline=🙂", "department=social"]
)
async def test_a_filter_no_form_offers_is_a_clear_400(database_url: str, query: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.signed_in(maria)
        status, body = await browser.get("/desk/?" + query)
        assert status == 400
        assert "Такого фільтра немає" in body and 'href="/desk/"' in body
        assert "<b>" not in body.split("<main", 1)[1]


async def test_search_by_text_name_and_number_keeps_the_text_out_of_urls(
    database_url: str,
) -> None:
    async with desk_world(database_url) as world:
        seed = await _world_at_now(world)
        maria = await world.account("maria", Role.OPERATOR)
        oksana = await seed.resident(name="Оксана Ґудзь")
        water = await seed.filed(body="Немає гарячої води, вода ледь тече")
        named = await seed.filed(resident_id=oksana, body="Яма на дорозі")
        closed = await seed.filed(status="closed", body="Стара заявка")
        await seed.filed(body="Інше")
        await seed.filed(queue="transport", body="вода на зупинці")

        browser = await world.signed_in(maria)
        await browser.get("/desk/")
        location, body = await searched(browser, "ВОДА")
        assert "ВОДА" not in location and "%D0" not in location.upper()
        (key,) = parse_qs(urlsplit(location).query)["q"]
        assert ids(body) == [water.id]
        assert 'value="ВОДА"' in body and "Результати пошуку «ВОДА»" in body
        # The name, in another case; the number (a closed ticket: searches span every status).
        _, body = await searched(browser, "ґУДЗЬ")
        assert ids(body) == [named.id]
        _, body = await searched(browser, closed.number.lower())
        assert ids(body) == [closed.id]
        # Filters travel along with the search, and the search along with the filters.
        location, body = await searched(browser, "вода", status="closed")
        assert "status=closed" in location and ids(body) == []
        status, body = await browser.get(f"/desk/?q={key}&kind=appeal")
        assert status == 200 and ids(body) == [water.id]
        assert f'<input type="hidden" name="q" value="{key}">' in body

        # Another staff member's browser cannot use the key (it is bound to the session).
        other = await world.signed_in(await world.account("petro", Role.OPERATOR))
        status, body = await other.get(f"/desk/?q={key}")
        assert status == 200 and "Пошук застарів" in body and "Результати пошуку" not in body
        # An hour without using it and the key is gone, with a clear notice (the session,
        # kept alive meanwhile, is not what expires).
        for _ in range(3):
            world.clock.advance(timedelta(minutes=21))
            assert (await browser.get("/desk/"))[0] == 200
        status, body = await browser.get(f"/desk/?q={key}")
        assert status == 200 and "Пошук застарів" in body


async def test_search_input_that_is_odd(database_url: str) -> None:
    async with desk_world(database_url) as world:
        await _world_at_now(world)
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.signed_in(maria)
        await browser.get("/desk/")
        # Empty: back to the list without a search.
        async with browser.http.post(
            world.base + "/desk/search",
            data={"csrf": browser.csrf, "q": "   ", "kind": "appeal"},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/desk/?kind=appeal"
        # HTML and emoji are shown as typed, escaped.
        _, body = await searched(browser, "<script>alert(1)</script> 🙂")
        assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt; 🙂" in body
        # One character: asked for more, nothing searched.
        _, body = await searched(browser, "в")
        assert "щонайменше 2 символи" in body
        # Huge: cut to what the box accepts, no error.
        _, body = await searched(browser, "я" * 10_000)
        assert 'value="' + "я" * 200 + '"' in body
        # A filter no form offers in the search form's hidden fields is dropped, not obeyed.
        location, _ = await searched(browser, "ліфт", department="transport")
        assert "department" not in location
        # No token: refused.
        status, _ = await browser.post("/desk/search", {"q": "x"}, csrf=False)
        assert status == 403


async def test_pages_forward_and_back_and_a_bad_cursor(database_url: str) -> None:
    async with desk_world(database_url) as world:
        seed = await _world_at_now(world)
        maria = await world.account("maria", Role.OPERATOR)
        made = [await seed.filed(deadline_at=NOW + timedelta(hours=n)) for n in range(53)] + [
            await seed.filed(deadline_at=None)
        ]
        expected = [t.id for t in made]
        browser = await world.signed_in(maria)
        status, first = await browser.get("/desk/")
        assert ids(first) == expected[:50]
        assert set(links(first)) == {"next"}
        status, second = await browser.get(links(first)["next"])
        assert status == 200 and ids(second) == expected[50:]
        assert set(links(second)) == {"prev"}
        status, back = await browser.get(links(second)["prev"])
        assert ids(back) == expected[:50]
        # Pages keep the filters and the search key.
        _, found = await searched(browser, "ліфт", kind="appeal")
        assert "kind=appeal" in links(found)["next"] and "q=" in links(found)["next"]
        # A cursor edited by hand: a clear 400 page, not a crash.
        for bad in ("nonsense", "eyJ4IjoxfQ", links(first)["next"][-20:] + "%00", "a" * 300):
            status, body = await browser.get("/desk/?page=" + bad.split("page=")[-1])
            assert status == 400, bad
            assert "Посилання на сторінку списку пошкоджене" in body


async def test_who_sees_what(database_url: str) -> None:
    async with desk_world(database_url) as world:
        seed = await _world_at_now(world)
        housing = await seed.filed()
        road = await seed.filed(queue="transport", category="roads_transport")
        stranger = await world.account("ivan", Role.OPERATOR, departments=("transport",))
        head = await world.account("olena", Role.HEAD)
        admin = await world.account("root", Role.ADMIN, departments=None, totp=True)
        nobody = await world.account("nobody", Role.OPERATOR, departments=None)

        # Signed out: the page leads to the login form; the search form's target is 401.
        browser = await world.browser()
        async with browser.http.get(world.base + "/desk/", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/desk/login"
        status, _ = await browser.post("/desk/search", {"q": "ліфт"}, csrf=False)
        assert status == 401

        # An operator of another department sees none of housing's tickets or counts.
        other = await world.signed_in(stranger)
        status, body = await other.get("/desk/")
        assert ids(body) == [road.id] and 'data-department="housing"' not in body
        status, body = await other.get("/desk/?department=housing")
        assert status == 400
        _, body = await searched(other, housing.number)
        assert ids(body) == []
        # The head of department sees them, and no action: no form but search, filters and
        # the header's.
        reader = await world.signed_in(head)
        status, body = await reader.get("/desk/")
        assert ids(body) == [housing.id]
        actions = set(re.findall(r'<form method="post" action="([^"]*)"', body))
        assert actions == {"/desk/search", "/desk/logout", "/desk/language"}
        # The administrator sees every department.
        root = await world.signed_in(admin)
        status, body = await root.get("/desk/")
        assert set(ids(body)) == {housing.id, road.id}
        assert 'data-department="housing"' in body and 'data-department="transport"' in body
        # In no department: told so, nothing listed.
        lonely = await world.signed_in(nobody)
        status, body = await lonely.get("/desk/")
        assert status == 200 and ids(body) == [] and "не додано до жодного відділу" in body


def test_the_search_store_is_bounded_and_private() -> None:
    store = SearchStore(idle=timedelta(hours=1), limit=2)
    first = store.put("session-a", "Оксана", now=NOW)
    second = store.put("session-a", "вода", now=NOW)
    assert store.get("session-b", first, now=NOW) is None  # another session's key
    assert store.get("session-a", first, now=NOW) == "Оксана"  # used: now the newest
    store.put("session-a", "ліфт", now=NOW)
    # Over the limit the least recently used goes.
    assert len(store) == 2 and store.get("session-a", second, now=NOW) is None
    assert store.get("session-a", first, now=NOW + timedelta(minutes=59)) == "Оксана"
    assert store.get("session-a", first, now=NOW + timedelta(minutes=121)) is None
    assert store.get("session-a", "made-up", now=NOW) is None
    assert store.get("session-a", store.put("session-a", "я" * 500, now=NOW), now=NOW) == "я" * 200
