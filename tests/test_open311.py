"""Open311 GeoReport v2 end to end, over real HTTP against the running bot, on SQLite and
PostgreSQL: the contact centre reads the services and its requests with a real client library
(``georeport`` from PyPI, JSON and XML), posts a request (plain aiohttp: the library has no
POST), staff answer and close it in the web desk through the staff core, and the answer, the
status and the legal deadline show in requests.json and the updates feed; nothing is sent to
any messenger and the requester's personal fields are never returned. Then the spec's errors
and the limits on what an integrator may send."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from georeport import GeoReport
from sqlalchemy import select

from bot.open311.fields import BODY_MAX
from bot.open311.routes import POSTS_PER_MINUTE
from storage.models import Department, Open311Request, Ticket, TicketMessage
from storage.open311_keys import add_key, revoke_key
from storage.retention import erase_batch
from storage.tickets import set_route
from storage.vocabulary import MessageDirection, Role
from tests.desk_world import desk_world
from tests.staff_world import OPERATOR, card_of, staff_world

pytestmark = pytest.mark.migrated_database

KYIV = ZoneInfo("Europe/Kyiv")
# The requester's personal fields: stored on the ticket, never in an answer of the API.
PERSONAL = {
    "first_name": "Олена",
    "last_name": "Шевчукова",
    "email": "olena.private@example.com",
    "phone": "+380671234567",
}
DESCRIPTION = "Прорвало трубу біля під'їзду № 2, <b>вода</b> тече на тротуар & замерзає"


async def _key(runtime: Any, name: str = "contact-centre-1520") -> tuple[int, str]:
    async with runtime.sessionmaker() as session, session.begin():
        key, plain = await add_key(session, name=name, now=datetime.now(UTC))
        return key.id, plain


async def _post(
    http: aiohttp.ClientSession, base: str, fields: dict[str, str], fmt: str = "json"
) -> tuple[int, str]:
    async with http.post(f"{base}/open311/v2/requests.{fmt}", data=fields) as response:
        return response.status, await response.text()


def _no_personal(*bodies: str) -> None:
    for body in bodies:
        for value in PERSONAL.values():
            assert value not in body


async def test_contact_centre_request_answered_in_the_desk(database_url: str) -> None:
    async with desk_world(database_url) as world, aiohttp.ClientSession() as http:
        base = world.base
        client = GeoReport(f"{base}/open311/v2")
        xml_client = GeoReport(f"{base}/open311/v2", output_format="xml")
        # The services: the categories residents choose, grouped by their department.
        services = await asyncio.to_thread(client.get_service_list)
        by_code = {service["service_code"]: service for service in services}
        assert set(by_code) == {
            "council_work",
            "housing",
            "improvement",
            "other",
            "roads_transport",
            "social",
        }
        housing = by_code["housing"]
        assert housing["service_name"] == "Житло та комунальні послуги"
        assert housing["group"] == "Житлово-комунальне господарство"
        assert (housing["metadata"], housing["type"]) == (False, "realtime")
        xml_services = await asyncio.to_thread(xml_client.get_service_list)
        assert [s["service_code"] for s in xml_services] == [s["service_code"] for s in services]
        assert xml_services[0]["metadata"] == "false"
        definition = await asyncio.to_thread(client.get_service_definition, "housing")
        assert definition == {"service_code": "housing", "attributes": []}

        key_id, api_key = await _key(world.runtime)
        fields = {
            "api_key": api_key,
            "service_code": "housing",
            "description": DESCRIPTION,
            "lat": "47.9105",
            "long": "33.3918",
            "address_string": "вул. Лермонтова, 5",
            "media_url": "https://1520.kr.gov.ua/files/1.jpg",
            "device_id": "operator-17",
            **PERSONAL,
        }
        status, body = await _post(http, base, fields)
        assert status == 200, body
        [posted] = json.loads(body)
        number, token = posted["service_request_id"], posted["token"]
        assert number.startswith("ВД-") and token
        # The same request again within a minute (a client retrying a lost answer): the same.
        status, body = await _post(http, base, fields)
        assert json.loads(body)[0]["service_request_id"] == number
        async with world.runtime.sessionmaker() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
            assert ticket is not None
            assert (ticket.channel, ticket.kind, ticket.queue_code) == (
                "open311",
                "feedback",
                "housing",
            )
            assert ticket.resident_id is None and ticket.category == "housing"
            # Personal fields are the ticket's (erased with it), not the request's.
            assert ticket.full_name == "Олена Шевчукова"
            assert ticket.contact == "olena.private@example.com, +380671234567"
            assert ticket.body == DESCRIPTION
            extra = await session.get(Open311Request, ticket.id)
            assert extra is not None and extra.key_id == key_id
            ticket_id, deadline = ticket.id, ticket.deadline_at
            assert deadline is not None
            department = await session.get(Department, "housing")
            assert department is not None

        async with http.get(f"{base}/open311/v2/tokens/{token}.json") as response:
            assert await response.json() == [{"service_request_id": number, "token": token}]
        found = await asyncio.to_thread(client.get_service_request, number)
        assert found["status"] == "open" and found["status_notes"] is None
        assert found["agency_responsible"] == department.name
        assert found["description"] == DESCRIPTION
        assert (found["lat"], found["long"]) == (47.9105, 33.3918)
        assert found["address"] == "вул. Лермонтова, 5"
        assert found["media_url"] == "https://1520.kr.gov.ua/files/1.jpg"
        # The legal deadline, with the city's offset.
        expected = datetime.fromisoformat(found["expected_datetime"])
        assert expected.utcoffset() == deadline.astimezone(KYIV).utcoffset()
        assert abs(expected - deadline) < timedelta(seconds=1)

        # Staff of the department answer and close it in the web desk (the staff core).
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        browser = await world.signed_in(maria)
        page = f"/desk/tickets/{ticket_id}"
        status, html = await browser.get(page)
        assert status == 200 and "вул. Лермонтова, 5" in html
        for action, data in (
            ("note", {"text": "Внутрішнє: бригада Петренка"}),
            ("answer", {"text": "Аварійна бригада виїхала, воду перекрито."}),
        ):
            await browser.get(page)
            status, html = await browser.post(f"{page}/{action}", data)
            assert status == 200, html[-500:]
        async with world.runtime.sessionmaker() as session:
            thread = (
                await session.scalars(
                    select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
                )
            ).all()
        answers = [m for m in thread if m.direction == MessageDirection.STAFF]
        assert [m.text for m in answers] == ["Аварійна бригада виїхала, воду перекрито."]
        assert answers[0].delivery_error is None

        found = await asyncio.to_thread(client.get_service_request, number)
        assert found["status"] == "open"
        assert found["status_notes"] == "Аварійна бригада виїхала, воду перекрито."
        world.clock.advance(timedelta(minutes=5))
        await browser.get(page)
        status, html = await browser.post(f"{page}/close")
        assert status == 200
        listed = await asyncio.to_thread(client.get_service_requests, status="closed")
        assert [r["service_request_id"] for r in listed] == [number]
        assert listed[0]["status_notes"] == "Аварійна бригада виїхала, воду перекрито."
        assert await asyncio.to_thread(client.get_service_requests, status="open") == []
        xml_one = await asyncio.to_thread(xml_client.get_service_request, number)
        assert xml_one["status"] == "closed" and xml_one["description"] == DESCRIPTION

        # The updates feed: the answer with its text, then the closing.
        async with http.get(f"{base}/open311/v2/servicerequestupdates.json") as response:
            updates = await response.json()
        steps = [(u["service_request_id"], u["status"], u["description"]) for u in updates]
        assert steps == [
            (number, "open", "Аварійна бригада виїхала, воду перекрито."),
            (number, "closed", None),
        ]
        # No internal note anywhere, nothing personal in any answer, JSON or XML.
        bodies = [json.dumps(updates, ensure_ascii=False)]
        for path in (
            "requests.json",
            "requests.xml",
            f"requests/{number}.json",
            f"requests/{number}.xml",
            "servicerequestupdates.xml",
            f"requests.json?service_request_id={number}",
        ):
            async with http.get(f"{base}/open311/v2/{path}") as response:
                assert response.status == 200
                bodies.append(await response.text())
        _no_personal(*bodies)
        assert not any("бригада Петренка" in body for body in bodies)
        assert "&lt;b&gt;вода&lt;/b&gt;" in bodies[2]  # the XML escapes what was posted
        # Nothing went to any messenger.
        assert world.viber.calls_to("send_message") == []
        assert world.viber.calls_to("broadcast_message") == []
        # Past the retention period the request's words and place are erased; its number,
        # status and dates stay readable.
        async with world.runtime.sessionmaker() as session, session.begin():
            swept = await erase_batch(session, now=world.clock() + timedelta(days=366 * 6), years=5)
        assert swept.tickets == 1
        async with http.get(f"{base}/open311/v2/requests/{number}.json") as response:
            [erased] = await response.json()
        assert erased["status"] == "closed" and erased["requested_datetime"]
        assert [erased[name] for name in ("description", "address", "lat", "long")] == [None] * 4
        assert (erased["media_url"], erased["status_notes"]) == (None, None)


async def test_spec_errors_and_limits(database_url: str) -> None:
    async with desk_world(database_url) as world, aiohttp.ClientSession() as http:
        base = world.base
        _key_id, api_key = await _key(world.runtime)
        good = {
            "api_key": api_key,
            "service_code": "improvement",
            "description": "Зламана лавка у сквері",
            "lat": "47.91",
            "long": "33.39",
        }

        async def refused(fields: dict[str, str], fmt: str = "json") -> tuple[int, Any]:
            status, body = await _post(http, base, fields, fmt)
            return status, body if fmt == "xml" else json.loads(body)

        assert await refused({**good, "api_key": ""}) == (
            400,
            [{"code": 400, "description": "api_key is required"}],
        )
        assert await refused({**good, "api_key": "guess"}) == (
            403,
            [{"code": 403, "description": "api_key is not valid"}],
        )
        status, xml = await refused({**good, "api_key": "guess"}, "xml")
        assert status == 403 and "<errors><error><code>403</code>" in xml
        status, errors = await refused({"api_key": api_key})
        assert status == 400
        assert {e["description"] for e in errors} == {
            "service_code is required",
            "description is required",
            "a location is required: lat and long, or address_string",
        }
        cases = {
            "lat must be between -90 and 90": {"lat": "91"},
            "long must be a number": {"long": "east"},
            "lat and long must be given together": {"long": ""},
            "description is longer than 4000 characters": {"description": "я" * 4001},
            "description contains control characters": {"description": "a\x00b"},
            "media_url must be an http or https URL": {"media_url": "javascript:alert(1)"},
            "email is not an e-mail address": {"email": "not-an-address"},
            "service_code 'potholes' is not a service": {"service_code": "potholes"},
        }
        for description, change in cases.items():
            status, errors = await refused({**good, **change})
            assert (status, errors) == (400, [{"code": 400, "description": description}]), change
        # Wrong types in a JSON body.
        async with http.post(
            f"{base}/open311/v2/requests.json",
            json={**good, "lat": [47], "description": {"x": 1}},
        ) as response:
            assert response.status == 400
            problems = {e["description"] for e in await response.json()}
            assert problems == {"lat must be a number", "description must be text"}
        status, body = await _post(http, base, {**good, "description": "я" * BODY_MAX})
        assert status == 413 and json.loads(body)[0]["code"] == 413
        # A revoked key is refused.
        revoked_id, revoked = await _key(world.runtime, "old-executor")
        async with world.runtime.sessionmaker() as session, session.begin():
            await revoke_key(session, key_id=revoked_id, now=datetime.now(UTC))
        assert (await refused({**good, "api_key": revoked}))[0] == 403
        # Unknown ids and services: 404; malformed filters: 400.
        for path, code in (
            ("services/potholes.json", 404),
            ("services/potholes.xml", 404),
            ("requests/ВД-2026-999999.json", 404),
            ("tokens/nope.json", 404),
            ("requests.json?start_date=yesterday", 400),
            ("requests.json?start_date=2026-01-01T00:00:00", 400),
            ("requests.json?status=pending", 400),
            ("requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", 400),
            ("servicerequestupdates.json?end_date=2020-01-01T00:00:00Z", 200),
        ):
            async with http.get(f"{base}/open311/v2/{path}") as response:
                assert response.status == code, (path, await response.text())
                if path.endswith(".xml"):
                    assert "<errors><error><code>404</code>" in await response.text()
                else:
                    assert isinstance(await response.json(), list)
        # A resident's messenger ticket is never published.
        resident_ticket = await world.file()
        async with world.runtime.sessionmaker() as session:
            resident_number = await session.scalar(
                select(Ticket.number).where(Ticket.id == resident_ticket)
            )
        async with http.get(f"{base}/open311/v2/requests/{resident_number}.json") as response:
            assert response.status == 404
        async with http.get(f"{base}/open311/v2/requests.json") as response:
            assert await response.json() == []
        # The rate limit: POSTS_PER_MINUTE requests a minute per key, then 429.
        for index in range(POSTS_PER_MINUTE):
            status, body = await _post(http, base, {**good, "description": f"Лавка {index}"})
            assert status == 200, body
        status, errors = await refused({**good, "description": "one too many"})
        assert status == 429 and errors[0]["code"] == 429
        world.clock.advance(timedelta(minutes=1, seconds=1))
        assert (await refused({**good, "description": "a minute later"}))[0] == 200
        # An administrator routes the category elsewhere: the service's group and new
        # requests follow at once.
        async with world.runtime.sessionmaker() as session, session.begin():
            await set_route(session, category="improvement", queue_code="transport")
            transport = await session.get(Department, "transport")
            assert transport is not None
        async with http.get(f"{base}/open311/v2/services.json") as response:
            groups = {s["service_code"]: s["group"] for s in await response.json()}
        assert groups["improvement"] == transport.name
        status, body = await _post(http, base, {**good, "description": "Після зміни маршруту"})
        number = json.loads(body)[0]["service_request_id"]
        async with world.runtime.sessionmaker() as session:
            queue = await session.scalar(select(Ticket.queue_code).where(Ticket.number == number))
        assert queue == "transport"


async def test_the_telegram_chat_desk_answers_an_open311_request(database_url: str) -> None:
    """The chat desk's catch-up posts the request to its department's topic like any ticket;
    an answer written there is recorded (no resident to send it to) and read by the system."""
    async with staff_world(database_url, forum=True) as world, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{world.runtime.settings.http_port}"
        _key_id, api_key = await _key(world.runtime)
        fields = {
            "api_key": api_key,
            "service_code": "roads_transport",
            "description": "Яма на перехресті, машини об'їжджають по зустрічній",
            "address_string": "просп. Металургів / вул. Героїв АТО",
            **PERSONAL,
        }
        status, body = await _post(http, base, fields)
        assert status == 200, body
        number = json.loads(body)[0]["service_request_id"]
        resident_before = world.resident_texts()
        assert await world.desk.post_pending() == 1
        async with world.runtime.sessionmaker() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None and ticket.thread_id is not None
        card = card_of(world, ticket)["text"]
        assert number in card and "Open311" in card
        await world.say(OPERATOR, "Ремонт ями заплановано на вівторок", thread_id=ticket.thread_id)
        async with http.get(f"{base}/open311/v2/requests/{number}.json") as response:
            [found] = await response.json()
        assert found["status"] == "open"
        assert found["status_notes"] == "Ремонт ями заплановано на вівторок"
        async with http.get(f"{base}/open311/v2/servicerequestupdates.json") as response:
            updates = await response.json()
        assert [u["description"] for u in updates] == ["Ремонт ями заплановано на вівторок"]
        assert world.resident_texts() == resident_before
        # Neither a refusal nor a failed delivery in the topic: nothing was to be delivered.
        assert not any("Заявник недоступний" in text for text in world.texts())
        assert not any("Не доставлено" in text for text in world.texts())
