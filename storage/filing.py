"""Filing a ticket: the one way a ticket comes into being, whoever files it.

The resident's guided flows and the sandbox's demo world both call :func:`file_ticket`, so a
ticket is numbered, given its legal deadline, routed to its department queue, threaded with what
the resident sent along and audited by the same rules everywhere. The caller gives the clock
reading (``now``): the flows pass the moment of the update, the seed a moment in the past. The
caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, ticket_events, tickets
from storage.calendar_store import load_calendar
from storage.deadlines import (
    DEFAULT_FEEDBACK_DAYS,
    DEFAULT_LEGAL_AID_DAYS,
    TicketKind,
    initial_deadline,
)
from storage.models import Resident, Ticket
from storage.ticket_events import Happened, Link
from storage.vocabulary import MessageDirection, TicketStatus

AUDIT_FILED = "ticket.filed"
AUDIT_REFILED = "ticket.refiled"


@dataclass(frozen=True, slots=True)
class FilingPolicy:
    """The council's terms that are settings rather than law: the service targets of feedback
    and legal aid (the legal terms of appeals and information requests are fixed in
    ``storage.deadlines``), and the time zone a local day is counted in."""

    zone: ZoneInfo
    feedback_days: int = DEFAULT_FEEDBACK_DAYS
    legal_aid_days: int = DEFAULT_LEGAL_AID_DAYS


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file or a location sent with the form: kept as a resident message of the thread."""

    kind: str
    ref: str
    name: str | None = None
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class TicketForm:
    """What the resident's ticket says. An anonymous ticket keeps no name and no contact,
    whatever is given."""

    kind: TicketKind
    # The messenger it was filed from (for a linked person, not always their primary's).
    channel: str
    body: str | None
    category: str | None = None
    # The category the bot suggested (recorded to measure the suggester).
    suggested_category: str | None = None
    appeal_type: str | None = None
    urgent: bool = False
    urgent_reason: str | None = None
    anonymous: bool = False
    full_name: str | None = None
    address: str | None = None
    contact: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Follows:
    """The earlier ticket a new one follows: a repeated appeal, a complaint about the answer, a
    new information request (``storage.ticket_events.Link``)."""

    parent: Ticket
    link: Link


async def deadline_for(
    session: AsyncSession,
    *,
    kind: TicketKind,
    received: datetime,
    urgent: bool,
    policy: FilingPolicy,
) -> datetime:
    """The deadline a ticket of ``kind`` received at ``received`` gets (over today's calendar)."""
    return initial_deadline(
        kind,
        received,
        calendar=await load_calendar(session),
        zone=policy.zone,
        urgent=urgent,
        feedback_days=policy.feedback_days,
        legal_aid_days=policy.legal_aid_days,
    )


async def file_ticket(
    session: AsyncSession,
    *,
    resident: Resident | None,
    form: TicketForm,
    now: datetime,
    policy: FilingPolicy,
    actor: str | None = None,
    follows: Follows | None = None,
) -> Ticket:
    """Register ``form`` as a new ticket of ``resident`` received at ``now``: the next number of
    its kind for the local year, its deadline, its queue, the files sent with it as the first
    messages of the thread, and the audit entry ``ticket.filed`` (by ``actor``, the resident
    unless someone files on their behalf; a ticket with no ``resident``, from another system
    through Open311, names its ``actor``). A ticket that ``follows`` an earlier one is linked
    to it, and the earlier one's timeline and audit say so (``refiled``). Returns the ticket,
    flushed (it has its id)."""
    if actor is None:
        assert resident is not None, "a ticket without a resident names who filed it"
        actor = f"resident:{resident.id}"
    kind = form.kind
    queue_code = await tickets.queue_for_new_ticket(session, kind=kind, category=form.category)
    deadline = await deadline_for(
        session, kind=kind, received=now, urgent=form.urgent, policy=policy
    )
    year = now.astimezone(policy.zone).year
    number = await tickets.next_number(session, kind=kind.value, year=year)
    ticket = Ticket(
        number=number,
        kind=kind.value,
        status=TicketStatus.NEW.value,
        resident_id=resident.id if resident is not None else None,
        channel=form.channel,
        queue_code=queue_code,
        category=form.category,
        suggested_category=form.suggested_category,
        appeal_type=form.appeal_type,
        appeal_term="standard" if kind is TicketKind.APPEAL else None,
        urgent=form.urgent,
        urgent_reason=form.urgent_reason,
        anonymous=form.anonymous,
        full_name=None if form.anonymous else form.full_name,
        address=form.address,
        contact=None if form.anonymous else form.contact,
        body=form.body,
        received_at=now,
        deadline_at=deadline,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    for item in form.attachments:
        tickets.add_message(
            session,
            ticket,
            direction=MessageDirection.RESIDENT,
            now=now,
            text=item.caption,
            attachment=(item.kind, item.ref, item.name),
        )
    audit.record(
        session,
        actor=actor,
        action=AUDIT_FILED,
        subject=f"ticket:{ticket.id}",
        now=now,
        details={"number": number, "kind": kind.value, "queue": queue_code},
    )
    if follows is not None:
        _link(session, ticket, follows, now=now, actor=actor)
    return ticket


def _link(
    session: AsyncSession, ticket: Ticket, follows: Follows, *, now: datetime, actor: str
) -> None:
    parent, link = follows.parent, follows.link
    ticket.parent_id = parent.id
    ticket.parent_link = link.value
    # The earlier ticket's timeline shows the new one (the resident's "my tickets").
    ticket_events.record(session, parent, Happened.REFILED, now=now, other_ticket_id=ticket.id)
    audit.record(
        session,
        actor=actor,
        action=AUDIT_REFILED,
        subject=f"ticket:{parent.id}",
        now=now,
        details={"number": parent.number, "linked": ticket.number, "link": link.value},
    )
