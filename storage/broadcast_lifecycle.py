"""The life of a staff broadcast (news, a poll) and the two-person rule, as guarded steps.

    draft ──submit──► pending_approval ──approve──► scheduled ──start──► sending ──► finished
      │  └──schedule──────────────────────────────► scheduled                 │
      │  └──start (send now) ──────────────────────────────────────────────► sending
      ◄──reopen── pending_approval / scheduled     (what was approved or scheduled is what goes out)
    draft / pending_approval / scheduled ──cancel──► cancelled;   sending ──stop──► cancelled

Each step checks the state it starts from and the rule it must follow, changes the broadcast row
(the caller holds it locked and commits), and raises ``LifecycleError`` with a typed reason when
the step does not apply. The delivery engine's own statuses (``planning`` of digests, the final
``finished``) are not staff steps and are not changed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Final

from storage.broadcasts import BroadcastStatus
from storage.models import Broadcast

DRAFT: Final = BroadcastStatus.DRAFT.value
PENDING: Final = BroadcastStatus.PENDING_APPROVAL.value
SCHEDULED: Final = BroadcastStatus.SCHEDULED.value
SENDING: Final = BroadcastStatus.SENDING.value
CANCELLED: Final = BroadcastStatus.CANCELLED.value
FINISHED: Final = BroadcastStatus.FINISHED.value

# Not sent yet: what staff can still open, change (after "reopen"), list or cancel.
OPEN: Final = frozenset({DRAFT, PENDING, SCHEDULED})
# Sent or cancelled: nothing changes it any more.
SETTLED: Final = frozenset({FINISHED, CANCELLED})
# What planning may start, per way of starting.
START_NOW: Final = (DRAFT,)
START_APPROVED: Final = (PENDING,)
START_SCHEDULED: Final = (SCHEDULED,)


class Problem(StrEnum):
    """Why a step does not apply."""

    STATE = "state"  # not in a state this step starts from
    TWO_PERSON = "two_person"  # the author approving their own broadcast
    TOO_LATE = "too_late"  # a time that is past


class LifecycleError(Exception):
    """A step that does not apply to the broadcast as it is."""

    def __init__(self, problem: Problem, status: str) -> None:
        super().__init__(f"{problem.value} (status {status})")
        self.problem = problem
        self.status = status


def _require(broadcast: Broadcast, allowed: frozenset[str] | tuple[str, ...]) -> None:
    if broadcast.status not in allowed:
        raise LifecycleError(Problem.STATE, broadcast.status)


def is_open(broadcast: Broadcast) -> bool:
    return broadcast.status in OPEN


def require_open(broadcast: Broadcast) -> None:
    _require(broadcast, OPEN)


def require_draft(broadcast: Broadcast) -> None:
    """Text, targets, settings, sending and scheduling change drafts only."""
    _require(broadcast, START_NOW)


def reopen(broadcast: Broadcast) -> bool:
    """Back to draft: an approval and a schedule hold for the content they were given for.
    Returns whether it changed anything (a draft stays as it is)."""
    require_open(broadcast)
    changed = broadcast.status != DRAFT
    broadcast.status = DRAFT
    broadcast.scheduled_at = None
    broadcast.approved_by = None
    broadcast.approved_at = None
    return changed


def submit(broadcast: Broadcast, *, when: datetime | None, now: datetime) -> None:
    """Under the two-person rule: a draft waits for a second editor (to be sent at ``when``, or
    at once when approved)."""
    require_draft(broadcast)
    _not_past(broadcast, when, now)
    broadcast.status = PENDING
    broadcast.scheduled_at = when


def schedule(broadcast: Broadcast, *, when: datetime, now: datetime) -> None:
    """A draft to be started at ``when`` (no approval needed)."""
    require_draft(broadcast)
    _not_past(broadcast, when, now)
    broadcast.status = SCHEDULED
    broadcast.scheduled_at = when


def approve(broadcast: Broadcast, *, approver: int, now: datetime) -> bool:
    """A second editor approves a pending broadcast. Returns True when it is to start now,
    False when it is now scheduled for its later time.

    The author may not approve their own broadcast: that is the rule's whole point."""
    _require(broadcast, START_APPROVED)
    if broadcast.created_by == approver:
        raise LifecycleError(Problem.TWO_PERSON, broadcast.status)
    broadcast.approved_by = approver
    broadcast.approved_at = now
    if broadcast.scheduled_at is not None and broadcast.scheduled_at > now:
        broadcast.status = SCHEDULED
        return False
    return True


def cancel(broadcast: Broadcast, *, now: datetime) -> str:
    """Cancel a broadcast not sent yet; returns the status it had. A broadcast being sent is
    stopped instead (``storage.broadcasts.cancel_broadcast``); a sent one stays sent."""
    require_open(broadcast)
    was = broadcast.status
    broadcast.status = CANCELLED
    broadcast.cancelled_at = now
    return was


def require_sending(broadcast: Broadcast) -> None:
    """Stopping applies to a broadcast being sent only."""
    _require(broadcast, (SENDING,))


def may_start_from(statuses: Sequence[str]) -> tuple[str, ...]:
    """The statuses planning may start a broadcast from, checked against the steps above (a
    typo or a settled status would otherwise start nothing, silently)."""
    allowed = {*START_NOW, *START_APPROVED, *START_SCHEDULED}
    wrong = [status for status in statuses if status not in allowed]
    if wrong:
        raise LifecycleError(Problem.STATE, ",".join(wrong))
    return tuple(statuses)


def _not_past(broadcast: Broadcast, when: datetime | None, now: datetime) -> None:
    if when is not None and when <= now:
        raise LifecycleError(Problem.TOO_LATE, broadcast.status)
