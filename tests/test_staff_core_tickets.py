"""The staff core's ticket operations called directly, as a desk other than the Telegram chat
would (no Telegram here at all), on SQLite and PostgreSQL: each operation's done path, the typed
refusals any desk renders, and the audit entry that names the desk.

The resident's messenger is a recording ``Sender`` (the network boundary), and the desk's
follow-ups are recorded by a ``DeskEvents`` of the test's own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.notify import Notifier
from handlers.staff.core import Actor, Desk, Done, Reason, Refused, StaffCore
from handlers.staff.notices import Notices
from handlers.staff.tickets import answering, assigning, lookup, residents, terms
from handlers.staff.tickets.context import Attachment, TicketCore
from messaging.i18n import Catalog
from storage.calendar_store import load_calendar
from storage.deadlines import REFUSAL_NOTICE_PERIOD_OVER, initial_deadline
from storage.models import AuditEntry, Resident, Ticket, TicketMessage
from storage.residents import get_or_create_resident
from storage.tickets import get_ticket, next_number
from storage.vocabulary import MessageDirection, Role, TicketStatus
from tests.staff_accounts import add_staff
from tests.test_pipeline import RecordingSender  # the resident's messenger

T = TypeVar("T")
ZONE = ZoneInfo("Europe/Kyiv")
ADMIN = 9001
OPERATOR = 9002
STRANGER = 9099  # not staff
RESIDENT = "5551234"
# The web desk acts here: the audit must say so.
WEB = Actor(OPERATOR, desk=Desk.WEB, address="192.0.2.7")
EDITOR_WEB = Actor(ADMIN, desk=Desk.WEB)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class RecordingEvents:
    """A desk's follow-ups (``DeskEvents``), as a web desk would get them."""

    def __init__(self) -> None:
        self.refreshed: list[int] = []
        self.reposted: list[int] = []
        self.failed: list[tuple[int, str]] = []
        self.written: list[tuple[int, int]] = []

    async def refresh_card(self, ticket_id: int) -> None:
        self.refreshed.append(ticket_id)

    async def repost(self, ticket_id: int) -> None:
        self.reposted.append(ticket_id)

    async def delivery_failed(
        self,
        ticket_id: int,
        reason: str,
        *,
        reply_to: int | None,  # noqa: ARG002 - the DeskEvents protocol's name
    ) -> None:
        self.failed.append((ticket_id, reason))

    async def staff_wrote(self, ticket_id: int, message_id: int) -> None:
        self.written.append((ticket_id, message_id))


class World:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.clock = Clock()
        self.sender = RecordingSender()
        self.events = RecordingEvents()
        catalog = Catalog.load()
        notifier = Notifier(
            senders={"telegram": self.sender}, sessionmaker=sessionmaker, clock=self.clock
        )
        self.core = TicketCore(
            core=StaffCore(sessionmaker=sessionmaker, clock=self.clock),
            notices=Notices(notifier=notifier, catalog=catalog, zone=ZONE, media=None),
            events=self.events,
            sessionmaker=sessionmaker,
            clock=self.clock,
            zone=ZONE,
            operator_chat_id=None,
            feedback_days=10,
            legal_aid_days=10,
        )

    async def setup(self) -> None:
        async with self.sessionmaker() as session, session.begin():
            await add_staff(session, ADMIN, Role.ADMIN, now=self.clock())
            await add_staff(session, OPERATOR, Role.OPERATOR, now=self.clock())

    async def file(self, *, kind: str = "appeal", category: str | None = "housing") -> int:
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            resident, _ = await get_or_create_resident(
                session,
                channel="telegram",
                external_id=RESIDENT,
                name="Оксана Петренко",
                language="uk",
                now=now,
            )
            calendar = await load_calendar(session)
            ticket = Ticket(
                number=await next_number(session, kind=kind, year=now.year),
                kind=kind,
                status=TicketStatus.NEW.value,
                resident_id=resident.id,
                channel="telegram",
                queue_code="housing",
                category=category,
                appeal_type="complaint" if kind == "appeal" else None,
                appeal_term="standard" if kind == "appeal" else None,
                urgent=False,
                anonymous=False,
                full_name="Оксана Петренко",
                contact="oksana@example.com",
                body="Не працює ліфт у під'їзді № 3",
                received_at=now,
                deadline_at=initial_deadline(kind, now, calendar=calendar, zone=ZONE),
                created_at=now,
                updated_at=now,
            )
            session.add(ticket)
            await session.flush()
            return ticket.id

    async def ticket(self, ticket_id: int) -> Ticket:
        async with self.sessionmaker() as session:
            found = await get_ticket(session, ticket_id=ticket_id)
            assert found is not None
            return found

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.sessionmaker() as session:
            query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            return list((await session.scalars(query)).all())

    async def thread(self, ticket_id: int) -> list[TicketMessage]:
        async with self.sessionmaker() as session:
            query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
            return list((await session.scalars(query.order_by(TicketMessage.id))).all())

    def told(self) -> list[str]:
        return [str(reply.text) for _recipient, reply in self.sender.sent]


