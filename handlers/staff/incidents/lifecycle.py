"""An incident's life: open it (with the tickets to link at once), update its status,
description or expected time (each update reaches its residents), resolve it; and read it.

Resolving closes every linked feedback ticket that is still open, with the incident's answer
recorded as that ticket's staff answer (a thread message by the resolving staff member, the
first-answer time, the "answered" and "closed" steps of its timeline, one audit record each),
and sends the final update. The final update carries the answer, so each resident reads it
once, through the delivery engine at the channel rates, with "resolved for you?" under it —
rather than one direct message per ticket, which for a thousand tickets would bypass the
channels' limits and reach each resident twice (answer, then the incident's final word).
Appeals and information requests stay open with their legal deadlines: their legal answer is
sent ticket by ticket (``handlers.staff.incidents.answers``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from handlers.staff.core import (
    EDITORS,
    EVERY_ROLE,
    WORKERS,
    Actor,
    Done,
    Outcome,
    Reason,
    Refused,
    StaffCall,
    run_after,
)
from handlers.staff.incidents.context import (
    ANSWER_MAX,
    BAD_STATUS,
    DESCRIPTION_MAX,
    EMPTY_TITLE,
    NO_ANSWER,
    NOTHING_CHANGED,
    TITLE_MAX,
    TOO_LONG,
    Change,
    Delivered,
    Draft,
    IncidentCore,
    Resolved,
    audit_incident,
    check_category,
    check_districts,
)
from handlers.staff.incidents.delivery import deliver_update
from handlers.staff.incidents.links import link_in_call
from handlers.staff.tickets.context import Within, audit_ticket
from storage import incidents, ticket_events, ticket_rules
from storage.deadlines import TicketKind
from storage.incidents import IncidentStatus
from storage.models import Incident, IncidentUpdate
from storage.ticket_events import Happened
from storage.tickets import add_message, is_open
from storage.vocabulary import MessageDirection


@dataclass(frozen=True, slots=True)
class Opened:
    incident: Incident
    linked: tuple[int, ...]
    skipped: dict[int, str]


@dataclass(frozen=True, slots=True)
class IncidentCard:
    """An incident as a desk shows it: the row, its counts and its updates so far."""

    incident: Incident
    tickets: int
    followers: int
    updates: Sequence[IncidentUpdate]


def _too_long(text: str, limit: int) -> Refused | None:
    if len(text) <= limit:
        return None
    return Refused(Reason.INVALID, {"code": TOO_LONG, "limit": limit})


async def open_incident(
    core: IncidentCore, actor: Actor, draft: Draft, *, within: Within | None = None
) -> Outcome[Opened]:
    """Open an incident (status "investigating") and link ``draft.ticket_ids`` to it (each
    as ``link`` would: tickets of other departments, or of another incident, are skipped and
    reported). Nothing is sent yet: residents hear of it at their next filing, and from the
    first status update."""
    title, description = draft.title.strip(), draft.description.strip()
    if not title:
        return Refused(Reason.INVALID, {"code": EMPTY_TITLE})
    bad = (
        _too_long(title, TITLE_MAX)
        or _too_long(description, DESCRIPTION_MAX)
        or check_districts(draft.districts)
        or check_category(draft.category)
    )
    if bad is not None:
        return bad
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        incident = incidents.create_incident(
            call.session,
            title=title,
            category=draft.category,
            districts=draft.districts,
            description=description,
            expected_at=draft.expected_at,
            now=call.now,
            created_by=call.staff.id,
        )
        await call.session.flush()
        audit_incident(
            call,
            "incident.open",
            incident,
            title=title,
            category=draft.category,
            districts=list(incident.districts),
            tickets=len(draft.ticket_ids),
        )
        linked = await link_in_call(core, call, incident, draft.ticket_ids)
        return Done(Opened(incident, linked.linked, linked.skipped))


def _apply(incident: Incident, change: Change) -> Refused | None:
    """Apply the change to the row; a refusal if it is out of bounds or changes nothing."""
    if change.status is IncidentStatus.RESOLVED:
        return Refused(Reason.INVALID, {"code": BAD_STATUS})
    description = None if change.description is None else change.description.strip()
    bad = _too_long(description or "", DESCRIPTION_MAX) or _too_long(change.text, DESCRIPTION_MAX)
    if bad is not None:
        return bad
    before = (incident.status, incident.description, incident.expected_at)
    if change.status is not None:
        incident.status = change.status.value
    if description is not None:
        incident.description = description
    if change.expected_at is not None or change.clear_expected:
        incident.expected_at = change.expected_at
    after = (incident.status, incident.description, incident.expected_at)
    if after == before and not change.text.strip():
        return Refused(Reason.INVALID, {"code": NOTHING_CHANGED})
    return None


async def update(
    core: IncidentCore,
    actor: Actor,
    incident_id: int,
    change: Change,
    *,
    within: Within | None = None,
) -> Outcome[Delivered]:
    """A status update: change the status (investigating ↔ working; resolving is ``resolve``),
    the description or the expected time, and tell every follower and linked resident once.
    What they read is ``change.text``, else the (new) description. ``notify_district`` (editors
    and administrators): also as urgent news to the districts' subscribers."""
    roles = EDITORS if change.notify_district else WORKERS
    async with core.on_incident(actor, incident_id, within, roles=roles) as found:
        if isinstance(found, Refused):
            return found
        call, incident = found
        refused = _apply(incident, change)
        if refused is not None:
            return refused
        incident.updated_at = call.now
        text = change.text.strip() or incident.description
        delivered = await deliver_update(
            core, call, incident, text, notify_district=change.notify_district
        )
        audit_incident(
            call,
            "incident.update",
            incident,
            update=delivered.update_id,
            status=incident.status,
            expected=incident.expected_at.isoformat() if incident.expected_at else None,
            recipients=delivered.recipients,
            news=delivered.news_broadcast_id,
        )
        return Done(delivered)


