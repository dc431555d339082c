"""Erasing a person's data (Law 2297-VI art. 8): the rule of what goes and what stays, written
once for whoever asks for it (the resident's ``/forget``; per ticket, the retention job of
``storage.retention``).

Erased: the personal fields of every ticket and the words and files of its thread, the copies of
files sent through Viber, the link to the other messenger's account (that account is erased
too: the association of two accounts is itself personal data), the name, the consent, the
name, comment, file and free-text answers of consultation submissions (their district and
chosen options stay in the counts), the link to an organisation they represented, the
incidents they follow and their answers to an incident's "resolved for you?". Votes in open
polls are withdrawn; votes in closed polls stay in the published totals under an id that leads
nowhere.

Kept, because the council must keep it: each ticket's number, kind, dates, status and queue, the
thread's shape (who wrote when, the kind of attachment), and the resident row itself (marked
``erased_at``) so that nothing is sent to it again. The caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, consultations, incidents, kept_files, linking, polls
from storage.models import Open311Request, Resident, Ticket, TicketMessage
from storage.vocabulary import POLICY_VERSION

AUDIT_ERASED = "resident.forget"


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure touched: tickets erased, polls whose vote was withdrawn or made
    anonymous, kept files deleted, incidents no longer followed."""

    tickets: int
    polls: int
    files: int
    follows: int


def erase_ticket(ticket: Ticket, *, now: datetime) -> None:
    """Keep what the council must keep (number, kind, dates, status); erase the rest."""
    ticket.full_name = None
    ticket.address = None
    ticket.contact = None
    ticket.subject = None
    ticket.body = None
    ticket.urgent_reason = None
    ticket.rating_comment = None
    ticket.extension_reason = None
    ticket.refusal_comment = None
    ticket.erased_at = now


async def erase_threads(session: AsyncSession, ticket_ids: Sequence[int]) -> int:
    """The words and files of these tickets' threads; who wrote when stays. Returns how many
    messages were touched."""
    if not ticket_ids:
        return 0
    result = await session.execute(
        update(TicketMessage)
        .where(TicketMessage.ticket_id.in_(ticket_ids))
        .values(text=None, attachment_ref=None, attachment_name=None)
        .execution_options(synchronize_session="fetch")
    )
    # A request posted through Open311: its place, picture and the caller's ids in the
    # integrator's system go too (its number and token stay, so its status can still be read).
    await session.execute(
        update(Open311Request)
        .where(Open311Request.ticket_id.in_(ticket_ids))
        .values(lat=None, long=None, media_url=None, device_id=None, account_id=None)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def erase_resident(
    session: AsyncSession, resident: Resident, *, now: datetime, actor: str
) -> Erased:
    """Erase ``resident``'s personal data (see the module's docstring) and audit it as done by
    ``actor``. Returns the counts the resident is told and the audit records."""
    own = (await session.scalars(select(Ticket).where(Ticket.resident_id == resident.id))).all()
    for ticket in own:
        erase_ticket(ticket, now=now)
    await erase_threads(session, [ticket.id for ticket in own])
    # The copies of the files they sent through Viber go too (Telegram's stay Telegram's).
    files = await kept_files.erase_owner(
        session, channel=resident.channel, external_id=resident.external_id
    )
    votes = await polls.unlink_votes(session, resident_id=resident.id, now=now)
    # Consultation submissions: their words go, their counts stay (storage.consultations).
    submissions = await consultations.erase_resident_words(
        session, resident_id=resident.id, now=now
    )
    # The other messenger's account too: erased and no longer linked.
    alias = await linking.unlink(session, primary=resident, now=now, reason="forget")
    if alias is not None:
        alias.name = None
        alias.erased_at = now
    # Both accounts: an alias may have followed an incident before the two were linked.
    follows = await incidents.forget_resident(
        session, [resident.id] + ([alias.id] if alias is not None else [])
    )
    resident.name = None
    resident.consent_at = None
    resident.policy_version = None
    resident.erased_at = now
    audit.record(
        session,
        actor=actor,
        action=AUDIT_ERASED,
        now=now,
        details={
            "tickets": len(own),
            "polls": votes,
            "files": files,
            "submissions": submissions,
            "incident_follows": follows,
            "policy_version": POLICY_VERSION,
        },
    )
    return Erased(tickets=len(own), polls=votes, files=files, follows=follows)
