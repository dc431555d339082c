"""Erasing a person's data (``storage.erasure.erase_resident``) on SQLite and PostgreSQL: what
goes, what the council keeps, the linked account, the audit; nobody else's data is touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import tickets
from storage.deadlines import TicketKind
from storage.erasure import Erased, erase_resident
from storage.filing import Attachment, FilingPolicy, TicketForm, file_ticket
from storage.models import (
    AuditEntry,
    Incident,
    IncidentAnswer,
    IncidentFollower,
    IncidentTicket,
    KeptFile,
    Resident,
    Ticket,
    TicketMessage,
)
from storage.vocabulary import POLICY_VERSION, MessageDirection, TicketStatus

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
LATER = NOW + timedelta(days=3)


def _resident(channel: str, external_id: str, name: str) -> Resident:
    return Resident(
        channel=channel,
        external_id=external_id,
        name=name,
        language="uk",
        digest="instant",
        subscribed=True,
        is_active=True,
        consent_at=NOW - timedelta(days=10),
        policy_version=POLICY_VERSION,
        created_at=NOW - timedelta(days=10),
        last_seen_at=NOW,
    )


def _kept(channel: str, external_id: str, key: str) -> KeptFile:
    return KeptFile(
        channel=channel,
        external_id=external_id,
        update_key=key,
        kind="photo",
        size=3,
        sha256="0" * 64,
        content=b"abc",
        created_at=NOW,
    )


async def _file(session: AsyncSession, resident: Resident, body: str) -> Ticket:
    ticket = await file_ticket(
        session,
        resident=resident,
        form=TicketForm(
            kind=TicketKind.APPEAL,
            channel=resident.channel,
            body=body,
            category="housing",
            appeal_type="complaint",
            full_name="Коваленко Олена Іванівна",
            address="вул. Шевченка, 1",
            contact="+380671234567",
            attachments=(Attachment("photo", "kept:1", "roof.jpg", "дах"),),
        ),
        now=NOW,
        policy=FilingPolicy(zone=KYIV),
    )
    tickets.add_message(
        session, ticket, direction=MessageDirection.STAFF, now=NOW, text="Відповідь", author_id=1
    )
    return ticket


async def test_erasure_keeps_what_the_council_must_and_nothing_personal(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        person = _resident("telegram", "501", "Олена")
        other = _resident("telegram", "502", "Петро")
        session.add_all([person, other])
        await session.flush()
        # The same person in Viber, linked to the Telegram account.
        alias = _resident("viber", "alias==", "Олена В.")
        alias.linked_to = person.id
        session.add(alias)
        session.add_all([_kept("telegram", "501", "u1"), _kept("telegram", "502", "u2")])
        await session.flush()
        first = await _file(session, person, "Протікає дах")
        second = await _file(session, person, "Немає опалення")
        theirs = await _file(session, other, "Не працює ліфт")
        first.status = TicketStatus.CLOSED.value
        first.rating_comment = "Довго"
        ids = (person.id, alias.id, other.id, first.id, second.id, theirs.id)
        numbers = (first.number, second.number)
    async with sessionmaker() as session, session.begin():
        person = await session.get_one(Resident, ids[0])
        erased = await erase_resident(session, person, now=LATER, actor=f"resident:{person.id}")
        assert erased == Erased(tickets=2, polls=0, files=1, follows=0)
    async with sessionmaker() as session:
        person = await session.get_one(Resident, ids[0])
        assert person.erased_at == LATER
        assert person.name is None and person.consent_at is None
        assert person.policy_version is None
        alias = await session.get_one(Resident, ids[1])
        assert alias.linked_to is None and alias.name is None and alias.erased_at == LATER
        for ticket_id, number in zip(ids[3:5], numbers, strict=True):
            ticket = await session.get_one(Ticket, ticket_id)
            # Kept: number, kind, dates, status, queue.
            assert ticket.number == number and ticket.kind == "appeal"
            assert ticket.received_at == NOW and ticket.deadline_at is not None
            assert ticket.queue_code == "housing"
            assert ticket.erased_at == LATER
            personal = (ticket.full_name, ticket.address, ticket.contact, ticket.body)
            assert personal == (None, None, None, None)
            assert ticket.rating_comment is None and ticket.urgent_reason is None
            thread = (
                await session.scalars(
                    select(TicketMessage)
                    .where(TicketMessage.ticket_id == ticket_id)
                    .order_by(TicketMessage.id)
                )
            ).all()
            # The thread's shape stays (who wrote when, which kind of file); the words go.
            assert [(m.direction, m.attachment_kind) for m in thread] == [
                ("resident", "photo"),
                ("staff", None),
            ]
            assert all(m.text is m.attachment_ref is m.attachment_name is None for m in thread)
        assert (await session.get_one(Ticket, ids[0 + 3])).status == "closed"
        # Someone else's data is untouched.
        other = await session.get_one(Resident, ids[2])
        assert other.name == "Петро" and other.erased_at is None
        theirs = await session.get_one(Ticket, ids[5])
        assert theirs.body == "Не працює ліфт" and theirs.full_name is not None
        texts = await session.scalars(
            select(TicketMessage.text).where(TicketMessage.ticket_id == theirs.id)
        )
        assert set(texts.all()) == {"дах", "Відповідь"}
        files = await session.scalars(select(KeptFile.external_id))
        assert files.all() == ["502"]
        entry = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.forget"))
        ).one()
        assert entry.actor == f"resident:{ids[0]}" and entry.at == LATER
        assert entry.details == {
            "tickets": 2,
            "polls": 0,
            "files": 1,
            # Consultation submissions whose words went (none here: tests/test_consultations_*).
            "submissions": 0,
            "incident_follows": 0,
            "policy_version": POLICY_VERSION,
        }


async def test_erasing_someone_with_nothing_filed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        person = _resident("viber", "lonely==", "Ігор")
        session.add(person)
        await session.flush()
        erased = await erase_resident(session, person, now=LATER, actor="retention")
        assert erased == Erased(tickets=0, polls=0, files=0, follows=0)
        assert person.erased_at == LATER and person.name is None


async def test_erasure_drops_the_incident_follows_and_answers_of_both_accounts(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        person = _resident("telegram", "601", "Олена")
        other = _resident("telegram", "602", "Петро")
        session.add_all([person, other])
        await session.flush()
        alias = _resident("viber", "alias601==", "Олена В.")
        alias.linked_to = person.id
        session.add(alias)
        water, heat = (
            Incident(title=title, status="resolved", opened_at=NOW, updated_at=NOW)
            for title in ("Немає води", "Немає опалення")
        )
        session.add_all([water, heat])
        await session.flush()
        reported = await _file(session, person, "Немає води")
        session.add_all(
            [
                IncidentFollower(incident_id=water.id, resident_id=person.id, followed_at=NOW),
                # The alias followed another one before the accounts were linked.
                IncidentFollower(incident_id=heat.id, resident_id=alias.id, followed_at=NOW),
                IncidentFollower(incident_id=water.id, resident_id=other.id, followed_at=NOW),
                IncidentAnswer(incident_id=water.id, resident_id=person.id, resolved=False, at=NOW),
                IncidentAnswer(incident_id=water.id, resident_id=other.id, resolved=True, at=NOW),
                IncidentTicket(
                    ticket_id=reported.id,
                    incident_id=water.id,
                    linked_by="suggested",
                    linked_at=NOW,
                ),
            ]
        )
        ids = (person.id, other.id, water.id, reported.id)
    async with sessionmaker() as session, session.begin():
        person = await session.get_one(Resident, ids[0])
        erased = await erase_resident(session, person, now=LATER, actor=f"resident:{person.id}")
        assert erased == Erased(tickets=1, polls=0, files=0, follows=2)
    async with sessionmaker() as session:
        followers = (await session.execute(select(IncidentFollower.resident_id))).scalars()
        assert followers.all() == [ids[1]]
        answers = (await session.execute(select(IncidentAnswer.resident_id))).scalars()
        assert answers.all() == [ids[1]]
        # The ticket stays linked: the council keeps what it answered and closed.
        link = await session.get_one(IncidentTicket, ids[3])
        assert link.incident_id == ids[2]
        entry = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.forget"))
        ).one()
        assert entry.details is not None and entry.details["incident_follows"] == 2
