"""The organisation registry in the web desk over real HTTP (bot/desk/organisations.py), on
SQLite and PostgreSQL: adding (HTML and emoji kept as text) and editing, problems shown by
field with what was typed kept, the representative's one-time code shown once (not cached,
not in the audit, a repeated submit issuing no second code), invitations to an open
consultation and to a meeting with their answers, and a read-only head who sees the registry
without its forms."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers.staff import consultations as ops
from handlers.staff.core import Actor, Desk
from storage import organisations
from storage.consultations import QuestionDraft
from storage.models import Invitation, Organisation
from storage.vocabulary import Role
from tests.desk_world import Browser, DeskWorld, desk_world
from tests.test_desk_consultation_form import once_of
from tests.test_staff_core_tickets import done

pytestmark = pytest.mark.migrated_database

NAME = "ГО «Зелене <b>місто</b>» 🌳"


async def _post(
    browser: Browser, page_path: str, action: str, fields: list[tuple[str, str]]
) -> tuple[int, str, str]:
    _, page = await browser.get(page_path)
    data = [("csrf", browser.csrf), ("once", once_of(page, action)), *fields]
    async with browser.http.post(browser.base + action, data=data) as response:
        body = await response.text()
        browser._keep_token(body)
        return response.status, body, response.url.path


async def _rows(world: DeskWorld) -> list[Organisation]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(Organisation).order_by(Organisation.id))).all())


FIELDS = [
    ("name", NAME),
    ("kind", "ngo"),
    ("contact_person", "Марія Коваль"),
    ("contact", "+380501234567"),
    ("topics", "decisions"),
    ("topics", "events"),
    ("districts", "pokrovskyi"),
]


async def test_add_edit_and_issue_a_code(database_url: str) -> None:
    async with desk_world(database_url) as world:
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        status, page = await browser.get("/desk/consultations")
        assert 'href="/desk/organisations"' in page
        status, page = await browser.get("/desk/organisations")
        assert status == 200 and "У реєстрі ще немає організацій" in page

        # Problems by field; what was typed is kept.
        bad = [
            ("name", " "),
            ("kind", "cult"),
            ("contact_person", "Марія"),
            ("contact", "1" * 201),
            ("districts", "atlantis"),
        ]
        new = "/desk/organisations/new"
        status, page, _ = await _post(browser, new, new, bad)
        assert status == 422
        assert 'id="name-error">Заповніть це поле.' in page
        assert 'id="kind-error">Виберіть зі списку.' in page
        assert 'id="contact-error">Задовго' in page
        assert 'id="districts-error">Виберіть зі списку.' in page
        assert 'value="Марія"' in page and await _rows(world) == []

        status, page, path = await _post(browser, new, new, FIELDS)
        assert status == 200 and path == "/desk/organisations"
        assert "Організацію додано" in page
        assert "ГО «Зелене &lt;b&gt;місто&lt;/b&gt;» 🌳" in page and "<b>місто</b>" not in page
        assert "Громадська організація" in page and "Марія Коваль" in page
        assert "Рішення міської ради, Події" in page and "<td>Покровський</td>" in page
        [row] = await _rows(world)
        assert row.name == NAME and row.topics == ["decisions", "events"]
        assert row.districts == ["pokrovskyi"] and row.representative_id is None
        assert re.search(rf'<tr id="org-{row.id}">.*?data-field="linked">ні<', page, re.S)

        edit = f"/desk/organisations/{row.id}/edit"
        status, page = await browser.get(edit)
        assert status == 200 and 'value="Марія Коваль"' in page
        changed = [("name", "ГО «Зелене місто»"), ("kind", "initiative")]
        status, page, _ = await _post(browser, edit, edit, changed)
        assert status == 200 and "Зміни збережено" in page
        [row] = await _rows(world)
        assert row.kind == "initiative" and row.contact_person is None and row.topics == []
        assert len(await world.audit("organisation.edit")) == 1

        code = f"/desk/organisations/{row.id}/code"
        _, listing = await browser.get("/desk/organisations")
        key = once_of(listing, code)
        async with browser.http.post(
            browser.base + code, data={"csrf": browser.csrf, "once": key}
        ) as response:
            page = await response.text()
            assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        [issued] = re.findall(r"<code>(ORG-[A-Z0-9]+)</code>", page)
        [row] = await _rows(world)
        first_hash = row.code_hash
        assert first_hash is not None and issued not in first_hash
        [entry] = await world.audit("organisation.code")
        assert issued not in str(entry.details)
        # The same form again (a double click): back to the list, no second code.
        async with browser.http.post(
            browser.base + code, data={"csrf": browser.csrf, "once": key}
        ) as response:
            assert (
                response.url.path == "/desk/organisations" and "ORG-" not in await response.text()
            )
        [row] = await _rows(world)
        assert row.code_hash == first_hash
        async with world.runtime.sessionmaker() as session:
            linked = await organisations.get(session, row.id)
        assert linked is not None and linked.code_expires_at is not None


async def test_invite_to_a_consultation_and_a_meeting(database_url: str) -> None:
    async with desk_world(database_url) as world:
        editor = await world.account("olena", Role.EDITOR)
        browser = await world.signed_in(editor)
        core, actor = world.runtime.consultations, Actor(editor.id, desk=Desk.WEB)
        green = done(await ops.register(core, actor, ops.OrganisationDraft("Зелені", "ngo")))
        city = done(await ops.register(core, actor, ops.OrganisationDraft("Місто", "initiative")))
        draft = ops.Draft(
            title="Правила благоустрою",
            summary="Опис.",
            topic="decisions",
            opens_at=world.clock(),
            closes_at=world.clock() + timedelta(days=7),
            questions=(QuestionDraft("Чи підтримуєте?", ("Так", "Ні")),),
        )
        number = done(await ops.create(core, actor, draft)).id
        page_path = "/desk/organisations"
        invite = "/desk/organisations/invite"
        status, page = await browser.get(page_path)
        # Only an open consultation can be chosen.
        assert f'<option value="{number}"' not in page
        done(await ops.publish(core, actor, number))

        status, page, _ = await _post(browser, page_path, invite, [("consultation", "")])
        assert status == 422 and "Виберіть організації" in page
        fields = [
            ("organisation", str(green.id)),
            ("organisation", str(city.id)),
            ("organisation", str(green.id)),
            ("consultation", str(number)),
        ]
        status, page, path = await _post(browser, page_path, invite, fields)
        assert status == 200 and path == page_path and "Запрошення надіслано" in page
        assert page.count("ще не відповіли") == 2
        assert f'href="/desk/consultations/{number}">Правила благоустрою' in page

        meeting = [
            ("organisation", str(city.id)),
            ("consultation", ""),
            ("meeting", "Круглий стіл <i>у раді</i>"),
            ("meeting_date", "2027-01-15"),
            ("meeting_time", "25:00"),
        ]
        status, page, _ = await _post(browser, page_path, invite, meeting)
        assert status == 422 and "Вкажіть дату й час" in page
        assert 'value="Круглий стіл &lt;i&gt;у раді&lt;/i&gt;"' in page
        meeting[-1] = ("meeting_time", "15:00")
        status, page, _ = await _post(browser, page_path, invite, meeting)
        assert status == 200 and "Круглий стіл &lt;i&gt;у раді&lt;/i&gt;, 15.01.2027 15:00" in page
        async with world.runtime.sessionmaker() as session:
            rows = list((await session.scalars(select(Invitation).order_by(Invitation.id))).all())
        assert [(i.organisation_id, i.consultation_id, i.meeting) for i in rows] == [
            (green.id, number, None),
            (city.id, number, None),
            (city.id, None, "Круглий стіл <i>у раді</i>"),
        ]
        # The consultation's page lists the same invitations.
        _, page = await browser.get(f"/desk/consultations/{number}")
        assert "Зелені" in page and "Місто" in page

        head = await world.signed_in(await world.account("petro", Role.HEAD))
        status, page = await head.get(page_path)
        assert status == 200 and "Зелені" in page and "Круглий стіл" in page
        assert "/desk/organisations/invite" not in page and "/code" not in page
        assert "/desk/organisations/new" not in page
