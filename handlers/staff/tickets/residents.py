"""Banning a ticket's resident (their messages are no longer taken) and lifting the ban."""

from __future__ import annotations

from handlers.staff.core import Actor, Done, Outcome, Reason, Refused
from handlers.staff.tickets.context import (
    NOWHERE,
    Source,
    TicketCore,
    Within,
    locked_ticket,
    resident_of,
)
from storage.models import Resident

ALREADY_BANNED = "already_banned"
NOT_BANNED = "not_banned"


async def set_banned(
    core: TicketCore,
    actor: Actor,
    ticket_id: int,
    *,
    ban: bool,
    source: Source = NOWHERE,
    within: Within | None = None,
) -> Outcome[Resident]:
    """Ban (``ban=True``) or unban the resident of a ticket; they are told either way."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        ticket = await locked_ticket(call, ticket_id)
        if isinstance(ticket, Refused):
            return ticket
        resident = await resident_of(call.session, ticket)
        if resident is None:
            return Refused(Reason.NO_RESIDENT)
        if ban == (resident.banned_at is not None):
            return Refused(Reason.STATE, {"code": ALREADY_BANNED if ban else NOT_BANNED})
        resident.banned_at = call.now if ban else None
        resident.banned_by = call.staff.id if ban else None
        call.audit(
            "resident.ban" if ban else "resident.unban",
            subject=f"resident:{resident.id}",
            ticket=ticket.number,
        )
        notice = core.notices.banned(resident) if ban else core.notices.unbanned(resident)
        call.later(core.deliver, resident, notice, ticket.id, None, source.message_id)
        call.later(core.events.refresh_card, ticket.id)
        return Done(resident)
