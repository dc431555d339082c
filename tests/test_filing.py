"""Filing a ticket (``storage.filing.file_ticket``) on SQLite and PostgreSQL: numbering, the
deadline, the queue, the files sent with it, the audit; and a ticket the resident flow files
comes out like one the sandbox seed files."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.seed import seed_demo_world
from storage import tickets
from storage.calendar_store import load_calendar
from storage.deadlines import TicketKind, initial_deadline
from storage.filing import Attachment, FilingPolicy, Follows, TicketForm, file_ticket
from storage.models import AuditEntry, Resident, Ticket, TicketEvent, TicketMessage
from storage.ticket_events import Link
from storage.vocabulary import Queue
from tests.harness import WORLDS, onboard

pytestmark = pytest.mark.migrated_database

KYIV = ZoneInfo("Europe/Kyiv")
# A Wednesday morning in Kyiv, no holiday near.
NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
POLICY = FilingPolicy(zone=KYIV)
NUMBER = re.compile(r"^(ВД|ЗВ|ЗІ|ПД)-\d{4}-\d{6}$")


def _resident(external_id: str, channel: str = "telegram") -> Resident:
    return Resident(
        channel=channel,
        external_id=external_id,
        name="Олена",
        language="uk",
        digest="instant",
        subscribed=True,
        is_active=True,
        created_at=NOW - timedelta(days=30),
        last_seen_at=NOW,
    )


async def _audit(session: AsyncSession, ticket: Ticket) -> AuditEntry:
    query = select(AuditEntry).where(
        AuditEntry.action == "ticket.filed", AuditEntry.subject == f"ticket:{ticket.id}"
    )
    return (await session.scalars(query)).one()


async def _filed_like_the_rules_say(session: AsyncSession, ticket: Ticket) -> None:
    """What every new ticket holds, whoever filed it."""
    kind = TicketKind(ticket.kind)
    assert NUMBER.match(ticket.number), ticket.number
    assert ticket.number.split("-")[1] == str(ticket.received_at.astimezone(KYIV).year)
    assert ticket.deadline_at == initial_deadline(
        kind,
        ticket.received_at,
        calendar=await load_calendar(session),
        zone=KYIV,
        urgent=ticket.urgent,
    )
    assert ticket.queue_code == await tickets.queue_for_new_ticket(
        session, kind=kind, category=ticket.category
    )
    assert ticket.created_at == ticket.received_at
    assert ticket.appeal_term == ("standard" if kind is TicketKind.APPEAL else None)
    entry = await _audit(session, ticket)
    assert entry.actor == f"resident:{ticket.resident_id}"
    assert entry.at == ticket.received_at
    assert entry.details == {
        "number": ticket.number,
        "kind": kind.value,
        "queue": ticket.queue_code,
    }


async def test_file_ticket_numbers_routes_threads_and_audits(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        resident = _resident("101")
        session.add(resident)
        await session.flush()
        feedback = await file_ticket(
            session,
            resident=resident,
            form=TicketForm(
                kind=TicketKind.FEEDBACK,
                channel="viber",
                body="Не працює ліфт",
                category="housing",
                anonymous=True,
                full_name="Олена Коваленко",
                contact="+380671234567",
                attachments=(
                    Attachment("photo", "file-1", None, "під'їзд"),
                    Attachment("location", "47.9,33.4"),
                ),
            ),
            now=NOW,
            policy=POLICY,
        )
        urgent = await file_ticket(
            session,
            resident=resident,
            form=TicketForm(
                kind=TicketKind.INFO_REQUEST,
                channel="telegram",
                body="Якість повітря",
                urgent=True,
                urgent_reason="викид",
                full_name="Коваленко Олена Іванівна",
                contact="olena@example.com",
            ),
            now=NOW + timedelta(minutes=1),
            policy=POLICY,
            actor="desk:7",
        )
        second = await file_ticket(
            session,
            resident=resident,
            form=TicketForm(kind=TicketKind.FEEDBACK, channel="telegram", body="Ще одне"),
            now=NOW + timedelta(minutes=2),
            policy=POLICY,
        )
    async with sessionmaker() as session:
        feedback = await session.get_one(Ticket, feedback.id)
        urgent = await session.get_one(Ticket, urgent.id)
        second = await session.get_one(Ticket, second.id)
        assert [feedback.number, second.number] == ["ВД-2026-000001", "ВД-2026-000002"]
        assert urgent.number == "ЗІ-2026-000001"
        await _filed_like_the_rules_say(session, feedback)
        await _filed_like_the_rules_say(session, second)
        # An anonymous ticket keeps no name and no contact, whatever was given.
        assert feedback.anonymous and feedback.full_name is None and feedback.contact is None
        assert feedback.channel == "viber" and feedback.queue_code == Queue.HOUSING.value
        # 48 hours for an urgent information request, to the minute; its own queue.
        assert urgent.deadline_at == urgent.received_at + timedelta(hours=48)
        assert urgent.queue_code == Queue.PUBLIC_INFO.value
        assert urgent.full_name == "Коваленко Олена Іванівна"
        assert (await _audit(session, urgent)).actor == "desk:7"
        # The files sent with the form are the first messages of the thread.
        thread = (
            await session.scalars(
                select(TicketMessage)
                .where(TicketMessage.ticket_id == feedback.id)
                .order_by(TicketMessage.id)
            )
        ).all()
        assert [(m.direction, m.attachment_kind, m.attachment_ref, m.text) for m in thread] == [
            ("resident", "photo", "file-1", "під'їзд"),
            ("resident", "location", "47.9,33.4", None),
        ]
        # Filing writes no timeline step: "received" is the ticket's own date.
        assert (await session.scalars(select(TicketEvent))).all() == []


async def test_a_flow_ticket_and_a_seed_ticket_come_out_the_same(database_url: str) -> None:
    async with WORLDS["viber"](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await onboard(r)
            await r.press("✍️ Звернутися")
            await r.press("💬 Відгук або питання")
            await r.press("🏠 Житло та комунальні послуги")
            await r.say("Не працює ліфт у під'їзді")
            await r.press("Далі ➡️")
            await r.press("Ні")
            await r.press("✅ Надіслати")
            assert "ВД-" in r.last_text()
            assert await seed_demo_world(
                sessionmaker, now=datetime.now(UTC), zone=KYIV, residents=12
            )
            async with sessionmaker() as session:
                feedback = (
                    await session.scalars(
                        select(Ticket)
                        .where(Ticket.kind == TicketKind.FEEDBACK.value)
                        .order_by(Ticket.id)
                    )
                ).all()
                flow, seeded = feedback[0], feedback[1:]
                assert flow.channel == "viber" and flow.number.endswith("-000001")
                assert seeded
                for ticket in (flow, *seeded):
                    await _filed_like_the_rules_say(session, ticket)
                # The seed numbers on from the flow's ticket, one counter for both.
                numbers = sorted(int(t.number.rsplit("-", 1)[1]) for t in feedback)
                assert len(set(numbers)) == len(numbers)
                # A new ticket has no timeline step yet, however it was filed.
                new_seeded = [t for t in seeded if t.status == "new"]
                assert new_seeded
                for ticket in (flow, *new_seeded):
                    events = await session.scalars(
                        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                    )
                    assert events.all() == []


async def test_a_ticket_that_follows_another_is_linked_on_both_sides(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        resident = _resident("102")
        session.add(resident)
        await session.flush()
        form = TicketForm(kind=TicketKind.APPEAL, channel="telegram", body="Дах протікає")
        first = await file_ticket(session, resident=resident, form=form, now=NOW, policy=POLICY)
        later = NOW + timedelta(days=40)
        complaint = await file_ticket(
            session,
            resident=resident,
            form=form,
            now=later,
            policy=POLICY,
            follows=Follows(first, Link.COMPLAINT),
        )
    async with sessionmaker() as session:
        complaint = await session.get_one(Ticket, complaint.id)
        assert (complaint.parent_id, complaint.parent_link) == (first.id, "complaint")
        await _filed_like_the_rules_say(session, complaint)
        event = (await session.scalars(select(TicketEvent))).one()
        assert (event.ticket_id, event.kind, event.other_ticket_id) == (
            first.id,
            "refiled",
            complaint.id,
        )
        entry = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.refiled"))
        ).one()
        assert entry.subject == f"ticket:{first.id}" and entry.at == later
        assert entry.details == {
            "number": first.number,
            "linked": complaint.number,
            "link": "complaint",
        }
