"""Retention: the personal data of a ticket closed longer ago than the storage term
(``CITYBOT_RETENTION_YEARS``, 5 years by default: the usual term for citizens' appeals) is
erased the way ``/forget`` erases it (``storage.erasure``), ticket by ticket: a resident keeps
their account and their recent tickets.

Erased per ticket: its personal fields, the words and attachments of its thread, and the copies
of files it names that no other ticket names. Kept: the number, kind, dates, status and queue,
the thread's shape. Each batch is one transaction with its audit record (counts only), so the
record exists exactly when the erasure does; running again finds nothing more to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit, kept_files
from storage.erasure import erase_threads, erase_ticket
from storage.models import Ticket, TicketMessage
from storage.vocabulary import Clock, TicketStatus, system_clock

log = logging.getLogger(__name__)

AUDIT_RETENTION = "retention.erase"
ACTOR = "system:retention"
# Tickets erased per transaction: short transactions, bounded memory.
BATCH = 200
# A ticket is past its term counted from its final state: closed, or refused.
_FINAL = (TicketStatus.CLOSED.value, TicketStatus.REFUSED.value)


@dataclass(frozen=True, slots=True)
class Swept:
    """What one run (or one batch) erased: tickets, thread messages, kept files."""

    tickets: int = 0
    messages: int = 0
    files: int = 0

    def __add__(self, other: Swept) -> Swept:
        return Swept(
            self.tickets + other.tickets, self.messages + other.messages, self.files + other.files
        )


def cutoff(now: datetime, years: int) -> datetime:
    """``years`` calendar years before ``now`` (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


async def erase_batch(
    session: AsyncSession, *, now: datetime, years: int, limit: int = BATCH
) -> Swept:
    """Erase up to ``limit`` tickets closed before ``cutoff(now, years)`` and not erased yet,
    and audit it. The caller commits."""
    before = cutoff(now, years)
    query = (
        select(Ticket)
        .where(
            Ticket.status.in_(_FINAL),
            Ticket.closed_at < before,
            Ticket.erased_at.is_(None),
        )
        .order_by(Ticket.id)
        .limit(limit)
    )
    due = (await session.scalars(query)).all()
    if not due:
        return Swept()
    ids = [ticket.id for ticket in due]
    refs = (
        await session.scalars(
            select(TicketMessage.attachment_ref).where(
                TicketMessage.ticket_id.in_(ids), TicketMessage.attachment_ref.is_not(None)
            )
        )
    ).all()
    for ticket in due:
        erase_ticket(ticket, now=now)
    messages = await erase_threads(session, ids)
    files = await kept_files.erase_unreferenced(session, refs)
    swept = Swept(tickets=len(due), messages=messages, files=files)
    audit.record(
        session,
        actor=ACTOR,
        action=AUDIT_RETENTION,
        now=now,
        details={
            "tickets": swept.tickets,
            "messages": swept.messages,
            "files": swept.files,
            "years": years,
            "closed_before": before.isoformat(),
        },
    )
    return swept


async def erase_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    years: int,
    clock: Clock = system_clock,
    batch: int = BATCH,
) -> Swept:
    """The nightly job: erase every ticket past its term, a batch per transaction. ``years``
    0 keeps everything (retention switched off)."""
    total = Swept()
    if years <= 0:
        return total
    while True:
        async with sessionmaker() as session, session.begin():
            swept = await erase_batch(session, now=clock(), years=years, limit=batch)
        total += swept
        if swept.tickets < batch:
            break
    if total.tickets:
        log.info(
            "retention: erased the personal data of %d ticket(s) closed over %d years ago "
            "(%d messages, %d files)",
            total.tickets,
            years,
            total.messages,
            total.files,
        )
    return total
