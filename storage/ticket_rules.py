"""Ticket states and transitions: what staff may do to a ticket, and what it changes.

Deadlines are computed by ``storage.deadlines`` and passed in; these functions only check that a
step is allowed and record it on the ticket.
"""

from __future__ import annotations

from datetime import datetime

from storage.deadlines import TicketKind
from storage.models import Ticket
from storage.ticket_events import Resolution
from storage.tickets import is_open
from storage.vocabulary import OPEN_STATUSES, TicketStatus

# Legal grounds for refusing, per kind (the catalog explains each one to the resident).
REFUSAL_GROUNDS: dict[str, tuple[str, ...]] = {
    # Law 2939-VI art. 22.
    "info_request": ("not_holder", "restricted", "incomplete", "unpaid_costs"),
    # Law 393/96-ВР art. 5 (requisites), 7 (not competent: forwarded), 8 (anonymous, repeated).
    "appeal": ("incomplete", "anonymous", "repeated", "not_competent"),
    # Law 3460-VI art. 7: outside primary legal aid.
    "legal_aid": ("not_legal_aid", "incomplete"),
    "feedback": ("not_actionable",),
}

STARS = range(1, 6)

# Kinds a resident's "not resolved" opens again for the same department: feedback (a service,
# no procedure) and free legal aid (the consultation goes on). Appeals and information requests
# have a procedure the law fixes: the resident files a repeated appeal or a complaint instead.
REOPENABLE_KINDS = frozenset({"feedback", "legal_aid"})


# Kinds whose term the law lets staff extend (with notice to the resident).
EXTENDABLE_KINDS = frozenset({TicketKind.APPEAL, TicketKind.INFO_REQUEST})


def can_extend(ticket: Ticket) -> bool:
    """Whether extending is offered at all; the legal checks of the moment
    (``storage.deadlines.extension_refusal``) run when staff ask for it."""
    return (
        is_open(ticket)
        and ticket.kind in EXTENDABLE_KINDS
        and not (ticket.kind == TicketKind.INFO_REQUEST and ticket.urgent)
        and ticket.extended_at is None
    )


def can_change_term(ticket: Ticket) -> bool:
    """An open appeal not extended yet: staff may choose its 15-day or one-month term."""
    return is_open(ticket) and ticket.kind == TicketKind.APPEAL and ticket.extended_at is None


class TransitionError(Exception):
    """A staff action that does not apply to the ticket in its current state."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _require_open(ticket: Ticket) -> None:
    if TicketStatus(ticket.status) not in OPEN_STATUSES:
        raise TransitionError("not_open")


def take(ticket: Ticket, *, staff_id: int, now: datetime) -> None:
    _require_open(ticket)
    if ticket.assignee_id == staff_id and ticket.status != TicketStatus.NEW:
        raise TransitionError("already_taken")
    ticket.assignee_id = staff_id
    ticket.taken_at = ticket.taken_at or now
    if ticket.status == TicketStatus.NEW:
        ticket.status = TicketStatus.IN_PROGRESS.value
    ticket.updated_at = now


def record_answer(ticket: Ticket, *, staff_id: int, now: datetime) -> bool:
    """A staff answer went out. Returns True when this changed the status (first answer)."""
    _require_open(ticket)
    ticket.first_answer_at = ticket.first_answer_at or now
    ticket.assignee_id = ticket.assignee_id or staff_id
    ticket.updated_at = now
    if ticket.status != TicketStatus.ANSWERED:
        ticket.status = TicketStatus.ANSWERED.value
        return True
    return False


def extend(ticket: Ticket, *, new_deadline: datetime, reason: str, now: datetime) -> None:
    _require_open(ticket)
    if ticket.extended_at is not None:
        raise TransitionError("already_extended")
    if ticket.deadline_at is not None and new_deadline <= ticket.deadline_at:
        raise TransitionError("already_at_maximum")
    ticket.deadline_at = new_deadline
    ticket.extended_at = now
    ticket.extension_reason = reason
    ticket.updated_at = now


def refuse(ticket: Ticket, *, ground: str, comment: str, now: datetime) -> None:
    _require_open(ticket)
    if ground not in REFUSAL_GROUNDS.get(ticket.kind, ()):
        raise TransitionError("bad_ground")
    ticket.status = TicketStatus.REFUSED.value
    ticket.refusal_ground = ground
    ticket.refusal_comment = comment
    ticket.closed_at = now
    ticket.updated_at = now


def close(ticket: Ticket, *, now: datetime) -> None:
    _require_open(ticket)
    ticket.status = TicketStatus.CLOSED.value
    ticket.closed_at = now
    # Each closing asks the resident again whether the issue is resolved.
    ticket.resolution = None
    ticket.resolution_at = None
    ticket.updated_at = now


def closure_round(ticket: Ticket) -> int | None:
    """Which closing a "resolved?" question belongs to: the closing time in whole seconds, so a
    button of an earlier closing (before a reopening) is told apart from the current one."""
    if ticket.status != TicketStatus.CLOSED or ticket.closed_at is None:
        return None
    return int(ticket.closed_at.timestamp())


def answer_resolution(ticket: Ticket, *, resolved: bool, round_: int, now: datetime) -> None:
    """The resident's answer to "Питання вирішено?" asked at closing ``round_``. Only the first
    answer to the current closing counts."""
    if closure_round(ticket) != round_:
        raise TransitionError("stale")
    if ticket.resolution is not None:
        raise TransitionError("already_answered")
    ticket.resolution = (Resolution.RESOLVED if resolved else Resolution.NOT_RESOLVED).value
    ticket.resolution_at = now
    ticket.updated_at = now


def reopen(ticket: Ticket, *, now: datetime) -> None:
    """A closed feedback or legal-aid ticket its resident says is not resolved goes back to the
    department: in progress with whoever had it, else new."""
    if ticket.status != TicketStatus.CLOSED:
        raise TransitionError("not_closed")
    if ticket.kind not in REOPENABLE_KINDS:
        raise TransitionError("not_reopenable")
    if ticket.resolution != Resolution.NOT_RESOLVED:
        raise TransitionError("not_unresolved")
    ticket.status = (
        TicketStatus.IN_PROGRESS if ticket.assignee_id is not None else TicketStatus.NEW
    ).value
    ticket.closed_at = None
    ticket.updated_at = now


def hand_over(ticket: Ticket, *, queue_code: str, now: datetime, same_chat: bool = False) -> None:
    """``same_chat``: the new department works in the chat the ticket is in already."""
    _require_open(ticket)
    if ticket.queue_code == queue_code:
        raise TransitionError("same_queue")
    ticket.queue_code = queue_code
    # The new department starts afresh: its own card and its own assignee. In the same chat
    # the ticket keeps its forum topic (the new card is posted there): a second topic of the
    # same name would split the thread in two.
    ticket.assignee_id = None
    ticket.card_message_id = None
    if not same_chat:
        ticket.staff_chat_id = None
        ticket.thread_id = None
    if ticket.status == TicketStatus.IN_PROGRESS:
        ticket.status = TicketStatus.NEW.value
    ticket.updated_at = now


def rate(ticket: Ticket, *, stars: int, now: datetime) -> None:
    if ticket.status not in (TicketStatus.CLOSED, TicketStatus.REFUSED):
        raise TransitionError("not_closed")
    if stars not in STARS:
        raise TransitionError("bad_rating")
    if ticket.rating is not None:
        raise TransitionError("already_rated")
    ticket.rating = stars
    ticket.updated_at = now
