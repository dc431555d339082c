"""Incidents in the web desk over real HTTP (bot/desk/incidents.py, incident_actions.py), on
SQLite and PostgreSQL: an operator opens an incident from a spike's button data, links the
suggested tickets, sends a status update, resolves it (feedback closed with the answer) and
sends the answer as the legal answer of a linked appeal; a ticket is linked from its page; the
read-only head and a forged form are refused, and a refusal keeps what was typed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from broadcasts import spikes
from storage.models import Incident, Resident, Ticket
from storage.vocabulary import Role, TicketStatus
from tests.desk_world import Browser, DeskWorld, desk_world

pytestmark = pytest.mark.migrated_database

WATER = "Немає води в будинку на вулиці Шевченка з самого ранку"


async def _file(world: DeskWorld, resident: str, *, kind: str, body: str = WATER) -> int:
    ticket_id = await world.file(
        external_id=resident, kind=kind, category="housing", body=body, contact=None
    )
    async with world.runtime.sessionmaker() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        resident_row = await session.get(Resident, ticket.resident_id)
        assert resident_row is not None
        resident_row.district = "pokrovskyi"
    return ticket_id


async def _ticket(world: DeskWorld, ticket_id: int) -> Ticket:
    async with world.runtime.sessionmaker() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def _post(browser: Browser, path: str, pairs: list[tuple[str, str]]) -> tuple[int, str, str]:
    form = [("csrf", browser.csrf), *pairs]
    async with browser.http.post(browser.base + path, data=form) as response:
        body = await response.text()
        browser._keep_token(body)
        return response.status, body, response.url.path


def _once(page: str, action: str) -> str:
    found = re.search(
        rf'/{action}" class="[^"]*">\s*<input[^>]*>\s*<input type="hidden" '
        r'name="once" value="([^"]+)"',
        page,
    )
    assert found is not None, action
    return found.group(1)


async def test_open_link_suggested_update_resolve_round(database_url: str) -> None:
    async with desk_world(database_url) as world:
        feedback = [await _file(world, f"VbIncRes{i:016d}==", kind="feedback") for i in range(2)]
        appeal = await _file(world, "VbIncAppeal00000000000==", kind="appeal")
        world.clock.advance(timedelta(minutes=5))
        oksana = await world.account("oksana", Role.OPERATOR)
        browser = await world.signed_in(oksana)

        # From a spike alert's button: the form names the spike's tickets.
        spike = spikes.Spike("category", "housing", 3, 0.0)
        action = spikes.incident_action(spike, at=world.clock())
        status, page = await browser.get(f"/desk/incidents/new?spike={action}")
        assert status == 200 and 'name="link_spike"' in page and "(3)" in page
        assert 'value="housing" selected' in page

        # A refusal keeps what was typed.
        status, page, _ = await _post(
            browser, "/desk/incidents/new", [("title", " "), ("description", "Аварія")]
        )
        assert status == 422 and "Вкажіть назву" in page and "Аварія" in page

        # Opened without the spike's tickets: the matcher suggests them.
        status, page, path = await _post(
            browser,
            "/desk/incidents/new",
            [
                ("title", "Немає води на Шевченка"),
                ("category", "housing"),
                ("district", "pokrovskyi"),
                ("description", "Аварія на водогоні, бригада виїхала."),
                ("status", "investigating"),
                ("expected_date", "2026-12-06"),
                ("expected_time", "18:00"),
                ("spike", action),
            ],
        )
        assert status == 200 and re.fullmatch(r"/desk/incidents/\d+", path), (status, path)
        incident_id = int(path.rsplit("/", 1)[1])
        assert "Інцидент відкрито" in page
        numbers = [(await _ticket(world, t)).number for t in (*feedback, appeal)]
        suggested = page.split('id="suggested-h"')[1].split("</section>")[0]
        assert all(number in suggested for number in numbers)
        assert "та сама категорія й район" in suggested

        pairs = [("once", _once(page, "link"))]
        pairs += [("ticket", str(t)) for t in (*feedback, appeal)]
        status, page, _ = await _post(browser, f"/desk/incidents/{incident_id}/link", pairs)
        assert status == 200 and "Звернення прив'язано" in page
        assert '<dd data-field="linked-count">3</dd>' in page
        assert len(await world.audit("incident.link")) == 3

        status, page, _ = await _post(
            browser,
            f"/desk/incidents/{incident_id}/update",
            [("once", _once(page, "update")), ("status", "working"), ("text", "Ремонтуємо.")],
        )
        assert status == 200 and "працюємо над цим" in page
        (entry,) = await world.audit("incident.update")
        assert entry.details["recipients"] == 3

        # The operator may not send it as district news: that is for editors.
        status, page, _ = await _post(
            browser,
            f"/desk/incidents/{incident_id}/update",
            [("once", _once(page, "update")), ("text", "Ще"), ("notify_district", "1")],
        )
        assert status == 403 and "Ще" in page

        status, page, _ = await _post(
            browser,
            f"/desk/incidents/{incident_id}/resolve",
            [("once", _once(page, "resolve")), ("answer", "Воду подали о 17:40.")],
        )
        assert status == 200 and "Інцидент вирішено" in page
        for ticket_id in feedback:
            assert (await _ticket(world, ticket_id)).status == TicketStatus.CLOSED.value
        assert (await _ticket(world, appeal)).status != TicketStatus.CLOSED.value

        # The appeal keeps its legal answer: sent from the incident's page.
        legal = page.split('id="legal-h"')[1].split("</section>")[0]
        assert numbers[2] in legal and numbers[0] not in legal
        status, page, _ = await _post(
            browser,
            f"/desk/incidents/{incident_id}/legal",
            [("once", _once(page, "legal")), ("ticket", str(appeal))],
        )
        assert status == 200 and "як відповідь на вибрані" in page
        assert [e.details["ticket"] for e in await world.audit("incident.legal_answer")] == [appeal]
        assert (await _ticket(world, appeal)).first_answer_at is not None

        status, page = await browser.get("/desk/incidents")
        assert status == 200 and "Немає води на Шевченка" in page and "вирішено" in page


async def test_linking_from_a_ticket_and_the_refusals(database_url: str) -> None:
    async with desk_world(database_url) as world:
        ticket_id = await _file(world, "VbIncLink000000000000==", kind="feedback")
        oksana = await world.signed_in(await world.account("oksana", Role.OPERATOR))
        head = await world.signed_in(await world.account("head", Role.HEAD))
        await oksana.get("/desk/incidents/new")
        status, _, path = await _post(
            oksana, "/desk/incidents/new", [("title", "Відключення світла")]
        )
        incident_id = int(path.rsplit("/", 1)[1])

        status, page = await oksana.get(f"/desk/tickets/{ticket_id}")
        assert f'href="/desk/tickets/{ticket_id}/incident"' in page
        status, page = await oksana.get(f"/desk/tickets/{ticket_id}/incident")
        assert status == 200 and f'<option value="{incident_id}">' in page
        status, page, path = await _post(
            oksana, f"/desk/tickets/{ticket_id}/incident", [("incident", str(incident_id))]
        )
        assert status == 200 and path == f"/desk/incidents/{incident_id}"
        assert '<dd data-field="linked-count">1</dd>' in page

        # A forged form does nothing.
        async with oksana.http.post(
            world.base + f"/desk/incidents/{incident_id}/resolve",
            data={"csrf": "forged", "answer": "x"},
            allow_redirects=False,
        ) as response:
            assert response.status == 403
        # The head of department reads, and acts on nothing.
        assert (await head.get("/desk/incidents"))[0] == 200
        status, page = await head.get(f"/desk/incidents/{incident_id}")
        assert status == 200 and "/resolve" not in page
        assert (await head.get("/desk/incidents/new"))[0] == 403
        assert (await head.post(f"/desk/incidents/{incident_id}/resolve", {"answer": "x"}))[
            0
        ] == 403
        assert (await head.post("/desk/incidents/new", {"title": "x"}))[0] == 403
        async with world.runtime.sessionmaker() as session:
            row = (await session.scalars(select(Incident).where(Incident.id == incident_id))).one()
            assert row.status == "investigating" and row.answer is None