@pytest.fixture
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    made = World(sessionmaker)
    await made.setup()
    return made


def refused(outcome: object) -> Refused:
    assert isinstance(outcome, Refused), outcome
    return outcome


def done(outcome: Done[T] | Refused) -> T:
    assert isinstance(outcome, Done), outcome
    return outcome.value


async def test_answer_note_and_template_answer(world: World) -> None:
    ticket_id = await world.file()
    answered = done(await answering.answer(world.core, WEB, ticket_id, "  Ліфт полагодять.  "))
    assert answered.first
    ticket = await world.ticket(ticket_id)
    assert ticket.status == TicketStatus.ANSWERED and ticket.assignee_id == OPERATOR
    assert world.sender.sent[-1][0] == RESIDENT and "Ліфт полагодять." in world.told()[-1]
    assert world.events.refreshed == [ticket_id]
    (entry,) = await world.audit("ticket.answer")
    assert entry.actor == f"staff:{OPERATOR}" and entry.subject == f"ticket:{ticket_id}"
    assert entry.details == {
        "desk": "web",
        "address": "192.0.2.7",
        "number": ticket.number,
        "message": answered.message_id,
        "attachment": None,
    }

    # An answer with a file only.
    photo = Attachment("photo", "AgACfile", None)
    again = done(await answering.answer(world.core, WEB, ticket_id, "", photo))
    assert not again.first and world.sender.sent[-1][1].media is not None

    done(await answering.note(world.core, WEB, ticket_id, "Подзвонити в ЖЕК"))
    notes = [m for m in await world.thread(ticket_id) if m.direction == MessageDirection.NOTE]
    assert [m.text for m in notes] == ["Подзвонити в ЖЕК"]
    sent_before = len(world.sender.sent)
    assert len(await world.audit("ticket.note")) == 1

    # Templates: an editor saves one, anyone answers with it, lists it, an editor deletes it.
    assert done(await lookup.save_template(world.core, EDITOR_WEB, "Lift", "Ліфт у черзі.")) == (
        "lift"
    )
    assert (await world.audit("template.save"))[0].details == {"desk": "web", "created": True}
    done(await answering.answer_from_template(world.core, WEB, ticket_id, "lift"))
    assert len(world.sender.sent) == sent_before + 1 and "Ліфт у черзі." in world.told()[-1]
    assert [t.name for t in done(await lookup.templates(world.core, WEB))] == ["lift"]
    assert done(await lookup.delete_template(world.core, EDITOR_WEB, "lift")) == "lift"
    missing = refused(await answering.answer_from_template(world.core, WEB, ticket_id, "lift"))
    assert missing.reason is Reason.NOT_FOUND and missing.details == {"name": "lift"}


async def test_take_hand_over_and_change_category(world: World) -> None:
    ticket_id = await world.file()
    taken = done(await assigning.take(world.core, WEB, ticket_id))
    assert taken.status == TicketStatus.IN_PROGRESS and taken.assignee_id == OPERATOR
    assert "ЗВ-" in world.told()[-1]  # a new ticket's resident is told it was taken
    assert world.events.refreshed == [ticket_id]
    assert (await world.audit("ticket.take"))[0].details["desk"] == "web"

    handed = done(await assigning.hand_over(world.core, WEB, ticket_id, "transport"))
    assert handed.number == taken.number and handed.queue_name
    ticket = await world.ticket(ticket_id)
    assert ticket.queue_code == "transport" and ticket.assignee_id is None
    assert world.events.reposted == [ticket_id]
    (handover,) = await world.audit("ticket.handover")
    assert handover.details == {
        "desk": "web",
        "address": "192.0.2.7",
        "number": ticket.number,
        "source": "housing",
        "target": "transport",
    }

    other = await world.file()
    moved = done(await assigning.change_category(world.core, WEB, other, "roads_transport"))
    assert moved.change.moved and moved.queue_name is not None
    assert (await world.ticket(other)).category == "roads_transport"
    assert world.events.reposted == [ticket_id, other]


async def test_term_extend_refuse_and_close(world: World) -> None:
    ticket_id = await world.file()
    before = (await world.ticket(ticket_id)).deadline_at
    simple = done(await terms.set_term(world.core, WEB, ticket_id, "simple"))
    assert before is not None and simple < before
    assert (await world.ticket(ticket_id)).appeal_term == "simple"
    assert (await world.audit("ticket.term"))[0].details["desk"] == "web"
    told = len(world.sender.sent)
    assert told == 1  # the deadline moved: the resident is told

    done(await terms.check_extend(world.core, WEB, ticket_id))
    extended = done(await terms.extend(world.core, WEB, ticket_id, "Потрібна перевірка"))
    ticket = await world.ticket(ticket_id)
    assert ticket.deadline_at == extended and ticket.extension_reason == "Потрібна перевірка"
    assert len(world.sender.sent) == told + 1
    (extension,) = await world.audit("ticket.extend")
    assert extension.details["reason"] == "Потрібна перевірка"
    assert extension.details["desk"] == "web"

    done(await terms.check_ground(world.core, WEB, ticket_id, "incomplete"))
    done(await terms.refuse(world.core, WEB, ticket_id, "incomplete", "Немає адреси"))
    ticket = await world.ticket(ticket_id)
    assert ticket.status == TicketStatus.REFUSED and ticket.refusal_ground == "incomplete"
    assert (await world.audit("ticket.refuse"))[0].details["comment"] == "Немає адреси"

    other = await world.file()
    closed = done(await terms.close(world.core, WEB, other))
    assert closed.status == TicketStatus.CLOSED
    assert (await world.audit("ticket.close"))[0].details["desk"] == "web"
    assert world.sender.sent[-1][1].buttons  # "Питання вирішено?"


