"""The staff core's incident operations called directly, as either desk would, on SQLite and
PostgreSQL: open with preselected tickets, link one / many, unlink, suggestions, status
updates queued once per person in their language, resolving (feedback closed with the answer,
appeals kept until their legal answer is sent), the audit and the role refusals.

The resident's messenger is a recording ``Sender`` (ticket answers go out directly); status
updates are checked where the delivery engine takes them from (``deliveries``): the engine
itself sends them in tests/test_incidents_resident.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts import spikes
from handlers.forged import ForgedAction
from handlers.notify import Notifier
from handlers.staff import incidents as ops
from handlers.staff.core import Actor, Desk, Reason, StaffCore
from handlers.staff.notices import Notices
from handlers.staff.tickets.context import TicketCore
from handlers.tickets.flows import ResidentTickets, TicketPolicy
from handlers.turn import Turn
from messaging.contract import EventKind, Identity, Incoming
from messaging.i18n import Catalog
from storage import incidents
from storage.deadlines import TicketKind
from storage.filing import FilingPolicy, TicketForm, file_ticket
from storage.incidents import IncidentStatus
from storage.models import (
    AuditEntry,
    Base,
    Broadcast,
    Delivery,
    IncidentAnswer,
    IncidentFollower,
    Resident,
    Ticket,
    TicketMessage,
)
from storage.residents import get_or_create_resident
from storage.tickets import add_message
from storage.vocabulary import MessageDirection, Role, TicketStatus
from tests.staff_accounts import add_staff
from tests.test_pipeline import RecordingSender
from tests.test_staff_core_tickets import ZONE, Clock, RecordingEvents, done, refused

M = TypeVar("M", bound=Base)
OPERATOR = 9102
EDITOR = 9103
HEAD = 9104
OTHER_DEPARTMENT = 9105  # an operator of the transport department only
WEB = Actor(OPERATOR, desk=Desk.WEB, address="192.0.2.9")


class World:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.clock = Clock()
        self.sender = RecordingSender()
        self.woken = 0
        catalog = Catalog.load()
        notifier = Notifier(
            senders={"telegram": self.sender}, sessionmaker=sessionmaker, clock=self.clock
        )
        tickets = TicketCore(
            core=StaffCore(sessionmaker=sessionmaker, clock=self.clock),
            notices=Notices(notifier=notifier, catalog=catalog, zone=ZONE, media=None),
            events=RecordingEvents(),
            sessionmaker=sessionmaker,
            clock=self.clock,
            zone=ZONE,
            operator_chat_id=None,
            feedback_days=10,
            legal_aid_days=10,
        )
        self.core = ops.IncidentCore(tickets=tickets, catalog=catalog, wake=self._wake)

    def _wake(self) -> None:
        self.woken += 1

    async def setup(self) -> None:
        async with self.sessionmaker() as session, session.begin():
            now = self.clock()
            await add_staff(session, OPERATOR, Role.OPERATOR, now=now)
            await add_staff(session, EDITOR, Role.EDITOR, now=now)
            await add_staff(session, HEAD, Role.HEAD, now=now)
            await add_staff(
                session, OTHER_DEPARTMENT, Role.OPERATOR, now=now, departments=["transport"]
            )

    async def resident(
        self, external_id: str, *, district: str | None = "pokrovskyi", language: str = "uk"
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
            await session.flush()
            return resident.id

    async def file(
        self,
        resident_id: int,
        *,
        kind: str = "feedback",
        category: str = "housing",
        ago: timedelta = timedelta(0),
    ) -> int:
        now = self.clock() - ago
        form = TicketForm(
            kind=TicketKind(kind),
            channel="telegram",
            body="Немає води у будинку",
            category=category,
            appeal_type="complaint" if kind == "appeal" else None,
            anonymous=kind == "feedback",
            full_name=None if kind == "feedback" else "Оксана Петренко",
        )
        async with self.sessionmaker() as session, session.begin():
            resident = await session.get(Resident, resident_id)
            assert resident is not None
            ticket = await file_ticket(
                session,
                resident=resident,
                form=form,
                now=now,
                policy=FilingPolicy(zone=ZONE),
                actor=f"resident:{resident_id}",
            )
            return ticket.id

    async def rows(self, model: type[M], *where: ColumnElement[bool]) -> list[M]:
        async with self.sessionmaker() as session:
            return list((await session.scalars(select(model).where(*where))).all())

    async def audit(self, action: str) -> list[AuditEntry]:
        return await self.rows(AuditEntry, AuditEntry.action == action)

    async def ticket(self, ticket_id: int) -> Ticket:
        (ticket,) = await self.rows(Ticket, Ticket.id == ticket_id)
        return ticket


@pytest.fixture
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    made = World(sessionmaker)
    await made.setup()
    return made


async def _open(world: World, *ticket_ids: int, districts: tuple[str, ...] = ()) -> int:
    opened = done(
        await ops.open_incident(
            world.core,
            WEB,
            ops.Draft(
                title="Немає води",
                category="housing",
                districts=districts,
                description="Аварія на водогоні.",
                expected_at=world.clock() + timedelta(hours=6),
                ticket_ids=ticket_ids,
            ),
        )
    )
    return opened.incident.id


async def test_open_link_bulk_unlink_and_refusals(world: World) -> None:
    a, b = await world.resident("1"), await world.resident("2")
    t1, t2, t3 = await world.file(a), await world.file(b), await world.file(b)
    transport = await world.file(a, category="transport")

    opened = done(
        await ops.open_incident(
            world.core,
            WEB,
            ops.Draft(title=" Немає води ", category="housing", ticket_ids=(t1, 999_999, t1)),
        )
    )
    incident_id = opened.incident.id
    assert opened.linked == (t1,) and opened.skipped == {999_999: Reason.NOT_FOUND.value}
    assert opened.incident.title == "Немає води" and opened.incident.districts == []
    assert opened.incident.status == IncidentStatus.INVESTIGATING

    assert done(await ops.link(world.core, WEB, incident_id, t2)).linked == (t2,)
    again = done(await ops.link(world.core, WEB, incident_id, t2))
    assert again.linked == () and again.already == (t2,)
    bulk = done(await ops.link_many(world.core, WEB, incident_id, [t2, t3, transport]))
    assert bulk.linked == (t3, transport) and bulk.already == (t2,)

    # A ticket belongs to one incident at most; the other department's operator may not link.
    other = await _open(world)
    assert refused(await ops.link(world.core, WEB, other, t1)).details["code"] == "elsewhere"
    outsider = Actor(OTHER_DEPARTMENT, desk=Desk.WEB)
    assert (
        refused(await ops.link(world.core, outsider, incident_id, t1)).reason is Reason.DEPARTMENT
    )

    assert done(await ops.unlink(world.core, WEB, incident_id, transport)) == transport
    gone = refused(await ops.unlink(world.core, WEB, incident_id, transport))
    assert gone.details["code"] == "not_linked"

    # Refusals: not staff, a read-only role, bad input.
    assert refused(await ops.link(world.core, Actor(4242), incident_id, t3)).reason is (
        Reason.NOT_STAFF
    )
    head = Actor(HEAD, desk=Desk.WEB)
    assert refused(await ops.open_incident(world.core, head, ops.Draft("x"))).reason is Reason.ROLE
    assert done(await ops.card(world.core, head, incident_id)).tickets == 3
    assert refused(await ops.open_incident(world.core, WEB, ops.Draft("  "))).details["code"] == (
        "empty_title"
    )
    bad = refused(await ops.open_incident(world.core, WEB, ops.Draft("x", districts=("mars",))))
    assert bad.details == {"code": "bad_district", "districts": ["mars"]}
    wrong = refused(await ops.open_incident(world.core, WEB, ops.Draft("x", category="weather")))
    assert wrong.details == {"code": "bad_category"}

    links = await world.audit("incident.link")
    assert [entry.details["ticket"] for entry in links] == [t1, t2, t3, transport]
    assert {entry.subject for entry in links} == {f"incident:{incident_id}"}
    assert links[0].actor == f"staff:{OPERATOR}" and links[0].details["address"] == "192.0.2.9"
    assert len(await world.audit("incident.open")) == 2
    assert len(await world.audit("incident.unlink")) == 1
    denied = await world.audit("staff.denied")
    assert [entry.details["reason"] for entry in denied] == ["not_staff", "role"]


async def test_an_update_is_queued_once_per_person_in_their_language(world: World) -> None:
    both = await world.resident("10")  # follows and has two linked tickets
    reporter = await world.resident("11", language="en")
    follower = await world.resident("12")
    stranger = await world.resident("13")
    incident_id = await _open(
        world, await world.file(both), await world.file(both), await world.file(reporter)
    )
    await world.file(stranger)  # not linked: hears nothing
    async with world.sessionmaker() as session, session.begin():
        for resident_id in (both, follower):
            await incidents.follow(
                session, incident_id=incident_id, resident_id=resident_id, now=world.clock()
            )

    change = ops.Change(status=IncidentStatus.WORKING, text="Бригада на місці.")
    delivered = done(await ops.update(world.core, WEB, incident_id, change))
    assert delivered.recipients == 3 and world.woken == 1

    deliveries = await world.rows(Delivery)
    assert sorted(d.resident_id or 0 for d in deliveries) == sorted([both, reporter, follower])
    broadcasts = {b.id: b for b in await world.rows(Broadcast)}
    by_resident = {d.resident_id: broadcasts[d.broadcast_id] for d in deliveries}
    assert "працюємо над цим" in by_resident[both].text
    assert "Бригада на місці." in by_resident[both].text
    assert "working on it" in by_resident[reporter].text
    assert {b.kind for b in broadcasts.values()} == {"incident"}
    assert {b.source_ref for b in broadcasts.values()} == {str(delivered.update_id)}

    (entry,) = await world.audit("incident.update")
    assert entry.details["recipients"] == 3 and entry.details["status"] == "working"

    # Nothing changed and nothing to say: refused, nothing queued.
    same = refused(await ops.update(world.core, WEB, incident_id, ops.Change()))
    assert same.details["code"] == "nothing_changed"
    # The district news needs an editor; an editor sends it as urgent news too.
    news = ops.Change(text="Підвезли воду.", notify_district=True)
    assert refused(await ops.update(world.core, WEB, incident_id, news)).reason is Reason.ROLE
    sent = done(await ops.update(world.core, Actor(EDITOR, desk=Desk.WEB), incident_id, news))
    (urgent,) = await world.rows(Broadcast, Broadcast.id == sent.news_broadcast_id)
    assert urgent.kind == "news" and urgent.urgent and urgent.topics == ["outages"]


async def test_resolving_closes_feedback_and_appeals_get_their_legal_answer(world: World) -> None:
    a, b = await world.resident("20"), await world.resident("21")
    feedback = await world.file(a)
    appeal = await world.file(b, kind="appeal")
    incident_id = await _open(world, feedback, appeal)
    deadline = (await world.ticket(appeal)).deadline_at

    # The legal answer needs the incident's answer first.
    early = refused(await ops.send_legal_answers(world.core, WEB, incident_id, [appeal]))
    assert early.details["code"] == "no_answer"

    resolved = done(await ops.resolve(world.core, WEB, incident_id, " Воду подали о 18:00. "))
    assert resolved.closed_tickets == (feedback,) and resolved.delivered.recipients == 2
    closed = await world.ticket(feedback)
    assert closed.status == TicketStatus.CLOSED and closed.first_answer_at is not None
    thread = await world.rows(TicketMessage, TicketMessage.ticket_id == feedback)
    assert [(m.direction, m.text) for m in thread] == [
        (MessageDirection.STAFF.value, "Воду подали о 18:00.")
    ]
    kept = await world.ticket(appeal)
    assert kept.status == TicketStatus.NEW and kept.deadline_at == deadline
    assert world.sender.sent == []  # the answer reaches them in the final update (the engine)
    final = [(b.text, b.buttons) for b in await world.rows(Broadcast) if b.buttons]
    assert final and "Воду подали о 18:00." in final[0][0]
    assert final[0][1] == [
        [
            ["✅ Так, вирішено", f"incsolved:{incident_id}:yes"],
            ["❌ Ні, не вирішено", f"incsolved:{incident_id}:no"],
        ]
    ]

    answers = done(
        await ops.send_legal_answers(world.core, WEB, incident_id, [appeal, feedback, 777])
    )
    assert answers.answered == (appeal,)
    assert answers.skipped == {feedback: "wrong_kind", 777: "not_linked"}
    assert (await world.ticket(appeal)).status == TicketStatus.ANSWERED
    ((_recipient, reply),) = world.sender.sent
    assert "Воду подали о 18:00." in str(reply.text)

    # Sent again (a bulk form resent, another desk): the appeal has it already, nothing goes.
    again = done(await ops.send_legal_answers(world.core, WEB, incident_id, [appeal]))
    assert again.answered == () and again.skipped == {appeal: "already_answered"}
    assert len(world.sender.sent) == 1

    ticket_answers = await world.audit("ticket.answer")
    assert {e.subject for e in ticket_answers} == {f"ticket:{feedback}", f"ticket:{appeal}"}
    assert len(await world.audit("incident.legal_answer")) == 1
    assert len(await world.audit("incident.resolve")) == 1
    after = refused(await ops.update(world.core, WEB, incident_id, ops.Change(text="x")))
    assert after.details["code"] == "incident_not_open"


async def test_suggestions_follow_the_rule(world: World) -> None:
    here = await world.resident("30", district="pokrovskyi")
    there = await world.resident("31", district="ternivskyi")
    incident_id = await _open(world, districts=("pokrovskyi",))
    match = await world.file(here)
    elsewhere = await world.file(there)  # another district
    other = await world.file(here, category="transport")  # another category
    await world.file(here, ago=timedelta(hours=3))  # before the incident's window
    found = done(await ops.suggestions(world.core, WEB, incident_id))
    # The rule's match first; the same words from another district or category are
    # suggestions by text; nothing before the incident's window.
    assert found[0].ticket.id == match
    assert found[0].match.incident_id == incident_id and found[0].match.reason == "rule"
    assert sorted(s.ticket.id for s in found[1:]) == sorted([elsewhere, other])
    assert all(s.match.reason == "text" for s in found[1:])


async def test_a_spike_alert_preselects_its_tickets(world: World) -> None:
    a = await world.resident("40")
    ids = [await world.file(a) for _ in range(3)]
    action = spikes.incident_action(spikes.Spike("category", "housing", 3, 0.1), at=world.clock())
    assert len(action.encode()) <= 64
    parsed = spikes.parse_incident_action(action)
    assert parsed is not None and parsed[:2] == ("category", "housing")
    assert spikes.parse_incident_action("incspike:colour:red:1") is None
    async with world.sessionmaker() as session:
        prefill = await spikes.prefill_for(session, *parsed)
    assert prefill.category == "housing" and sorted(prefill.ticket_ids) == ids
    draft = ops.Draft("Вода", category=prefill.category, ticket_ids=prefill.ticket_ids)
    assert sorted(done(await ops.open_incident(world.core, WEB, draft)).linked) == ids
    assert not await world.rows(IncidentFollower)


async def test_resolved_for_you_is_only_for_the_incidents_residents(world: World) -> None:
    """A "resolved for you?" answer from someone the update was not sent to is a forged
    action (audited by the conversation), and nothing is recorded."""
    reporter, stranger = await world.resident("50"), await world.resident("51")
    incident_id = await _open(world, await world.file(reporter))
    done(await ops.resolve(world.core, WEB, incident_id, "Воду подали."))
    resident_side = ResidentTickets(Catalog.load(), TicketPolicy(zone=ZONE)).incidents
    action = f"incsolved:{incident_id}:no"
    async with world.sessionmaker() as session, session.begin():
        resident = await session.get(Resident, stranger)
        assert resident is not None
        event = Incoming(Identity("telegram", "51"), EventKind.BUTTON, "u1", action=action)
        turn = Turn(session=session, resident=resident, event=event, now=world.clock())
        with pytest.raises(ForgedAction) as raised:
            await resident_side.action(turn, action)
        assert (raised.value.reason, raised.value.target) == ("not_received", incident_id)
    assert await world.rows(IncidentAnswer) == []


async def test_the_matcher_gets_the_linked_reports_texts_and_places(world: World) -> None:
    a = await world.resident("60")
    ticket_id = await world.file(a)
    async with world.sessionmaker() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        add_message(
            session,
            ticket,
            direction=MessageDirection.RESIDENT,
            now=world.clock(),
            attachment=("location", "47.910483,33.391783", None),
        )
    incident_id = await _open(world, ticket_id)
    async with world.sessionmaker() as session:
        incident = await incidents.get_incident(session, incident_id)
        assert incident is not None
        (facts,) = await incidents.facts_of(session, [incident])
    assert facts.texts == ("Немає води", "Аварія на водогоні.", "Немає води у будинку")
    assert facts.locations == ((47.910483, 33.391783),)
    assert facts.districts == frozenset() and facts.resolved_at is None
    assert incidents.parse_location("somewhere") is None
