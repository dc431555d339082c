"""Linking the ticked tickets of a filtered queue to an incident (bot/desk/queue_link.py) over
real HTTP on SQLite and PostgreSQL: what is linked and what is skipped (already linked to it,
linked elsewhere, not found, not of the visitor's departments, not an id), one audit record
per ticket, the redirect back to the same filtered queue with the notice, a form sent twice,
and the refusals (nothing ticked, no or an unknown incident, a resolved one, over the cap, the
read-only head, a forged token), each keeping the filters and the ticked rows."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from bot.desk.queue_link import SELECTED_MAX
from storage.models import IncidentTicket
from storage.vocabulary import Role
from tests.desk_seed import NOW, DeskSeed
from tests.desk_world import Browser, DeskWorld, desk_world
from tests.test_desk_queues import ids

pytestmark = pytest.mark.migrated_database

_ONCE = re.compile(r'id="queue-link".*?name="once" value="([^"]+)"', re.S)


def once(page: str) -> str:
    found = _ONCE.search(page)
    assert found is not None, "no bulk link form on the page"
    return found.group(1)


def ticked(page: str) -> set[int]:
    return {
        int(i)
        for i in re.findall(r'name="ticket" value="(\d+)" form="queue-link"[^>]*checked', page)
    }


async def open_incident(browser: Browser, title: str) -> int:
    async with browser.http.post(
        browser.base + "/desk/incidents/new",
        data={"csrf": browser.csrf, "title": title},
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
        return int(response.headers["Location"].split("?")[0].rsplit("/", 1)[1])


async def link(browser: Browser, pairs: list[tuple[str, str]]) -> tuple[int, str, str | None]:
    """The bulk form as a browser posts it: status, body, and the redirect's address."""
    async with browser.http.post(
        browser.base + "/desk/queue/link",
        data=[("csrf", browser.csrf), *pairs],
        allow_redirects=False,
    ) as response:
        body = await response.text()
        browser._keep_token(body)
        return response.status, body, response.headers.get("Location")


async def linked_to(world: DeskWorld, incident_id: int) -> set[int]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(IncidentTicket.ticket_id).where(IncidentTicket.incident_id == incident_id)
        )
        return set(rows.all())


