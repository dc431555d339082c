"""A ticket's term and its end: choosing an appeal's term, extending the term (with the reason
the law requires the resident to be told), refusing on a legal ground, and closing."""

from __future__ import annotations

from datetime import datetime

from handlers.staff.core import Actor, Done, Outcome, Reason, Refused, StaffCall
from handlers.staff.tickets.assigning import refused_by
from handlers.staff.tickets.context import TicketCore, Within, audit_ticket, locked_ticket
from storage import ticket_events, ticket_rules
from storage.calendar_store import load_calendar
from storage.deadlines import (
    REFUSAL_NOT_EXTENDABLE,
    REFUSAL_URGENT,
    AppealTerm,
    TicketKind,
    extension_refusal,
    initial_deadline,
    maximum_extension,
)
from storage.models import Ticket
from storage.ticket_events import Happened
from storage.ticket_rules import REFUSAL_GROUNDS, TransitionError

BAD_TERM = "bad_term"
BAD_GROUND = "bad_ground"
# Reasons in the law, not in the clock: the kind or an urgent request is never extended.
_NEVER_EXTENDABLE = frozenset({REFUSAL_NOT_EXTENDABLE, REFUSAL_URGENT})


async def _extension_refused(core: TicketCore, call: StaffCall, ticket: Ticket) -> Refused | None:
    """Whether the law lets the term be extended now (``storage.deadlines.extension_refusal``);
    ``details["extension"]`` is its code."""
    calendar = await load_calendar(call.session)
    code = extension_refusal(
        ticket.kind,
        ticket.received_at,
        call.now,
        calendar=calendar,
        zone=core.zone,
        urgent=ticket.urgent and ticket.kind == TicketKind.INFO_REQUEST,
        current_deadline=ticket.deadline_at,
    )
    if code is None:
        return None
    reason = Reason.STATE if code in _NEVER_EXTENDABLE else Reason.TOO_LATE
    return Refused(reason, {"extension": code, "number": ticket.number})


async def check_extend(
    core: TicketCore, actor: Actor, ticket_id: int, *, within: Within | None = None
) -> Outcome[Ticket]:
    """Whether the ticket's term may be extended now (before a desk asks for the reason)."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        if isinstance(opened, Refused):
            return opened
        call, ticket = opened
        refused = await _extension_refused(core, call, ticket)
        return refused if refused is not None else Done(ticket)


async def extend(
    core: TicketCore, actor: Actor, ticket_id: int, reason: str, *, within: Within | None = None
) -> Outcome[datetime]:
    """Extend to the longest term the law allows, with ``reason`` told to the resident; the new
    deadline is the value."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        ticket = await locked_ticket(call, ticket_id)
        if isinstance(ticket, Refused):
            return ticket
        refused = await _extension_refused(core, call, ticket)
        if refused is not None:
            return refused
        calendar = await load_calendar(call.session)
        maximum = maximum_extension(
            ticket.kind, ticket.received_at, calendar=calendar, zone=core.zone
        )
        assert maximum is not None  # extension_refusal said the kind is extendable
        try:
            ticket_rules.extend(ticket, new_deadline=maximum, reason=reason, now=call.now)
        except TransitionError as error:
            return refused_by(error, ticket)
        audit_ticket(call, "ticket.extend", ticket, reason=reason, deadline=maximum.isoformat())
        ticket_events.record(
            call.session,
            ticket,
            Happened.EXTENDED,
            now=call.now,
            staff_id=call.staff.id,
            deadline_at=maximum,
        )
        await core.notify(call, ticket, core.notices.extended)
        call.later(core.events.refresh_card, ticket.id)
        return Done(maximum)


async def set_term(
    core: TicketCore, actor: Actor, ticket_id: int, term: str, *, within: Within | None = None
) -> Outcome[datetime]:
    """Appeals: 15 days when no further study is needed, else one month (Law 393/96-ВР
    art. 20); staff choose, the deadline follows from the receipt date. The new deadline is the
    value; the resident is told when it moved."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        if isinstance(opened, Refused):
            return opened
        call, ticket = opened
        if not ticket_rules.can_change_term(ticket) or term not in set(AppealTerm):
            return Refused(Reason.INVALID, {"code": BAD_TERM, "number": ticket.number})
        calendar = await load_calendar(call.session)
        previous = ticket.deadline_at
        ticket.appeal_term = AppealTerm(term).value
        ticket.deadline_at = initial_deadline(
            ticket.kind,
            ticket.received_at,
            calendar=calendar,
            zone=core.zone,
            appeal_term=term,
            feedback_days=core.feedback_days,
            legal_aid_days=core.legal_aid_days,
        )
        ticket.updated_at = call.now
        audit_ticket(
            call, "ticket.term", ticket, term=term, deadline=ticket.deadline_at.isoformat()
        )
        if ticket.deadline_at != previous:
            await core.notify(call, ticket, core.notices.term_changed)
        call.later(core.events.refresh_card, ticket.id)
        return Done(ticket.deadline_at)


async def check_ground(
    core: TicketCore, actor: Actor, ticket_id: int, ground: str, *, within: Within | None = None
) -> Outcome[Ticket]:
    """Whether the ticket may be refused on ``ground`` (a legal ground of its kind), before a
    desk asks for the comment."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        if isinstance(opened, Refused):
            return opened
        _call, ticket = opened
        if ground not in REFUSAL_GROUNDS.get(ticket.kind, ()):
            return Refused(Reason.INVALID, {"code": BAD_GROUND, "number": ticket.number})
        return Done(ticket)


async def refuse(
    core: TicketCore,
    actor: Actor,
    ticket_id: int,
    ground: str,
    comment: str,
    *,
    within: Within | None = None,
) -> Outcome[Ticket]:
    """Refuse on a legal ground of the ticket's kind, with staff's comment; the resident is told
    the ground and how to appeal."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        ticket = await locked_ticket(call, ticket_id)
        if isinstance(ticket, Refused):
            return ticket
        try:
            ticket_rules.refuse(ticket, ground=ground, comment=comment, now=call.now)
        except TransitionError as error:
            return refused_by(error, ticket)
        audit_ticket(call, "ticket.refuse", ticket, ground=ground, comment=comment)
        ticket_events.record(
            call.session, ticket, Happened.REFUSED, now=call.now, staff_id=call.staff.id
        )
        await core.notify(call, ticket, core.notices.refused)
        call.later(core.events.refresh_card, ticket.id)
        return Done(ticket)


async def close(
    core: TicketCore, actor: Actor, ticket_id: int, *, within: Within | None = None
) -> Outcome[Ticket]:
    """Close the ticket; the resident is asked whether the issue is resolved."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        if isinstance(opened, Refused):
            return opened
        call, ticket = opened
        try:
            ticket_rules.close(ticket, now=call.now)
        except TransitionError as error:
            return refused_by(error, ticket)
        audit_ticket(call, "ticket.close", ticket)
        ticket_events.record(
            call.session, ticket, Happened.CLOSED, now=call.now, staff_id=call.staff.id
        )
        await core.notify(call, ticket, core.notices.closed)
        call.later(core.events.refresh_card, ticket.id)
        return Done(ticket)
