"""The staff core's consultation and organisation operations called directly, as either desk
would, on SQLite and PostgreSQL: bounds and role refusals, publishing to the residents of the
topic and districts and to interested organisations' representatives (each person once, in
their language), organisation codes, invitations and their answers, decisions on comments,
closing (the report stored as PDF and formula-safe CSV, the outcome queued for every
participant with the report's link), and ``/forget`` erasing the words while the counts stay.

What the delivery engine takes is checked in ``deliveries``; the engine itself sends them in
tests/test_consultations_resident.py.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.staff import consultations as ops
from handlers.staff.core import Actor, Desk, Reason, StaffCore
from messaging.i18n import Catalog
from storage import consultations, organisations
from storage.consultations import AnswerValue, QuestionDraft
from storage.erasure import erase_resident
from storage.models import (
    AuditEntry,
    Base,
    Broadcast,
    ConsultationSubmission,
    Delivery,
    Invitation,
    Organisation,
    Resident,
)
from storage.residents import get_or_create_resident, set_topics
from storage.vocabulary import Role
from tests.consultation_seed import submit
from tests.staff_accounts import add_staff
from tests.test_staff_core_tickets import Clock, done, refused

M = TypeVar("M", bound=Base)
EDITOR = 9301
OPERATOR = 9302
HEAD = 9303
WEB = Actor(EDITOR, desk=Desk.WEB, address="192.0.2.7")
ZONE = ZoneInfo("Europe/Kyiv")
QUESTIONS = (
    QuestionDraft("Чи підтримуєте ви проєкт?", ("Так", "Ні", "Не знаю")),
    QuestionDraft("Що варто змінити?"),
)


class World:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.clock = Clock()
        self.woken = 0
        self.core = ops.ConsultationCore(
            core=StaffCore(sessionmaker=sessionmaker, clock=self.clock),
            catalog=Catalog.load(),
            zone=ZONE,
            wake=self._wake,
            public_url="https://bot.example.org",
        )

    def _wake(self) -> None:
        self.woken += 1

    async def setup(self) -> None:
        async with self.sessionmaker() as session, session.begin():
            now = self.clock()
            await add_staff(session, EDITOR, Role.EDITOR, now=now)
            await add_staff(session, OPERATOR, Role.OPERATOR, now=now)
            await add_staff(session, HEAD, Role.HEAD, now=now)

    async def resident(
        self,
        external_id: str,
        *,
        district: str | None = "pokrovskyi",
        topics: frozenset[str] = frozenset({"decisions"}),
        language: str = "uk",
    ) -> int:
        async with self.sessionmaker() as session, session.begin():
            resident, _ = await get_or_create_resident(
                session,
                channel="telegram",
                external_id=external_id,
                name=None,
                language=language,
                now=self.clock(),
            )
            resident.district = district
            resident.consent_at = self.clock()
            set_topics(resident, topics)
            await session.flush()
            return resident.id

    def draft(self, **changes: object) -> ops.Draft:
        fields: dict[str, object] = {
            "title": "Правила благоустрою",
            "summary": "Проєкт змінює правила прибирання дворів.",
            "topic": "decisions",
            "opens_at": self.clock(),
            "closes_at": self.clock() + timedelta(days=14),
            "questions": QUESTIONS,
            "districts": ("pokrovskyi",),
            "document_url": "https://kr.gov.ua/draft.pdf",
        }
        fields.update(changes)
        return ops.Draft(**fields)  # type: ignore[arg-type]

    async def rows(self, model: type[M], *where: ColumnElement[bool]) -> list[M]:
        async with self.sessionmaker() as session:
            return list((await session.scalars(select(model).where(*where))).all())

    async def audit(self, prefix: str) -> list[str]:
        rows = await self.rows(AuditEntry, AuditEntry.action.like(f"{prefix}%"))
        return sorted(row.action for row in rows)

    async def submit(
        self,
        consultation_id: int,
        resident_id: int,
        *,
        comment: str | None,
        choice: int = 0,
        organisation_id: int | None = None,
    ) -> int:
        answers = {0: AnswerValue(choice=choice), 1: AnswerValue(text="Більше смітників")}
        return await submit(
            self.sessionmaker,
            consultation_id,
            resident_id,
            answers=answers,
            now=self.clock(),
            comment=comment,
            organisation_id=organisation_id,
        )

    async def organisation(self, name: str = "ГО «Зелене місто»", **fields: object) -> int:
        draft = ops.OrganisationDraft(name=name, kind=str(fields.pop("kind", "ngo")), **fields)  # type: ignore[arg-type]
        return done(await ops.register(self.core, WEB, draft)).id

    async def represent(self, organisation_id: int, resident_id: int) -> None:
        code = done(await ops.issue_code(self.core, WEB, organisation_id)).code
        async with self.sessionmaker() as session, session.begin():
            resident = await session.get(Resident, resident_id)
            assert resident is not None
            found = await organisations.redeem(
                session, code=code.lower(), resident=resident, now=self.clock()
            )
            assert found is not None and found.id == organisation_id


@pytest.fixture
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    made = World(sessionmaker)
    await made.setup()
    return made


async def test_revise_rewrites_a_draft_only(world: World) -> None:
    """A draft is rewritten whole (its questions replaced, the file kept as given); a bad draft,
    another role or a published consultation is refused and changes nothing."""
    number = done(await ops.create(world.core, WEB, world.draft())).id
    changed = world.draft(
        title="Нова <b>назва</b> 🌳",
        districts=(),
        questions=(QuestionDraft("Чому?"),),
        document_url=None,
        document_ref="kept:7",
        document_name="d.pdf",
    )
    revised = done(await ops.revise(world.core, WEB, number, changed))
    assert revised.title == "Нова <b>назва</b> 🌳" and revised.districts == []
    assert revised.document_ref == "kept:7" and revised.document_url is None
    async with world.sessionmaker() as session:
        questions = await consultations.questions_of(session, number)
    assert [(q.text, q.options, q.position) for q in questions] == [("Чому?", [], 0)]

    operator = Actor(OPERATOR, desk=Desk.WEB)
    assert refused(await ops.revise(world.core, operator, number, changed)).reason is Reason.ROLE
    bad = refused(await ops.revise(world.core, WEB, number, world.draft(questions=())))
    assert bad.details["code"] == "no_questions"
    assert refused(await ops.revise(world.core, WEB, 999999, changed)).reason is Reason.NOT_FOUND
    done(await ops.publish(world.core, WEB, number))
    late = refused(await ops.revise(world.core, WEB, number, world.draft()))
    assert late.reason is Reason.STATE and late.details["code"] == "not_draft"
    async with world.sessionmaker() as session:
        found = await consultations.get(session, number)
        questions = await consultations.questions_of(session, number)
    assert found is not None and found.title == "Нова <b>назва</b> 🌳" and len(questions) == 1
    assert await world.audit("consultation.revise") == ["consultation.revise"]


async def test_create_refuses_bad_drafts_and_roles(world: World) -> None:
    now = world.clock()
    bad = {
        "empty title": world.draft(title="   "),
        "huge summary": world.draft(summary="а" * 3001),
        "unknown topic": world.draft(topic="weather"),
        "unknown district": world.draft(districts=("atlantis",)),
        "closes before it opens": world.draft(closes_at=now - timedelta(hours=1)),
        "no questions": world.draft(questions=()),
        "one option": world.draft(questions=(QuestionDraft("Так?", ("Так",)),)),
        "javascript link": world.draft(document_url="javascript:alert(1)"),
    }
    for what, draft in bad.items():
        assert refused(await ops.create(world.core, WEB, draft)).reason is Reason.INVALID, what
    for staff_id in (OPERATOR, HEAD):
        denied = refused(await ops.create(world.core, Actor(staff_id), world.draft()))
        assert denied.reason is Reason.ROLE
    # Every role reads.
    assert done(await ops.listing(world.core, Actor(HEAD))) == []

    title = "<b>Правила</b> 🌳"
    created = done(await ops.create(world.core, WEB, world.draft(title=title)))
    assert created.status == "draft" and created.title == title
    card = done(await ops.card(world.core, Actor(HEAD), created.id))
    assert [q.options for q in card.questions] == [["Так", "Ні", "Не знаю"], []]
    assert refused(await ops.card(world.core, WEB, 999_999)).reason is Reason.NOT_FOUND
    assert await world.audit("consultation.") == ["consultation.create"]
    assert len(await world.audit("staff.denied")) == 2


async def test_publish_reaches_topic_district_and_representatives_once(world: World) -> None:
    subscriber = await world.resident("1")
    english = await world.resident("2", language="en")
    city_wide = await world.resident("3", district="city")
    await world.resident("4", district="ternivskyi")  # another district
    await world.resident("5", topics=frozenset({"events"}))  # another topic
    representative = await world.resident("6", district="ternivskyi", topics=frozenset())
    both = await world.resident("7")  # a subscriber who also represents an organisation
    uninterested = await world.resident("8", district="ternivskyi", topics=frozenset())
    green = await world.organisation(topics=("decisions",), districts=("pokrovskyi",))
    await world.represent(green, representative)
    other = await world.organisation("Парафія", kind="religious")  # every topic, whole city
    await world.represent(other, both)
    sport = await world.organisation("Спортклуб", kind="initiative", topics=("events",))
    await world.represent(sport, uninterested)

    created = done(await ops.create(world.core, WEB, world.draft(title="<b>Правила</b> 🌳")))
    published = done(await ops.publish(world.core, WEB, created.id))
    assert published.recipients == 5 and world.woken == 1
    deliveries = await world.rows(Delivery)
    assert sorted(d.resident_id for d in deliveries if d.resident_id is not None) == sorted(
        [subscriber, english, city_wide, representative, both]
    )
    broadcasts = {b.id: b for b in await world.rows(Broadcast)}
    by_resident = {d.resident_id: broadcasts[d.broadcast_id] for d in deliveries}
    assert "Громадське обговорення" in by_resident[subscriber].text
    # A title is a person's text: escaped in the markup, its emoji kept.
    assert "&lt;b&gt;Правила&lt;/b&gt; 🌳" in by_resident[subscriber].text
    assert "Public consultation" in by_resident[english].text
    assert by_resident[subscriber].buttons == [[["📝 Взяти участь", f"csopen:{created.id}"]]]

    again = refused(await ops.publish(world.core, WEB, created.id))
    assert again.reason is Reason.STATE
    assert len(await world.rows(Delivery)) == 5


async def test_codes_invitations_and_responses(world: World) -> None:
    resident = await world.resident("1")
    organisation_id = await world.organisation(contact_person="Марія", contact="+380501234567")
    bad = ops.OrganisationDraft(name="X", kind="club")
    assert refused(await ops.register(world.core, WEB, bad)).reason is Reason.INVALID
    empty = ops.OrganisationDraft(name=" ", kind="ngo")
    assert refused(await ops.register(world.core, WEB, empty)).reason is Reason.INVALID
    code = done(await ops.issue_code(world.core, WEB, organisation_id))
    assert organisations.looks_like_code(code.code) == code.code
    assert organisations.looks_like_code(" " + code.code.lower() + " ") == code.code
    assert organisations.looks_like_code("ORG-0000000000") is None  # 0 is not in the alphabet
    # A newer code replaces it; an expired one does not work.
    newer = done(await ops.issue_code(world.core, WEB, organisation_id)).code
    async with world.sessionmaker() as session, session.begin():
        person = await session.get(Resident, resident)
        assert person is not None
        now = world.clock()
        assert await organisations.redeem(session, code=code.code, resident=person, now=now) is None
        late = now + organisations.CODE_TTL + timedelta(seconds=1)
        assert await organisations.redeem(session, code=newer, resident=person, now=late) is None
        # Used up even by the late attempt.
        assert await organisations.redeem(session, code=newer, resident=person, now=now) is None
    await world.represent(organisation_id, resident)
    issued = await world.rows(AuditEntry, AuditEntry.action == "organisation.code")
    assert len(issued) == 3
    assert all(
        code.code not in str(row.details) and newer not in str(row.details) for row in issued
    )

    unlinked = await world.organisation("Ініціатива двору", kind="initiative")
    consultation = done(await ops.create(world.core, WEB, world.draft()))
    invite = ops.Invite((organisation_id, unlinked, organisation_id), consultation.id)
    assert refused(await ops.invite(world.core, WEB, invite)).reason is Reason.STATE  # a draft
    done(await ops.publish(world.core, WEB, consultation.id))
    before = len(await world.rows(Delivery))
    invited = done(await ops.invite(world.core, WEB, invite))
    assert len(invited.invitation_ids) == 2 and invited.reached == 1
    assert len(await world.rows(Delivery)) == before + 1
    meeting = ops.Invite((unlinked,), meeting="Круглий стіл", meeting_at=world.clock())
    done(await ops.invite(world.core, WEB, meeting))
    nothing = ops.Invite((unlinked,))
    assert refused(await ops.invite(world.core, WEB, nothing)).reason is Reason.INVALID
    assert refused(await ops.invite(world.core, Actor(OPERATOR), meeting)).reason is Reason.ROLE

    first = invited.invitation_ids[0]
    async with world.sessionmaker() as session, session.begin():
        yes = organisations.Response.YES
        assert await organisations.respond(
            session, invitation_id=first, response=yes, now=world.clock()
        )
        no = organisations.Response.NO
        assert not await organisations.respond(
            session, invitation_id=first, response=no, now=world.clock()
        )
    await world.submit(consultation.id, resident, comment="Від ГО", organisation_id=organisation_id)
    listed = done(await ops.responses(world.core, Actor(HEAD), consultation_id=consultation.id))
    assert [(r.organisation.id, r.invitation.response, r.submitted) for r in listed] == [
        (organisation_id, "yes", True),
        (unlinked, None, False),
    ]
    assert len(await world.rows(Invitation)) == 3


async def test_decisions_close_report_outcome_and_forget(world: World) -> None:
    a = await world.resident("1")
    b = await world.resident("2", district="ternivskyi")
    organisation_id = await world.organisation()
    await world.represent(organisation_id, b)
    created = done(await ops.create(world.core, WEB, world.draft()))
    done(await ops.publish(world.core, WEB, created.id))
    formula = '=HYPERLINK("http://evil.example","клік")'
    first = await world.submit(created.id, a, comment=formula)
    # The same resident again is an edit of their one submission.
    assert await world.submit(created.id, a, comment=formula, choice=1) == first
    mine = await world.submit(created.id, b, comment=None, choice=1)
    theirs = await world.submit(
        created.id, b, comment="Пропонуємо 🌳 <i>більше</i> дерев", organisation_id=organisation_id
    )
    assert len({first, mine, theirs}) == 3

    assert refused(await ops.decide(world.core, WEB, first, "rejected")).reason is Reason.INVALID
    assert refused(await ops.decide(world.core, WEB, first, "maybe")).reason is Reason.INVALID
    assert refused(await ops.decide(world.core, WEB, mine, "accepted")).reason is Reason.STATE
    assert (
        refused(await ops.decide(world.core, WEB, 999_999, "accepted")).reason is Reason.NOT_FOUND
    )
    done(await ops.decide(world.core, WEB, first, "rejected", "Суперечить закону"))
    done(await ops.decide(world.core, WEB, theirs, "accepted"))

    assert refused(await ops.close(world.core, WEB, created.id, "  ")).reason is Reason.INVALID
    before = len(await world.rows(Delivery))
    closed = done(await ops.close(world.core, WEB, created.id, "Правила ухвалено зі змінами."))
    assert closed.recipients == 2  # two people, three submissions
    assert closed.link == f"https://bot.example.org/consultations/report/{closed.report_token}.pdf"
    outcome = [d for d in await world.rows(Delivery)][before:]
    assert sorted(d.resident_id for d in outcome if d.resident_id is not None) == sorted([a, b])
    texts = {b.text for b in await world.rows(Broadcast, Broadcast.kind == "consult_outcome")}
    assert any(closed.link in text and "Правила ухвалено" in text for text in texts)
    assert refused(await ops.close(world.core, WEB, created.id, "ще раз")).reason is Reason.STATE

    report = done(await ops.export(world.core, WEB, created.id))
    assert report.pdf.startswith(b"%PDF") and len(report.pdf) > 1000
    rows = list(csv.reader(io.StringIO(report.csv)))
    header, *lines = rows
    assert header[:4] == ["submission", "kind", "organisation", "name"]
    by_id = {int(line[0]): dict(zip(header, line, strict=True)) for line in lines}
    assert by_id[first]["comment"] == "'" + formula  # never a live formula
    assert by_id[first]["decision"] == "rejected" and by_id[first]["reason"] == "Суперечить закону"
    assert by_id[first]["q1: Чи підтримуєте ви проєкт?"] == "Ні"
    assert by_id[theirs]["kind"] == "organisation"
    assert by_id[theirs]["organisation"] == "ГО «Зелене місто»"
    assert by_id[mine]["district"] == "ternivskyi"

    # A decision after the close remakes the stored report.
    done(await ops.decide(world.core, WEB, theirs, "partly", "Частину дерев висадять"))
    redone = done(await ops.export(world.core, WEB, created.id))
    assert "Частину дерев висадять" in redone.csv and redone.pdf != report.pdf
    counted = await _participation(world, created.id)

    # /forget: words and names go, the counts and chosen options stay.
    async with world.sessionmaker() as session, session.begin():
        person = await session.get(Resident, b)
        assert person is not None
        await erase_resident(session, person, now=world.clock(), actor=f"resident:{b}")
    erased = await world.rows(ConsultationSubmission, ConsultationSubmission.resident_id == b)
    assert all(s.name is None and s.comment is None and s.erased_at for s in erased)
    assert await _participation(world, created.id) == counted
    (organisation,) = await world.rows(Organisation)
    assert organisation.representative_id is None
    assert await world.audit("consultation.") == [
        "consultation.close",
        "consultation.create",
        "consultation.decide",
        "consultation.decide",
        "consultation.decide",
        "consultation.export",
        "consultation.export",
        "consultation.publish",
    ]


async def _participation(world: World, consultation_id: int) -> tuple[object, ...]:
    async with world.sessionmaker() as session:
        counted = await consultations.participation(session, consultation_id=consultation_id)
        choices = await consultations.choice_counts(session, consultation_id=consultation_id)
    return counted.by_district, counted.residents, counted.organisations, choices


async def test_editing_a_comment_clears_its_decision(world: World) -> None:
    a = await world.resident("1")
    created = done(await ops.create(world.core, WEB, world.draft()))
    done(await ops.publish(world.core, WEB, created.id))
    submission = await world.submit(created.id, a, comment="Перше")
    done(await ops.decide(world.core, WEB, submission, "accepted"))
    await world.submit(created.id, a, comment="Перше")  # unchanged: the decision stays
    (row,) = await world.rows(ConsultationSubmission)
    assert row.decision == "accepted"
    await world.submit(created.id, a, comment="Друге")
    (row,) = await world.rows(ConsultationSubmission)
    assert row.decision is None and row.decided_by is None
