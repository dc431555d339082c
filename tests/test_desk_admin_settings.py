"""The desk's calendar (holidays, martial law) and answer templates over real HTTP, on both
databases: who may open them, what each change stores and audits, and bad input answered
clearly."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from storage.calendar_store import load_calendar
from storage.models import CategoryRoute, Department, Holiday, Template
from storage.vocabulary import Role
from tests.desk_world import desk_world

pytestmark = pytest.mark.migrated_database

CALENDAR_ACTIONS = (
    "/desk/admin/calendar/holidays",
    "/desk/admin/calendar/holidays/remove",
    "/desk/admin/calendar/martial-law",
)
TEMPLATE_ACTIONS = ("/desk/admin/templates", "/desk/admin/templates/delete")


async def test_who_may_open_the_calendar_and_templates(database_url: str) -> None:
    async with desk_world(database_url) as world:
        stranger = await world.browser()
        for path in ("/desk/admin/calendar", "/desk/admin/templates"):
            async with stranger.http.get(world.base + path, allow_redirects=False) as response:
                assert response.status == 303
        for path in CALENDAR_ACTIONS + TEMPLATE_ACTIONS:
            assert (await stranger.post(path, {"x": "1"}, csrf=False))[0] == 401, path
        form = {"day": "2026-12-31", "name": "x", "state": "off", "text": "x"}
        for login, role in (("oper", Role.OPERATOR), ("head", Role.HEAD), ("ed", Role.EDITOR)):
            browser = await world.signed_in(await world.account(login, role))
            assert (await browser.get("/desk/admin/calendar"))[0] == 403, role
            for path in CALENDAR_ACTIONS:
                assert (await browser.post(path, form))[0] == 403, (role, path)
            allowed = role is Role.EDITOR
            assert (await browser.get("/desk/admin/templates"))[0] == (200 if allowed else 403)
            if not allowed:
                for path in TEMPLATE_ACTIONS:
                    assert (await browser.post(path, {"name": "x", "text": "x"}))[0] == 403
            body = (await browser.get("/desk/"))[1]
            assert ('href="/desk/admin/templates"' in body) is allowed
            assert 'href="/desk/admin/calendar"' not in body
        async with world.runtime.sessionmaker() as session:
            assert (await load_calendar(session)).martial_law
            assert (await session.get(Holiday, date(2026, 12, 31))) is None
            assert (await session.scalars(select(Template))).first() is None
        boss = await world.signed_in(await world.account("boss", Role.ADMIN, totp=True))
        assert (await boss.get("/desk/admin/calendar"))[0] == 200
        assert (await boss.get("/desk/admin/templates"))[0] == 200


async def test_holidays_and_martial_law(database_url: str) -> None:
    async with desk_world(database_url) as world:
        await world.file(kind="info_request")
        boss = await world.signed_in(await world.account("boss", Role.ADMIN, totp=True))
        status, body = await boss.get("/desk/admin/calendar?year=2026")
        assert status == 200 and "Воєнний стан діє" in body
        status, body = await boss.post("/desk/admin/calendar/martial-law", {"state": "off"})
        assert status == 200 and "Воєнний стан не діє" in body and "Строків" in body
        (entry,) = await world.audit("martial_law.off")
        assert entry.details["address"] == "127.0.0.1" and "deadlines_moved" in entry.details
        form = {"day": "2026-12-30", "name": "<b>День міста</b> 🎉"}
        status, body = await boss.post("/desk/admin/calendar/holidays", form)
        assert status == 200 and "&lt;b&gt;День міста&lt;/b&gt; 🎉" in body
        async with world.runtime.sessionmaker() as session:
            holiday = await session.get(Holiday, date(2026, 12, 30))
            assert holiday is not None and holiday.name == "<b>День міста</b> 🎉"
        (added,) = await world.audit("holiday.add")
        assert added.subject == "2026-12-30" and added.actor.startswith("staff:")
        # Bad input: no date, a junk date, an empty or huge name, an unknown state.
        for bad in (
            {"day": "", "name": "x"},
            {"day": "31.12.2026", "name": "x"},
            {"day": "2026-12-29", "name": "  "},
            {"day": "2026-12-29", "name": "я" * 500},
        ):
            status, body = await boss.post("/desk/admin/calendar/holidays", bad)
            assert status == 400 and 'role="alert"' in body, bad
        assert (await boss.post("/desk/admin/calendar/martial-law", {"state": "x"}))[0] == 400
        status, _ = await boss.post("/desk/admin/calendar/holidays/remove", {"day": "2026-12-30"})
        assert status == 200
        status, body = await boss.post(
            "/desk/admin/calendar/holidays/remove", {"day": "2026-12-30"}
        )
        assert status == 400 and "немає у списку" in body
        assert len(await world.audit("holiday.remove")) == 1
        status, body = await boss.post("/desk/admin/calendar/martial-law", {"state": "on"})
        assert status == 200 and "Воєнний стан діє" in body


async def test_answer_templates(database_url: str) -> None:
    async with desk_world(database_url) as world:
        editor = await world.signed_in(await world.account("ed", Role.EDITOR))
        form = {"name": "Дякуємо", "text": "Дякуємо за звернення! <i>Відповімо</i> 🙏"}
        status, body = await editor.post("/desk/admin/templates", form)
        assert status == 200 and "Шаблон збережено" in body
        assert "&lt;i&gt;Відповімо&lt;/i&gt; 🙏" in body
        # Edit: the form is filled from the list; saving the same name replaces the text.
        status, body = await editor.get("/desk/admin/templates?edit=дякуємо")
        assert "Дякуємо за звернення!" in body.split("</textarea>")[0]
        form = {"name": "дякуємо", "text": "Новий текст"}
        status, body = await editor.post("/desk/admin/templates", form)
        async with world.runtime.sessionmaker() as session:
            (stored,) = (await session.scalars(select(Template))).all()
        assert stored.name == "дякуємо" and stored.text == "Новий текст"
        # Bad input keeps what was typed.
        for bad in (
            {"name": "two words", "text": "Текст, що лишається"},
            {"name": "x", "text": "   "},
            {"name": "x", "text": "я" * 5000},
            {"name": "", "text": "Текст, що лишається"},
        ):
            status, body = await editor.post("/desk/admin/templates", bad)
            assert status == 400 and 'role="alert"' in body, bad["name"]
            assert bad["text"][:100] in body or not bad["text"].strip()
        status, body = await editor.post("/desk/admin/templates/delete", {"name": "дякуємо"})
        assert status == 200 and "Шаблон видалено" in body
        status, body = await editor.post("/desk/admin/templates/delete", {"name": "дякуємо"})
        assert status == 404
        assert [len(await world.audit(a)) for a in ("template.save", "template.delete")] == [2, 1]


DEPARTMENT_ACTIONS = (
    "/desk/admin/departments",
    "/desk/admin/departments/routes",
    "/desk/admin/departments/housing",
)


async def test_departments_and_routing(database_url: str) -> None:
    async with desk_world(database_url) as world:
        stranger = await world.browser()
        async with stranger.http.get(
            world.base + "/desk/admin/departments", allow_redirects=False
        ) as response:
            assert response.status == 303
        for path in DEPARTMENT_ACTIONS:
            assert (await stranger.post(path, {"x": "1"}, csrf=False))[0] == 401
        form = {"code": "evil", "name": "x", "route_housing": "other"}
        for login, role in (("oper", Role.OPERATOR), ("head", Role.HEAD), ("ed", Role.EDITOR)):
            browser = await world.signed_in(await world.account(login, role))
            assert (await browser.get("/desk/admin/departments"))[0] == 403
            for path in DEPARTMENT_ACTIONS:
                assert (await browser.post(path, form))[0] == 403, (role, path)
        boss = await world.signed_in(await world.account("boss", Role.ADMIN, totp=True))
        status, body = await boss.get("/desk/admin/departments")
        assert status == 200 and 'action="/desk/admin/departments/housing"' in body
        # Rename, set a chat, stop taking tickets.
        form = {"name": "ЖКГ <відділ> 🏠", "chat_id": "-1001234567890"}
        status, body = await boss.post("/desk/admin/departments/housing", form)
        assert status == 200 and "Відділ збережено" in body and "ЖКГ &lt;відділ&gt; 🏠" in body
        async with world.runtime.sessionmaker() as session:
            housing = await session.get(Department, "housing")
            assert housing is not None and housing.chat_id == -1001234567890
            assert not housing.is_active and housing.name == "ЖКГ <відділ> 🏠"
        # Bad input.
        for path, bad in (
            ("/desk/admin/departments/housing", {"name": "", "active": "1"}),
            ("/desk/admin/departments/housing", {"name": "x", "chat_id": "12a"}),
            ("/desk/admin/departments", {"code": "Bad Code", "name": "x"}),
            ("/desk/admin/departments", {"code": "housing", "name": "x"}),
            ("/desk/admin/departments", {"code": "routes", "name": "x"}),
            ("/desk/admin/departments/routes", {"route_housing": "nowhere"}),
        ):
            status, body = await boss.post(path, bad)
            assert status == 400 and 'role="alert"' in body, bad
        assert (await boss.post("/desk/admin/departments/nosuch", {"name": "x"}))[0] == 404
        # A new department, and a category routed to it.
        status, body = await boss.post(
            "/desk/admin/departments", {"code": "ecology", "name": "Екологія"}
        )
        assert status == 200 and "Екологія" in body
        status, body = await boss.post(
            "/desk/admin/departments/routes", {"route_improvement": "ecology"}
        )
        assert status == 200 and "Маршрути збережено" in body
        async with world.runtime.sessionmaker() as session:
            routed = await session.get(CategoryRoute, "improvement")
            assert routed is not None and routed.queue_code == "ecology"
        for action in ("queue.change", "queue.add", "queue.route"):
            (entry,) = await world.audit(action)
            assert entry.details["address"] == "127.0.0.1", action
