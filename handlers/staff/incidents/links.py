"""Which tickets are about an incident: link or unlink one, link many at once (a filtered
queue's ids, a spike alert's tickets), and the tickets the matcher suggests.

A ticket is linked to one incident at most. Linking checks the ticket as every ticket action
does (it exists, and is of a department the staff member works in); a bulk link reports each
id it skipped and why instead of refusing the whole list. Each link is audited per ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers.staff.core import EVERY_ROLE, Actor, Done, Outcome, Reason, Refused, StaffCall
from handlers.staff.incidents.context import (
    BULK_MAX,
    ELSEWHERE,
    NOT_LINKED,
    TOO_LONG,
    IncidentCore,
    Linked,
    audit_incident,
)
from handlers.staff.tickets.context import Within, locked_ticket
from storage import incidents
from storage.incident_match import Match, rank_tickets
from storage.incidents import LinkedBy, LinkResult
from storage.models import Incident, Ticket

# How many candidate tickets a suggestion ranks, and shows at most.
CANDIDATES = 2000


@dataclass(frozen=True, slots=True)
class Suggestion:
    ticket: Ticket
    match: Match


async def link_in_call(
    core: IncidentCore, call: StaffCall, incident: Incident, ticket_ids: Sequence[int]
) -> Linked:
    """Link ``ticket_ids`` inside an open call (``open_incident`` and ``link_many``)."""
    del core
    linked: list[int] = []
    already: list[int] = []
    skipped: dict[int, str] = {}
    for ticket_id in dict.fromkeys(ticket_ids):
        ticket = await locked_ticket(call, ticket_id)
        if isinstance(ticket, Refused):
            skipped[ticket_id] = ticket.reason.value
            continue
        result = await incidents.link_ticket(
            call.session,
            incident_id=incident.id,
            ticket_id=ticket.id,
            linked_by=LinkedBy.STAFF,
            staff_id=call.staff.id,
            now=call.now,
        )
        if result is LinkResult.ELSEWHERE:
            skipped[ticket_id] = ELSEWHERE
        elif result is LinkResult.ALREADY:
            already.append(ticket_id)
        else:
            audit_incident(call, "incident.link", incident, ticket=ticket.id, number=ticket.number)
            linked.append(ticket_id)
    return Linked(tuple(linked), tuple(already), skipped)


async def link(
    core: IncidentCore,
    actor: Actor,
    incident_id: int,
    ticket_id: int,
    *,
    within: Within | None = None,
) -> Outcome[Linked]:
    """Link one ticket; refused (with the ticket refusal's reason) if it cannot be."""
    async with core.on_incident(actor, incident_id, within) as found:
        if isinstance(found, Refused):
            return found
        call, incident = found
        ticket = await locked_ticket(call, ticket_id)
        if isinstance(ticket, Refused):
            return ticket
        linked = await link_in_call(core, call, incident, [ticket_id])
        if linked.skipped:
            return Refused(Reason.STATE, {"code": ELSEWHERE, "number": ticket.number})
        return Done(linked)


async def link_many(
    core: IncidentCore,
    actor: Actor,
    incident_id: int,
    ticket_ids: Sequence[int],
    *,
    within: Within | None = None,
) -> Outcome[Linked]:
    """Link every ticket of ``ticket_ids`` that can be (at most ``BULK_MAX`` per call)."""
    if len(ticket_ids) > BULK_MAX:
        return Refused(Reason.INVALID, {"code": TOO_LONG, "limit": BULK_MAX})
    async with core.on_incident(actor, incident_id, within) as found:
        if isinstance(found, Refused):
            return found
        call, incident = found
        return Done(await link_in_call(core, call, incident, ticket_ids))


async def unlink(
    core: IncidentCore,
    actor: Actor,
    incident_id: int,
    ticket_id: int,
    *,
    within: Within | None = None,
) -> Outcome[int]:
    """Unlink a ticket (linked by mistake); its resident no longer gets the updates unless
    they follow the incident."""
    async with core.on_incident(actor, incident_id, within, open_only=False) as found:
        if isinstance(found, Refused):
            return found
        call, incident = found
        ticket = await locked_ticket(call, ticket_id)
        if isinstance(ticket, Refused):
            return ticket
        if not await incidents.unlink_ticket(
            call.session, incident_id=incident.id, ticket_id=ticket.id
        ):
            return Refused(Reason.STATE, {"code": NOT_LINKED, "number": ticket.number})
        audit_incident(call, "incident.unlink", incident, ticket=ticket.id, number=ticket.number)
        return Done(ticket.id)


async def suggestions(
    core: IncidentCore,
    actor: Actor,
    incident_id: int,
    *,
    limit: int = 500,
    within: Within | None = None,
) -> Outcome[list[Suggestion]]:
    """Open tickets linked to no incident that the matcher says are about this one (the
    tickets of the staff member's departments), best first: what a desk offers to link in
    bulk."""
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        incident = await incidents.get_incident(call.session, incident_id)
        if incident is None:
            return Refused(Reason.NOT_FOUND)
        (facts,) = await incidents.facts_of(call.session, [incident])
        tickets = {
            candidate.ticket.id: candidate
            for candidate in await incidents.unlinked_candidates(
                call.session, incident, now=call.now, limit=CANDIDATES
            )
            if call.works_in(candidate.ticket.queue_code)
        }
        # Best first; on equal scores a rule match (same category and district) first.
        ranked = rank_tickets(
            facts,
            [
                (ticket_id, incidents.report_facts(candidate.ticket, candidate.district))
                for ticket_id, candidate in tickets.items()
            ],
        )
        return Done(
            [Suggestion(tickets[ticket_id].ticket, match) for ticket_id, match in ranked][:limit]
        )
