"""Answering a ticket: a staff answer (text and/or a file) relayed to the resident, an internal
note kept in the thread only, and an answer from a saved template."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.staff.core import Actor, Done, Outcome, Reason, Refused, StaffCall
from handlers.staff.tickets.context import (
    NOT_OPEN,
    NOWHERE,
    Attachment,
    Source,
    TicketCore,
    Within,
    audit_ticket,
    department_refusal,
    locked_ticket,
    resident_of,
)
from storage import linking, open311, staff_desk, ticket_events, ticket_rules
from storage.ticket_events import Happened
from storage.tickets import add_message, get_ticket, is_open
from storage.vocabulary import MessageDirection

# Refusal codes (``Refused.details["code"]``) a desk renders.
EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class Answered:
    message_id: int
    # The first answer (again after a reopening): the ticket's status changed to answered.
    first: bool


async def answer(
    core: TicketCore,
    actor: Actor,
    ticket_id: int,
    text: str,
    attachment: Attachment | None = None,
    *,
    source: Source = NOWHERE,
    within: Within | None = None,
) -> Outcome[Answered]:
    """Relay a staff answer to the resident and record it."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        return await _answer(core, call, ticket_id, text.strip(), attachment, source)


async def answer_in_call(
    core: TicketCore, call: StaffCall, ticket_id: int, text: str
) -> Outcome[Answered]:
    """A text answer inside an operation's own call (an incident's legal answer to each of its
    linked tickets): checked, recorded, audited and relayed as ``answer`` does."""
    return await _answer(core, call, ticket_id, text.strip(), None, NOWHERE)


async def _answer(
    core: TicketCore,
    call: StaffCall,
    ticket_id: int,
    text: str,
    attachment: Attachment | None,
    source: Source,
) -> Outcome[Answered]:
    if not text and attachment is None:
        return Refused(Reason.INVALID, {"code": EMPTY})
    ticket = await locked_ticket(call, ticket_id)
    if isinstance(ticket, Refused):
        return ticket
    if not is_open(ticket):
        return Refused(Reason.STATE, {"code": NOT_OPEN, "number": ticket.number})
    resident = await resident_of(call.session, ticket)
    # A request from another system (Open311) has no messenger: its answer is recorded, and
    # the system reads it (requests.json, the updates feed); files do not reach it.
    unsent = resident is None and ticket.channel == open311.CHANNEL
    if resident is None and not unsent:
        return Refused(Reason.NO_RESIDENT)
    if unsent and attachment is not None:
        return Refused(Reason.UNSUPPORTED)
    channel = None
    if resident is not None:
        # Where the answer goes: a person linked in both messengers is reached through the one
        # they prefer, and a file must be sent in that messenger's form.
        channel = (await linking.delivery_identity(call.session, resident)).channel
        if attachment is not None and not core.notices.can_send_files(resident, channel=channel):
            return Refused(Reason.UNSUPPORTED)
    staff_id = call.staff.id
    record = add_message(
        call.session,
        ticket,
        direction=MessageDirection.STAFF,
        now=call.now,
        text=text or None,
        author_id=staff_id,
        attachment=attachment,
        staff_chat_id=source.chat_id,
        staff_message_id=source.message_id,
    )
    await call.session.flush()
    before = (ticket.status, ticket.assignee_id)
    first = ticket_rules.record_answer(ticket, staff_id=staff_id, now=call.now)
    if first:
        # The resident's timeline shows when their ticket was answered (again after a reopening).
        ticket_events.record(
            call.session, ticket, Happened.ANSWERED, now=call.now, staff_id=staff_id
        )
    audit_ticket(
        call,
        "ticket.answer",
        ticket,
        message=record.id,
        attachment=attachment[0] if attachment else None,
    )
    if resident is not None:
        reply = core.notices.answer(
            resident, ticket, text=text, attachment=attachment, first=first, channel=channel
        )
        call.later(
            core.deliver, resident, reply, ticket.id, record.id, source.message_id, answer=True
        )
    call.later(core.events.staff_wrote, ticket.id, record.id)
    if (ticket.status, ticket.assignee_id) != before:
        call.later(core.events.refresh_card, ticket.id)
    return Done(Answered(message_id=record.id, first=first))


async def note(
    core: TicketCore,
    actor: Actor,
    ticket_id: int,
    text: str,
    attachment: Attachment | None = None,
    *,
    source: Source = NOWHERE,
    within: Within | None = None,
) -> Outcome[int]:
    """An internal note: kept in the ticket's thread, never sent to the resident. Notes may be
    added to closed tickets too (what happened after, for colleagues)."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        ticket = await get_ticket(call.session, ticket_id=ticket_id)
        if ticket is None:
            return Refused(Reason.NOT_FOUND)
        if not call.works_in(ticket.queue_code):
            return department_refusal(ticket)
        record = add_message(
            call.session,
            ticket,
            direction=MessageDirection.NOTE,
            now=call.now,
            text=text.strip() or None,
            author_id=call.staff.id,
            attachment=attachment,
            staff_chat_id=source.chat_id,
            staff_message_id=source.message_id,
        )
        audit_ticket(call, "ticket.note", ticket)
        await call.session.flush()
        call.later(core.events.staff_wrote, ticket.id, record.id)
        return Done(record.id)


async def answer_from_template(
    core: TicketCore,
    actor: Actor,
    ticket_id: int,
    name: str,
    attachment: Attachment | None = None,
    *,
    source: Source = NOWHERE,
    within: Within | None = None,
) -> Outcome[Answered]:
    """Answer with a saved template's text (``NOT_FOUND`` with the name when there is none)."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        template = await staff_desk.get_template(call.session, name=name) if name else None
        if template is None:
            return Refused(Reason.NOT_FOUND, {"name": name})
        return await _answer(core, call, ticket_id, template.text.strip(), attachment, source)
