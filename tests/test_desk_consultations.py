"""Consultations in the web desk over real HTTP (bot/desk/consultations.py), on SQLite and
PostgreSQL: the list and a consultation's page (answers with shares, comments escaped and
signed by district or organisation, never by a resident's name), publishing, a decision
refused without its reason and then recorded, the report as PDF and formula-safe CSV, closing
with the outcome; a read-only head sees the page without the forms."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers.staff import consultations as ops
from handlers.staff.core import Actor, Desk
from storage.consultations import AnswerValue, QuestionDraft
from storage.models import ConsultationSubmission, Resident
from storage.residents import get_or_create_resident
from storage.vocabulary import Role
from tests.consultation_seed import submit
from tests.desk_world import Browser, DeskWorld, desk_world
from tests.test_staff_core_tickets import done

pytestmark = pytest.mark.migrated_database

COMMENT = "<script>alert(1)</script> =1+2"


def _once(page: str, action: str) -> str:
    found = re.search(
        rf'/{action}" class="[^"]*">\s*<input[^>]*>\s*<input type="hidden" '
        r'name="once" value="([^"]+)"',
        page,
    )
    assert found is not None, action
    return found.group(1)


async def _submit(world: DeskWorld, consultation_id: int) -> int:
    async with world.runtime.sessionmaker() as session, session.begin():
        resident, _ = await get_or_create_resident(
            session,
            channel="viber",
            external_id="VbConsultRes000000000==",
            name=None,
            language="uk",
            now=world.clock(),
        )
        resident.district = "ternivskyi"
        await session.flush()
        resident_id = resident.id
    return await submit(
        world.runtime.sessionmaker,
        consultation_id,
        resident_id,
        answers={0: AnswerValue(choice=1)},
        now=world.clock(),
        comment=COMMENT,
        name="Оксана Секретна",
    )


async def _action(
    browser: Browser, number: int, action: str, fields: dict[str, str]
) -> tuple[int, str]:
    _, page = await browser.get(f"/desk/consultations/{number}")
    data = {"once": _once(page, action), **fields}
    return await browser.post(f"/desk/consultations/{number}/{action}", data)


async def test_page_decide_export_publish_and_close(database_url: str) -> None:
    async with desk_world(database_url) as world:
        editor = await world.account("olena", Role.EDITOR)
        head = await world.account("petro", Role.HEAD)
        browser = await world.signed_in(editor)
        core = world.runtime.consultations
        draft = ops.Draft(
            title="Правила <b>благоустрою</b>",
            summary="Проєкт змінює правила прибирання дворів.",
            topic="decisions",
            opens_at=world.clock(),
            closes_at=world.clock() + timedelta(days=7),
            questions=(QuestionDraft("Чи підтримуєте?", ("Так", "Ні")),),
        )
        number = done(await ops.create(core, Actor(editor.id, desk=Desk.WEB), draft)).id

        status, page = await browser.get("/desk/consultations")
        assert status == 200 and "Правила &lt;b&gt;благоустрою&lt;/b&gt;" in page
        status, page = await _action(browser, number, "publish", {})
        assert status == 200 and "опубліковано" in page
        submission = await _submit(world, number)
        green = done(
            await ops.register(
                core, Actor(editor.id, desk=Desk.WEB), ops.OrganisationDraft("ГО «Зелене»", "ngo")
            )
        )
        invite = ops.Invite((green.id,), consultation_id=number)
        done(await ops.invite(core, Actor(editor.id, desk=Desk.WEB), invite))
        status, page = await browser.get(f"/desk/consultations/{number}")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
        assert "Мешканець, Тернівський" in page and "Оксана Секретна" not in page
        assert "Ні: 1 (100%)" in page and "Так: 0 (0%)" in page
        assert "Запрошені організації" in page and "ГО «Зелене»" in page
        assert "ще не відповіли" in page

        fields = {"submission": str(submission), "decision": "rejected", "reason": ""}
        status, page = await _action(browser, number, "decide", fields)
        assert status == 422 and "вкажіть причину" in page
        fields["reason"] = "Суперечить правилам"
        status, page = await _action(browser, number, "decide", fields)
        assert status == 200 and "Рішення записано" in page
        # A submission of another consultation (or none) is not found through this one.
        fields["submission"] = "999999"
        status, _ = await _action(browser, number, "decide", fields)
        assert status == 404

        status, body = await browser.get(f"/desk/consultations/{number}/report.csv")
        assert status == 200
        rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
        assert rows[1][rows[0].index("comment")] == COMMENT  # starts with "<": not a formula
        assert rows[1][rows[0].index("name")] == "Оксана Секретна"
        async with browser.http.get(
            f"{browser.base}/desk/consultations/{number}/report.pdf"
        ) as response:
            assert response.status == 200 and (await response.read()).startswith(b"%PDF")

        reader = await world.signed_in(head)
        status, page = await reader.get(f"/desk/consultations/{number}")
        assert status == 200 and "/decide" not in page and "report.csv" not in page

        status, page = await _action(browser, number, "close", {"outcome": "Ухвалено."})
        assert status == 200 and "Обговорення закрито" in page and "закрите" in page
        async with world.runtime.sessionmaker() as session:
            row = (await session.scalars(select(ConsultationSubmission))).one()
            resident = await session.get(Resident, row.resident_id)
        assert row.decision == "rejected" and resident is not None
        assert len(await world.audit("consultation.close")) == 1