async def test_ban_unban_and_lookups(world: World) -> None:
    ticket_id = await world.file()
    resident = done(await residents.set_banned(world.core, WEB, ticket_id, ban=True))
    assert resident.banned_at is not None and resident.banned_by == OPERATOR
    again = refused(await residents.set_banned(world.core, WEB, ticket_id, ban=True))
    assert again.reason is Reason.STATE and again.details == {"code": "already_banned"}
    done(await residents.set_banned(world.core, WEB, ticket_id, ban=False))
    async with world.sessionmaker() as session:
        stored = await session.get(Resident, resident.id)
        assert stored is not None and stored.banned_at is None
    (ban,) = await world.audit("resident.ban")
    assert ban.subject == f"resident:{resident.id}" and ban.details["desk"] == "web"
    assert len(await world.audit("resident.unban")) == 1

    ticket = await world.ticket(ticket_id)
    assert done(await lookup.ticket_by_number(world.core, WEB, ticket.number)).id == ticket_id
    found = done(await lookup.find(world.core, WEB, "петренко"))
    assert [item.ticket.id for item in found] == [ticket_id]
    assert found[0].resident is not None
    assert refused(await lookup.find(world.core, WEB, "п")).reason is Reason.INVALID
    nothing = refused(await lookup.ticket_by_number(world.core, WEB, "ЗВ-1999-000001"))
    assert nothing.reason is Reason.NOT_FOUND


async def test_typed_refusals(world: World) -> None:
    ticket_id = await world.file()

    # Not staff: refused, and the refusal is audited with the desk.
    stranger = Actor(STRANGER, desk=Desk.WEB)
    assert refused(await assigning.take(world.core, stranger, ticket_id)).reason is (
        Reason.NOT_STAFF
    )
    (denied,) = await world.audit("staff.denied")
    assert denied.details == {"desk": "web", "reason": "not_staff"}
    assert (await world.ticket(ticket_id)).status == TicketStatus.NEW

    # Wrong role: an operator may not edit templates.
    role = refused(await lookup.save_template(world.core, WEB, "lift", "Текст"))
    assert role.reason is Reason.ROLE
    assert refused(await lookup.delete_template(world.core, WEB, "lift")).reason is Reason.ROLE
    assert await world.audit("template.save") == []

    # An empty answer, and a hand-over to a queue that does not exist.
    empty = refused(await answering.answer(world.core, WEB, ticket_id, "   "))
    assert empty.reason is Reason.INVALID and empty.details == {"code": "empty"}
    unknown = refused(await assigning.hand_over(world.core, WEB, ticket_id, "no_such_queue"))
    assert unknown.reason is Reason.INVALID and unknown.details["code"] == "bad_queue"
    assert (await world.ticket(ticket_id)).queue_code == "housing"

    # Too late to extend: the appeal's term is over.
    world.clock.now += timedelta(days=40)
    late = refused(await terms.check_extend(world.core, WEB, ticket_id))
    assert late.reason is Reason.TOO_LATE
    assert late.details["extension"] == REFUSAL_NOTICE_PERIOD_OVER
    late = refused(await terms.extend(world.core, WEB, ticket_id, "Пізно"))
    assert late.reason is Reason.TOO_LATE and await world.audit("ticket.extend") == []

    # A closed ticket: no answer, no take, no second closing.
    done(await terms.close(world.core, WEB, ticket_id))
    sent = len(world.sender.sent)
    for outcome in (
        await answering.answer(world.core, WEB, ticket_id, "Ще одна відповідь"),
        await assigning.take(world.core, WEB, ticket_id),
        await terms.close(world.core, WEB, ticket_id),
        await terms.set_term(world.core, WEB, ticket_id, "simple"),
    ):
        closed = refused(outcome)
        assert closed.reason is Reason.STATE and closed.details["code"] == "not_open"
    assert len(world.sender.sent) == sent
    bad_ground = refused(await terms.refuse(world.core, WEB, ticket_id, "incomplete", ""))
    assert bad_ground.reason is Reason.STATE
    assert refused(await assigning.take(world.core, WEB, 10**9)).reason is Reason.NOT_FOUND
