"""What the news and the poll operations share: the lifecycle's refusals in the core's terms,
the audit record of a broadcast, and starting one (planning, then waking the delivery engine
once the transaction committed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from handlers.staff.core import Reason, Refused, StaffCall
from storage.broadcast_lifecycle import LifecycleError, Problem
from storage.models import Broadcast
from storage.planning import plan_broadcast

Wake = Callable[[], None]


def no_wake() -> None:
    """No delivery engine in this process (a shell, a test of the staff core alone)."""


_REASONS = {
    Problem.STATE: Reason.STATE,
    Problem.TWO_PERSON: Reason.TWO_PERSON,
    Problem.TOO_LATE: Reason.TOO_LATE,
}


def refused(error: LifecycleError, **details: object) -> Refused:
    """A lifecycle step that did not apply, as the refusal a desk renders; ``status`` is the
    state the broadcast is in."""
    return Refused(_REASONS[error.problem], {"status": error.status, **details})


def audit(call: StaffCall, action: str, subject: str, **details: object) -> None:
    """The audit record of a broadcast operation; details that are None are left out."""
    call.audit(
        action,
        subject=subject,
        **{key: value for key, value in details.items() if value is not None},
    )


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class Starter:
    """Starts broadcasts: one ``INSERT … SELECT`` of the deliveries, and after the commit a
    nudge to the delivery engine (``wake``, given by the composition root) so that sending
    starts now rather than at the engine's next poll."""

    def __init__(self, wake: Wake) -> None:
        self._wake = wake

    async def start(
        self, call: StaffCall, broadcast: Broadcast, *, statuses: tuple[str, ...]
    ) -> int:
        await call.session.flush()
        count = await plan_broadcast(
            call.session, broadcast_id=broadcast.id, now=call.now, statuses=statuses
        )
        call.later(self._woken)
        return count or 0

    async def _woken(self) -> None:
        self._wake()
