"""The incident's answer as the legal answer of linked appeals and information requests.

Those keep their own legal procedure and deadline when the incident is resolved (Law 393/96-ВР,
Law 2939-VI): staff choose which of them the incident's answer answers, one by one or in bulk,
and each goes out exactly as a staff answer does (``handlers.staff.tickets.answering``): relayed
to the resident, kept in the ticket's thread, the ticket answered, audited per ticket.

Once per ticket: a ticket whose thread already holds the incident's answer as a staff answer is
skipped (``already_answered``), so a bulk form sent again (or a second desk's) repeats nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.staff.core import Actor, Done, Outcome, Reason, Refused
from handlers.staff.incidents.context import (
    ALREADY_ANSWERED,
    BULK_MAX,
    NO_ANSWER,
    NOT_LINKED,
    TOO_LONG,
    WRONG_KIND,
    IncidentCore,
    audit_incident,
)
from handlers.staff.tickets.answering import answer_in_call
from handlers.staff.tickets.context import Within
from storage import incidents
from storage.deadlines import TicketKind
from storage.models import Incident, IncidentTicket, TicketMessage
from storage.vocabulary import MessageDirection

# The kinds whose answer is a legal one, sent by this operation.
LEGAL_KINDS = frozenset({TicketKind.APPEAL.value, TicketKind.INFO_REQUEST.value})


@dataclass(frozen=True, slots=True)
class LegalAnswers:
    """Which tickets got the answer, and the ones that did not with why (a refusal reason or
    code: ``not_linked``, ``wrong_kind``, ``not_open``, ``department``…)."""

    answered: tuple[int, ...]
    skipped: dict[int, str] = field(default_factory=dict)


async def send_legal_answers(
    core: IncidentCore,
    actor: Actor,
    incident_id: int,
    ticket_ids: Sequence[int],
    *,
    within: Within | None = None,
) -> Outcome[LegalAnswers]:
    """Send the incident's answer (given at resolving) to each of ``ticket_ids``: linked
    appeals or information requests still open. The answer is relayed after the commit, one
    message per ticket, as any staff answer."""
    if len(ticket_ids) > BULK_MAX:
        return Refused(Reason.INVALID, {"code": TOO_LONG, "limit": BULK_MAX})
    async with core.on_incident(actor, incident_id, within, open_only=False) as found:
        if isinstance(found, Refused):
            return found
        call, incident = found
        if not incident.answer:
            return Refused(Reason.STATE, {"code": NO_ANSWER})
        linked = {
            ticket.id: ticket.kind
            for ticket in await incidents.linked_tickets(call.session, incident.id)
        }
        before = await answered_already(call.session, incident)
        answered: list[int] = []
        skipped: dict[int, str] = {}
        for ticket_id in dict.fromkeys(ticket_ids):
            if ticket_id not in linked:
                skipped[ticket_id] = NOT_LINKED
                continue
            if linked[ticket_id] not in LEGAL_KINDS:
                skipped[ticket_id] = WRONG_KIND
                continue
            if ticket_id in before:
                skipped[ticket_id] = ALREADY_ANSWERED
                continue
            sent = await answer_in_call(core.tickets, call, ticket_id, incident.answer)
            if isinstance(sent, Refused):
                skipped[ticket_id] = str(sent.details.get("code", sent.reason.value))
                continue
            audit_incident(call, "incident.legal_answer", incident, ticket=ticket_id)
            answered.append(ticket_id)
        return Done(LegalAnswers(tuple(answered), skipped))


async def answered_already(session: AsyncSession, incident: Incident) -> set[int]:
    """The linked tickets whose thread holds the incident's answer as a staff answer: sent
    already (by this operation or typed by hand), not sent or offered again."""
    if not incident.answer:
        return set()
    found = await session.scalars(
        select(TicketMessage.ticket_id)
        .join(IncidentTicket, IncidentTicket.ticket_id == TicketMessage.ticket_id)
        .where(
            IncidentTicket.incident_id == incident.id,
            TicketMessage.direction == MessageDirection.STAFF.value,
            TicketMessage.text == incident.answer.strip(),
        )
        .distinct()
    )
    return set(found.all())
