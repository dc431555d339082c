"""Who works on a ticket: taking it, handing it over to another department's queue, and moving
it to another category (which may move it to that category's queue)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.staff.core import WORKERS, Actor, Done, Outcome, Reason, Refused
from handlers.staff.tickets.context import TicketCore, Within, audit_ticket
from storage import recategorize, staff_desk, ticket_events, ticket_rules
from storage.models import Staff, Ticket
from storage.recategorize import CategoryChange
from storage.ticket_events import Happened
from storage.ticket_rules import TransitionError
from storage.tickets import get_queue
from storage.vocabulary import Role, TicketStatus

BAD_QUEUE = "bad_queue"
# A colleague who cannot take the ticket: no such enabled account, a read-only role, or not
# working in the ticket's department.
BAD_ASSIGNEE = "bad_assignee"


@dataclass(frozen=True, slots=True)
class HandedOver:
    number: str
    queue_name: str


@dataclass(frozen=True, slots=True)
class Recategorized:
    number: str
    change: CategoryChange
    # The new queue's name when the ticket moved to another queue.
    queue_name: str | None


def refused_by(error: TransitionError, ticket: Ticket) -> Refused:
    """A transition the ticket's state does not allow, as a typed refusal."""
    return Refused(Reason.STATE, {"code": error.code, "number": ticket.number})


async def check_open(
    core: TicketCore, actor: Actor, ticket_id: int, *, within: Within | None = None
) -> Outcome[Ticket]:
    """Whether staff may act on the ticket at all (before a desk shows them a choice)."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        return opened if isinstance(opened, Refused) else Done(opened[1])


async def take(
    core: TicketCore, actor: Actor, ticket_id: int, *, within: Within | None = None
) -> Outcome[Ticket]:
    """The acting staff member takes the ticket; a new ticket's resident is told."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        if isinstance(opened, Refused):
            return opened
        call, ticket = opened
        was_new = ticket.status == TicketStatus.NEW
        try:
            ticket_rules.take(ticket, staff_id=call.staff.id, now=call.now)
        except TransitionError as error:
            return refused_by(error, ticket)
        audit_ticket(call, "ticket.take", ticket)
        ticket_events.record(
            call.session, ticket, Happened.TAKEN, now=call.now, staff_id=call.staff.id
        )
        if was_new:
            await core.notify(call, ticket, core.notices.taken)
        call.later(core.events.refresh_card, ticket.id)
        return Done(ticket)


async def assign(
    core: TicketCore, actor: Actor, ticket_id: int, staff_id: int, *, within: Within | None = None
) -> Outcome[Ticket]:
    """Give the ticket to a colleague of its department (as if they had taken it); a new
    ticket's resident is told it is being worked on. ``INVALID`` ``bad_assignee`` for anyone
    who could not take it themselves."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        if isinstance(opened, Refused):
            return opened
        call, ticket = opened
        target = await call.session.get(Staff, staff_id)
        if (
            target is None
            or target.disabled_at is not None
            or Role(target.role) not in WORKERS
            or (
                Role(target.role) is not Role.ADMIN
                and ticket.queue_code not in target.department_codes
            )
        ):
            return Refused(Reason.INVALID, {"code": BAD_ASSIGNEE, "number": ticket.number})
        was_new = ticket.status == TicketStatus.NEW
        try:
            ticket_rules.take(ticket, staff_id=target.id, now=call.now)
        except TransitionError as error:
            return refused_by(error, ticket)
        audit_ticket(call, "ticket.assign", ticket, assignee=target.id)
        ticket_events.record(call.session, ticket, Happened.TAKEN, now=call.now, staff_id=target.id)
        if was_new:
            await core.notify(call, ticket, core.notices.taken)
        call.later(core.events.refresh_card, ticket.id)
        return Done(ticket)


async def hand_over(
    core: TicketCore, actor: Actor, ticket_id: int, queue_code: str, *, within: Within | None = None
) -> Outcome[HandedOver]:
    """Move the ticket to another active queue; it starts afresh there (its own card, no
    assignee). ``INVALID`` ``bad_queue`` for a queue that does not exist or is inactive."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        if isinstance(opened, Refused):
            return opened
        call, ticket = opened
        queue = await get_queue(call.session, code=queue_code)
        if queue is None or not queue.is_active:
            return Refused(Reason.INVALID, {"code": BAD_QUEUE, "queue": queue_code})
        previous = ticket.queue_code
        chat = await staff_desk.chat_of_queue(
            call.session, code=queue_code, operator_chat_id=core.operator_chat_id
        )
        same_chat = chat is not None and chat == ticket.staff_chat_id
        try:
            ticket_rules.hand_over(ticket, queue_code=queue_code, now=call.now, same_chat=same_chat)
        except TransitionError as error:
            return refused_by(error, ticket)
        await staff_desk.forget_staff_copies(call.session, ticket_id=ticket.id)
        audit_ticket(call, "ticket.handover", ticket, source=previous, target=queue_code)
        ticket_events.record(
            call.session,
            ticket,
            Happened.HANDED_OVER,
            now=call.now,
            staff_id=call.staff.id,
        )
        call.later(core.events.repost, ticket.id)
        return Done(HandedOver(number=ticket.number, queue_name=queue.name))


async def change_category(
    core: TicketCore, actor: Actor, ticket_id: int, category: str, *, within: Within | None = None
) -> Outcome[Recategorized]:
    """Recorded with the old and new category and the suggestion made at filing (the keyword
    lists are improved from these, ``storage.recategorize``); a new queue gets the ticket as a
    hand-over."""
    async with core.on_open_ticket(actor, ticket_id, within) as opened:
        if isinstance(opened, Refused):
            return opened
        call, ticket = opened
        try:
            change = await recategorize.change_category(
                call.session, ticket, category=category, actor=actor.audit_name, now=call.now
            )
        except TransitionError as error:
            return refused_by(error, ticket)
        if not change.moved:
            call.later(core.events.refresh_card, ticket.id)
            return Done(Recategorized(number=ticket.number, change=change, queue_name=None))
        queue = await get_queue(call.session, code=change.new_queue)
        call.later(core.events.repost, ticket.id)
        name = queue.name if queue is not None else change.new_queue
        return Done(Recategorized(number=ticket.number, change=change, queue_name=name))
