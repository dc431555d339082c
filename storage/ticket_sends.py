"""Which messages we sent a resident carried which ticket (staff answers and notices), so a
reply to one of them (Telegram's Reply) is known to be about that ticket."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SentTicketMessage

KIND_ANSWER = "answer"
KIND_NOTICE = "notice"


def record_sent(
    session: AsyncSession,
    *,
    resident_id: int,
    ticket_id: int,
    message_ids: Iterable[str],
    kind: str,
    now: datetime,
) -> None:
    for message_id in dict.fromkeys(message_ids):
        session.add(
            SentTicketMessage(
                resident_id=resident_id,
                message_id=message_id[:64],
                ticket_id=ticket_id,
                kind=kind,
                sent_at=now,
            )
        )


async def ticket_of_message(
    session: AsyncSession, *, resident_id: int, message_id: str
) -> int | None:
    """The ticket whose answer or notice was the resident's message ``message_id``, or None."""
    found = await session.scalar(
        select(SentTicketMessage.ticket_id).where(
            SentTicketMessage.resident_id == resident_id,
            SentTicketMessage.message_id == message_id[:64],
        )
    )
    return found
