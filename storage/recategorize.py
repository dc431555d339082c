"""Staff changing a ticket's category: the ticket moves to the category's queue, and the change
is recorded with the old and new category and what the suggester had proposed, so the keyword
lists can be improved (``citybot keywords report``). The caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, staff_desk, ticket_rules
from storage.deadlines import TicketKind
from storage.keyword_store import CATEGORY_CHANGED
from storage.models import AuditEntry, Ticket
from storage.ticket_rules import TransitionError
from storage.tickets import is_open, queue_for_new_ticket
from storage.vocabulary import CATEGORY_QUEUES

ACTION = CATEGORY_CHANGED
# Kinds whose category the resident chose and which go to a queue by it (public-information
# requests and legal aid have queues of their own).
CATEGORIZED_KINDS = frozenset({TicketKind.FEEDBACK.value, TicketKind.APPEAL.value})


@dataclass(frozen=True, slots=True)
class CategoryChange:
    ticket_id: int
    number: str
    old: str | None
    new: str
    suggested: str | None
    old_queue: str
    new_queue: str

    @property
    def moved(self) -> bool:
        return self.old_queue != self.new_queue


def can_change_category(ticket: Ticket) -> bool:
    return is_open(ticket) and ticket.kind in CATEGORIZED_KINDS


async def change_category(
    session: AsyncSession, ticket: Ticket, *, category: str, actor: str, now: datetime
) -> CategoryChange:
    """Set ``ticket``'s category; when the category's queue (an administrator's route, else
    ``CATEGORY_QUEUES``) is another, the ticket is handed over to it as with the hand-over
    button (its staff copies are forgotten: the caller posts it to the new queue). Raises
    :class:`TransitionError` ``bad_category``, ``same_category`` or ``not_open``."""
    if category not in CATEGORY_QUEUES or ticket.kind not in CATEGORIZED_KINDS:
        raise TransitionError("bad_category")
    if not is_open(ticket):
        raise TransitionError("not_open")
    if ticket.category == category:
        raise TransitionError("same_category")
    queue = await queue_for_new_ticket(session, kind=TicketKind(ticket.kind), category=category)
    change = CategoryChange(
        ticket_id=ticket.id,
        number=ticket.number,
        old=ticket.category,
        new=category,
        suggested=ticket.suggested_category,
        old_queue=ticket.queue_code,
        new_queue=queue,
    )
    ticket.category = category
    ticket.updated_at = now
    if change.moved:
        ticket_rules.hand_over(ticket, queue_code=queue, now=now)
        await staff_desk.forget_staff_copies(session, ticket_id=ticket.id)
    audit.record(
        session,
        actor=actor,
        action=ACTION,
        now=now,
        subject=f"ticket:{ticket.id}",
        details={
            "number": ticket.number,
            "old": change.old,
            "new": change.new,
            "suggested": change.suggested,
            "queue_from": change.old_queue,
            "queue_to": change.new_queue,
        },
    )
    return change


async def recent_changes(
    session: AsyncSession, *, since: datetime | None = None, limit: int = 50
) -> list[CategoryChange]:
    """The latest category changes, newest first, from the audit log."""
    query = select(AuditEntry).where(AuditEntry.action == ACTION)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    entries = (await session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))).all()
    changes = []
    for entry in entries:
        details = entry.details
        ticket_id = int((entry.subject or "ticket:0").partition(":")[2] or 0)
        changes.append(
            CategoryChange(
                ticket_id=ticket_id,
                number=str(details.get("number", "")),
                old=details.get("old"),
                new=str(details.get("new", "")),
                suggested=details.get("suggested"),
                old_queue=str(details.get("queue_from", "")),
                new_queue=str(details.get("queue_to", "")),
            )
        )
    return changes