async def test_link_the_ticked_tickets_of_a_filtered_queue(database_url: str) -> None:
    async with desk_world(database_url) as world:
        world.clock.now = NOW
        seed = DeskSeed(world.runtime.sessionmaker)
        east = await seed.resident(district="pokrovskyi")
        water = [await seed.filed(resident_id=east, kind="feedback") for _ in range(3)]
        closed = await seed.filed(resident_id=east, status="closed")
        elsewhere = await seed.filed(resident_id=east)
        road = await seed.filed(queue="transport", category="roads_transport")
        other = await seed.filed()  # not in the district: not shown, not ticked

        maria = await world.signed_in(await world.account("maria", Role.OPERATOR))
        await maria.get("/desk/incidents/new")
        outage = await open_incident(maria, "Немає води <b>на</b> Покровському 🚱")
        gas = await open_incident(maria, "Запах газу")
        assert (await maria.post(f"/desk/tickets/{elsewhere.id}/incident", {"incident": str(gas)}))[
            0
        ] == 200

        status, page = await maria.get("/desk/?district=pokrovskyi")
        assert status == 200
        assert set(ids(page)) == {*(t.id for t in water), elsewhere.id}
        # A box per row, named by the ticket's number; "select all shown" for the script.
        for ticket in water:
            assert (
                f'name="ticket" value="{ticket.id}" form="queue-link" id="pick-{ticket.id}"'
                f' aria-label="Вибрати звернення {ticket.number}"'
            ) in page
        assert 'data-pick-all="queue-link" hidden aria-label="Вибрати всі показані"' in page
        # The open incidents, by title and number, the title escaped.
        assert (
            f'<option value="{outage}">Немає води &lt;b&gt;на&lt;/b&gt; Покровському 🚱'
            f" (№{outage})</option>"
        ) in page
        assert f'<option value="{gas}">Запах газу (№{gas})</option>' in page
        # The form carries the filters back.
        form = page.split('id="queue-link"', 1)[1].split("</form>", 1)[0]
        assert '<input type="hidden" name="district" value="pokrovskyi">' in form

        key = once(page)
        pairs = [("once", key), ("district", "pokrovskyi"), ("incident", str(outage))]
        chosen = [water[0].id, water[1].id, water[0].id, elsewhere.id, road.id, 10**15]
        pairs += [("ticket", str(i)) for i in chosen] + [("ticket", "<b>🙂</b>")]
        status, _, location = await link(maria, pairs)
        assert status == 303 and location is not None
        address = urlsplit(location)
        assert address.path == "/desk/"
        assert parse_qs(address.query) == {
            "district": ["pokrovskyi"],
            "done": ["linked"],
            "incident": [str(outage)],
            "linked": ["2"],
            "already": ["0"],
            "elsewhere": ["1"],
            "missing": ["3"],
        }
        assert await linked_to(world, outage) == {water[0].id, water[1].id}
        assert await linked_to(world, gas) == {elsewhere.id}
        audit = await world.audit("incident.link")
        assert [(e.subject, e.details["ticket"]) for e in audit[1:]] == [
            (f"incident:{outage}", water[0].id),
            (f"incident:{outage}", water[1].id),
        ]

        status, page = await maria.get(location)
        assert status == 200 and set(ids(page)) == {*(t.id for t in water), elsewhere.id}
        notice = html.unescape(page.split('data-notice="linked"', 1)[1].split("</div>", 1)[0])
        assert "Прив'язано до інциденту «Немає води <b>на</b> Покровському 🚱»: 2." in notice
        assert "<b>на</b>" not in page.split('data-notice="linked"', 1)[1].split("</div>")[0]
        assert "Пропущено: 4." in notice
        assert "прив'язані до іншого інциденту (там і залишилися): 1" in notice
        assert "не знайдено або не з ваших відділів: 3" in notice
        assert "уже прив'язані" not in notice
        assert f'href="/desk/incidents/{outage}"' in page
        # Each row names the incident it is linked to (escaped), so staff see what is skipped.
        row = page.split(f'data-ticket-id="{water[0].id}"', 1)[1].split("</tr>", 1)[0]
        assert (
            f'<a class="hint" href="/desk/incidents/{outage}" data-field="incident">'
            "Інцидент: Немає води &lt;b&gt;на&lt;/b&gt; Покровському 🚱</a>"
        ) in row
        row = page.split(f'data-ticket-id="{elsewhere.id}"', 1)[1].split("</tr>", 1)[0]
        assert f'href="/desk/incidents/{gas}" data-field="incident">Інцидент: Запах газу' in row
        row = page.split(f'data-ticket-id="{water[2].id}"', 1)[1].split("</tr>", 1)[0]
        assert 'data-field="incident"' not in row
        # The filter form does not carry the notice along.
        assert "done=" not in page.split('class="filters card"', 1)[1].split("</form>", 1)[0]

        # The same form sent again (a double click): sent where the first went, nothing done.
        status, _, again = await link(maria, pairs)
        assert status == 303 and again == location
        assert len(await world.audit("incident.link")) == 3

        # Ticked again from a fresh page: already linked is skipped, not an error.
        pairs = [("once", once(page)), ("district", "pokrovskyi"), ("incident", str(outage))]
        pairs += [("ticket", str(t.id)) for t in water]
        status, _, location = await link(maria, pairs)
        assert status == 303 and location is not None
        query = parse_qs(urlsplit(location).query)
        assert (query["linked"], query["already"], query["missing"]) == (["1"], ["2"], ["0"])
        status, page = await maria.get(location)
        assert "уже прив'язані до цього інциденту: 2" in page and "Пропущено: 2." in page
        assert await linked_to(world, outage) == {t.id for t in water}

        # A closed ticket is linked like an open one (its resident is affected too); the page
        # cursor and every filter travel along.
        status, page = await maria.get("/desk/?district=pokrovskyi&status=closed")
        assert ids(page) == [closed.id]
        pairs = [("once", once(page)), ("district", "pokrovskyi"), ("status", "closed")]
        pairs += [("incident", str(outage)), ("ticket", str(closed.id))]
        status, _, location = await link(maria, pairs)
        assert location is not None and "status=closed" in location and "linked=1" in location
        assert closed.id in await linked_to(world, outage)
        assert other.id not in await linked_to(world, outage)
        assert len(await world.audit("incident.link")) == 5


