"""A resident's follow-up is appended to their own open ticket only — one statement on
PostgreSQL, the generic path on SQLite; the same tests against both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Ticket, TicketMessage
from storage.residents import get_or_create_resident
from storage.tickets import append_to_open_ticket
from storage.vocabulary import MessageDirection

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


async def _ticket(
    sessionmaker: async_sessionmaker[AsyncSession], external_id: str, status: str
) -> tuple[int, int]:
    """A resident and a ticket of theirs in ``status``; returns (resident id, ticket id)."""
    async with sessionmaker() as session, session.begin():
        resident, _ = await get_or_create_resident(
            session, channel="telegram", external_id=external_id, name=None, language="uk", now=NOW
        )
        ticket = Ticket(
            number=f"ВД-2026-{external_id:0>6}",
            kind="feedback",
            status=status,
            resident_id=resident.id,
            channel="telegram",
            queue_code="other",
            received_at=NOW,
            deadline_at=NOW + timedelta(days=10),
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(ticket)
        await session.flush()
        return resident.id, ticket.id


async def _append(
    sessionmaker: async_sessionmaker[AsyncSession],
    resident_id: int,
    ticket_id: int,
    *,
    text: str | None = None,
    attachment: tuple[str, str, str | None] | None = None,
) -> tuple[int, str] | None:
    async with sessionmaker() as session, session.begin():
        return await append_to_open_ticket(
            session,
            ticket_id=ticket_id,
            resident_id=resident_id,
            direction=MessageDirection.RESIDENT,
            now=LATER,
            text=text,
            attachment=attachment,
        )


async def test_appends_to_own_open_ticket_and_touches_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    resident_id, ticket_id = await _ticket(sessionmaker, "1", "in_progress")
    appended = await _append(sessionmaker, resident_id, ticket_id, text="Доповнення")
    photo = await _append(
        sessionmaker, resident_id, ticket_id, text=None, attachment=("photo", "file-1", None)
    )
    assert appended is not None and photo is not None
    assert appended[1] == photo[1] == "ВД-2026-000001"
    async with sessionmaker() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.updated_at == LATER
        messages = (await session.scalars(select(TicketMessage).order_by(TicketMessage.id))).all()
        assert [(m.id, m.ticket_id, m.direction, m.text, m.attachment_kind) for m in messages] == [
            (appended[0], ticket_id, "resident", "Доповнення", None),
            (photo[0], ticket_id, "resident", None, "photo"),
        ]
        assert messages[0].created_at == LATER and messages[0].created_at.tzinfo is not None
        assert messages[1].attachment_ref == "file-1" and messages[0].staff_message_id is None


async def test_closed_or_foreign_ticket_gets_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    resident_id, closed_id = await _ticket(sessionmaker, "1", "closed")
    other_id, others_ticket = await _ticket(sessionmaker, "2", "in_progress")
    assert await _append(sessionmaker, resident_id, closed_id, text="x") is None
    assert await _append(sessionmaker, resident_id, others_ticket, text="x") is None
    assert await _append(sessionmaker, resident_id, 10_000, text="x") is None
    async with sessionmaker() as session:
        assert (await session.scalars(select(TicketMessage))).all() == []
        for ticket_id in (closed_id, others_ticket):
            ticket = await session.get(Ticket, ticket_id)
            assert ticket is not None and ticket.updated_at == NOW
    assert other_id != resident_id