async def resolve(
    core: IncidentCore,
    actor: Actor,
    incident_id: int,
    answer: str,
    *,
    notify_district: bool = False,
    within: Within | None = None,
) -> Outcome[Resolved]:
    """Resolve the incident with ``answer``: every linked open feedback ticket is answered
    with it and closed, and the final update (the answer and "resolved for you?") goes to
    every follower and linked resident once."""
    answer = answer.strip()
    if not answer:
        return Refused(Reason.INVALID, {"code": NO_ANSWER})
    too_long = _too_long(answer, ANSWER_MAX)
    if too_long is not None:
        return too_long
    roles = EDITORS if notify_district else WORKERS
    async with core.on_incident(actor, incident_id, within, roles=roles) as found:
        if isinstance(found, Refused):
            return found
        call, incident = found
        incident.status = IncidentStatus.RESOLVED.value
        incident.resolved_at = incident.updated_at = call.now
        incident.answer = answer
        closed = await _close_feedback(core, call, incident)
        delivered = await deliver_update(
            core, call, incident, answer, notify_district=notify_district
        )
        audit_incident(
            call,
            "incident.resolve",
            incident,
            update=delivered.update_id,
            recipients=delivered.recipients,
            closed=len(closed),
            news=delivered.news_broadcast_id,
        )
        return Done(Resolved(delivered, closed))


async def _close_feedback(
    core: IncidentCore, call: StaffCall, incident: Incident
) -> tuple[int, ...]:
    """Answer and close the linked feedback tickets still open (see the module's note)."""
    answer = incident.answer or ""
    staff_id = call.staff.id
    answered = []
    for ticket in await incidents.linked_tickets(
        call.session, incident.id, kinds=(TicketKind.FEEDBACK.value,), lock=True
    ):
        if not is_open(ticket):
            continue
        record = add_message(
            call.session,
            ticket,
            direction=MessageDirection.STAFF,
            now=call.now,
            text=answer,
            author_id=staff_id,
        )
        if ticket_rules.record_answer(ticket, staff_id=staff_id, now=call.now):
            ticket_events.record(
                call.session, ticket, Happened.ANSWERED, now=call.now, staff_id=staff_id
            )
        ticket_rules.close(ticket, now=call.now)
        ticket_events.record(call.session, ticket, Happened.CLOSED, now=call.now, staff_id=staff_id)
        answered.append((ticket, record))
    # One flush for every ticket (the answers' ids for the audit): a thousand tickets are a
    # few batched statements, not a thousand round trips.
    await call.session.flush()
    for ticket, record in answered:
        audit_ticket(call, "ticket.answer", ticket, message=record.id, incident=incident.id)
        audit_ticket(call, "ticket.close", ticket, incident=incident.id)
    if answered:
        closed = tuple((ticket.id, record.id) for ticket, record in answered)
        call.later(_show_closed, core, incident.id, closed)
    return tuple(ticket.id for ticket, _record in answered)


async def _show_closed(
    core: IncidentCore, incident_id: int, closed: tuple[tuple[int, int], ...]
) -> None:
    """The desks show each closed ticket's answer and its card. In the background when the
    core has one (the bot's outbox: owned, drained on shutdown): a thousand tickets are two
    thousand Telegram calls at the token's 30 a second, which the staff member's request must
    not wait for."""
    events = core.tickets.events

    async def show() -> None:
        for ticket_id, message_id in closed:
            await run_after(
                [
                    functools.partial(events.staff_wrote, ticket_id, message_id),
                    functools.partial(events.refresh_card, ticket_id),
                ]
            )

    if core.background is None:
        await show()
    else:
        await core.background(f"incident:{incident_id}", show)


async def card(
    core: IncidentCore, actor: Actor, incident_id: int, *, within: Within | None = None
) -> Outcome[IncidentCard]:
    """One incident with its counts and updates (every role may read)."""
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        incident = await incidents.get_incident(call.session, incident_id)
        if incident is None:
            return Refused(Reason.NOT_FOUND)
        return Done(
            IncidentCard(
                incident,
                tickets=await incidents.count_linked(call.session, incident.id),
                followers=await incidents.count_followers(call.session, incident.id),
                updates=await incidents.updates_of(call.session, incident.id),
            )
        )


async def listing(
    core: IncidentCore,
    actor: Actor,
    *,
    open_only: bool = True,
    within: Within | None = None,
) -> Outcome[Sequence[Incident]]:
    """The incidents, newest first (open ones only, unless asked)."""
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        return Done(await incidents.list_incidents(call.session, open_only=open_only))