async def test_the_refusals_keep_the_queue_and_the_ticks(database_url: str) -> None:
    async with desk_world(database_url) as world:
        world.clock.now = NOW
        seed = DeskSeed(world.runtime.sessionmaker)
        tickets = [await seed.filed(kind="feedback") for _ in range(2)]
        maria = await world.signed_in(await world.account("maria", Role.OPERATOR))
        head = await world.signed_in(await world.account("olena", Role.HEAD))

        # No open incident: nothing to link to, no boxes.
        status, page = await maria.get("/desk/")
        assert status == 200 and 'form="queue-link"' not in page and "queue-link" not in page
        await maria.get("/desk/incidents/new")
        outage = await open_incident(maria, "Аварія")
        done = await open_incident(maria, "Вчорашня аварія")
        status, _ = await maria.post(f"/desk/incidents/{done}/resolve", {"answer": "Усунено."})
        assert status == 200

        status, page = await maria.get("/desk/?kind=feedback")
        choices = page.split('id="link-incident"', 1)[1].split("</select>", 1)[0]
        assert f'<option value="{outage}">' in choices and f'value="{done}"' not in choices
        base = [("once", once(page)), ("kind", "feedback")]
        first = ("ticket", str(tickets[0].id))

        async def refused(pairs: list[tuple[str, str]], code: int, text: str) -> str:
            status, body, location = await link(maria, pairs)
            assert (status, location) == (code, None), (status, location, text)
            assert text in body
            # The same queue: its filter chosen, its rows listed, the form still there.
            assert '<option value="feedback" selected>' in body
            assert set(ids(body)) == {t.id for t in tickets}
            return body

        body = await refused(
            [*base, ("incident", str(outage))], 422, "Не вибрано жодного звернення"
        )
        body = await refused([*base, first], 422, "Виберіть")
        assert ticked(body) == {tickets[0].id}
        await refused([*base, first, ("incident", "абв")], 422, "Виберіть")
        await refused([*base, first, ("incident", "9" * 40)], 422, "Виберіть")
        await refused([*base, first, ("incident", "999999")], 404, "Не знайдено")
        body = await refused([*base, first, ("incident", str(done))], 409, "Інцидент уже вирішено")
        assert ticked(body) == {tickets[0].id}
        over = [("ticket", str(n)) for n in range(1, SELECTED_MAX + 2)]
        body = await refused(
            [*base, ("incident", str(outage)), *over], 422, "не більше 500. Нічого не змінено"
        )
        assert await linked_to(world, outage) == set()
        assert await world.audit("incident.link") == []

        # The cap itself is allowed; duplicates count once (the rest are no tickets here).
        many = [("ticket", str(t.id)) for t in tickets] * 3
        many += [("ticket", str(10**9 + n)) for n in range(SELECTED_MAX - len(tickets))]
        status, _, location = await link(maria, [*base, ("incident", str(outage)), *many])
        assert status == 303 and location is not None
        query = parse_qs(urlsplit(location).query)
        assert query["linked"] == ["2"] and query["missing"] == [str(SELECTED_MAX - 2)]
        assert query["kind"] == ["feedback"]
        assert len(await world.audit("incident.link")) == 2

        # A row the live page adds has its box too (for those who may link).
        status, row = await maria.get(f"/desk/tickets/{tickets[0].id}/row")
        assert status == 200 and f'value="{tickets[0].id}" form="queue-link"' in row
        # An id too long for any ticket, on the incident page's own bulk form: no crash.
        status, page = await maria.post(f"/desk/incidents/{outage}/link", {"ticket": "9" * 30})
        assert status in (404, 422), status

        # The head of department reads: no boxes, no form, and a post is refused.
        status, page = await head.get("/desk/")
        assert status == 200 and set(ids(page)) == {t.id for t in tickets}
        assert 'name="ticket"' not in page and "/desk/queue/link" not in page
        status, row = await head.get(f"/desk/tickets/{tickets[0].id}/row")
        assert status == 200 and 'name="ticket"' not in row
        status, _, _ = await link(head, [("incident", str(outage)), first])
        assert status == 403
        # A forged token: refused before anything runs.
        async with maria.http.post(
            world.base + "/desk/queue/link",
            data={"csrf": "forged", "incident": str(outage), "ticket": str(tickets[0].id)},
            allow_redirects=False,
        ) as response:
            assert response.status == 403
        assert len(await world.audit("incident.link")) == 2
