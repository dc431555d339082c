"""Consultations and the organisation registry in the operator chat through the fake Bot API,
on SQLite and PostgreSQL: a draft typed as one message (and its format errors), the role rule
(an operator reads, an editor or administrator changes; a non-member is refused), publishing,
the registry with a representative's code and an invitation, the card with comments, a
decision that needs its reason, closing with the report's link, the export as two files."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage import consultations
from storage.consultations import AnswerValue
from storage.models import AuditEntry, Consultation, Organisation, Resident
from tests.consultation_seed import submit
from tests.staff_world import ADMIN, OPERATOR, OUTSIDER, World, staff_world

pytestmark = pytest.mark.migrated_database

ZONE = ZoneInfo("Europe/Kyiv")


def _draft(world: World) -> str:
    closes = (world.clock() + timedelta(days=7)).astimezone(ZONE).strftime("%d.%m.%Y %H:%M")
    return (
        "/consult new\n"
        "Правила благоустрою\n"
        "topic: decisions\n"
        "districts: pokrovskyi, ternivskyi\n"
        f"closes: {closes}\n"
        "document: https://kr.gov.ua/draft.pdf\n"
        "? Чи підтримуєте ви проєкт? | Так | Ні\n"
        "? Що варто змінити?\n"
        "Проєкт змінює правила прибирання дворів."
    )


async def _submit(world: World, consultation_id: int, comment: str) -> int:
    async with world.runtime.sessionmaker() as session:
        resident = (await session.scalars(select(Resident))).first()
    assert resident is not None
    answers = {0: AnswerValue(choice=1)}
    return await submit(
        world.runtime.sessionmaker,
        consultation_id,
        resident.id,
        answers=answers,
        now=world.clock(),
        comment=comment,
    )


async def test_consult_and_org_commands(database_url: str) -> None:
    async with staff_world(database_url) as world:
        await world.say(ADMIN, "/consult")
        assert "Обговорень ще немає" in world.texts()[-1]
        await world.say(ADMIN, "/consult help")
        assert "/consult publish N" in world.texts()[-1]
        await world.say(ADMIN, "/consult new\nПравила\ntopic: decisions\n? Так? | Так | Ні")
        assert "closes" in world.texts()[-1]
        # An operator reads but does not create; a non-member is refused.
        await world.say(OPERATOR, _draft(world))
        assert "лише редактори та адміністратори" in world.texts()[-1]
        await world.say(OUTSIDER, _draft(world))
        assert "зареєстровані працівники" in world.texts()[-1]
        async with world.runtime.sessionmaker() as session:
            assert (await session.scalars(select(Consultation))).all() == []

        await world.say(ADMIN, _draft(world))
        assert "Чернетку обговорення №" in world.texts()[-1]
        async with world.runtime.sessionmaker() as session:
            (consultation,) = (await session.scalars(select(Consultation))).all()
        number = consultation.id
        assert consultation.title == "Правила благоустрою"
        assert consultation.districts == ["pokrovskyi", "ternivskyi"]
        assert consultation.summary == "Проєкт змінює правила прибирання дворів."
        assert consultation.document_url == "https://kr.gov.ua/draft.pdf"
        await world.say(ADMIN, f"/consult publish {number}")
        assert f"Обговорення №{number} опубліковано" in world.texts()[-1]
        await world.say(ADMIN, f"/consult publish {number}")
        assert "не в тому стані" in world.texts()[-1]

        await world.say(ADMIN, "/org add club Клуб")
        assert "ngo, party, religious або initiative" in world.texts()[-1]
        await world.say(ADMIN, "/org add ngo ГО <b>Зелене</b> місто")
        async with world.runtime.sessionmaker() as session:
            (organisation,) = (await session.scalars(select(Organisation))).all()
        assert organisation.name == "ГО <b>Зелене</b> місто"
        await world.say(
            ADMIN,
            f"/org edit {organisation.id}\nngo ГО <b>Зелене</b> місто\nperson: Марія Коваль\n"
            "contact: +380501234567\ntopics: decisions, events\ndistricts: pokrovskyi",
        )
        assert f"Організацію №{organisation.id} оновлено" in world.texts()[-1]
        await world.say(ADMIN, f"/org edit {organisation.id}\nngo Назва\ncolour: green")
        assert "«colour»" in world.texts()[-1]
        await world.say(ADMIN, f"/org edit {organisation.id}\nngo Назва\ntopics: weather")
        assert "Невідома тема" in world.texts()[-1]
        async with world.runtime.sessionmaker() as session:
            edited = await session.get(Organisation, organisation.id)
        assert edited is not None and edited.contact_person == "Марія Коваль"
        assert edited.topics == ["decisions", "events"] and edited.districts == ["pokrovskyi"]
        await world.say(ADMIN, f"/org code {organisation.id}")
        assert "<code>ORG-" in world.telegram.calls_to("sendMessage")[-1]["text"]
        assert "&lt;b&gt;" in world.telegram.calls_to("sendMessage")[-1]["text"]
        await world.say(ADMIN, "/org")
        assert "ГО <b>Зелене</b> місто · Громадська організація" in world.texts()[-1]
        await world.say(ADMIN, f"/org invite {organisation.id} consult {number}")
        assert "Запрошень: 1; отримали в месенджері: 0" in world.texts()[-1]
        await world.say(OPERATOR, f"/org responses {number}")
        assert "ще не відповіли" in world.texts()[-1]

        formula = "=1+2 🌳"
        submission = await _submit(world, number, formula)
        await world.say(OPERATOR, f"/consult {number}")
        card = world.texts()[-1]
        assert "Учасників: 1" in card and f"№{submission}" in card and formula in card
        await world.say(ADMIN, f"/consult decide {submission} rejected")
        assert "вкажіть причину" in world.texts()[-1]
        await world.say(ADMIN, f"/consult decide {submission} rejected Суперечить закону")
        assert f"коментаря №{submission} записано" in world.texts()[-1]

        await world.say(ADMIN, f"/consult close {number} Правила ухвалено.")
        closed = world.texts()[-1]
        assert f"Обговорення №{number} закрито" in closed and "/consultations/report/" in closed
        before = len(world.telegram.calls_to("sendDocument"))
        await world.say(OPERATOR, f"/consult export {number}")  # the CSV names people
        assert "лише редактори" in world.texts()[-1]
        await world.say(ADMIN, f"/consult export {number}")
        sent = world.telegram.calls_to("sendDocument")[before:]
        assert len(sent) == 2
        async with world.runtime.sessionmaker() as session:
            stored = await consultations.report_of(session, number)
            actions = (
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.action.like("consultation.%"))
                )
            ).all()
        assert stored is not None
        rows = list(csv.reader(io.StringIO(stored.csv)))
        assert rows[1][rows[0].index("comment")] == "'" + formula
        assert sorted(actions) == [
            "consultation.close",
            "consultation.create",
            "consultation.decide",
            "consultation.export",
            "consultation.publish",
        ]
