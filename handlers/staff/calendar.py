"""The working-day calendar as administrators change it from a desk: public holidays and the
martial-law switch (Law 2136-IX: under martial law holidays are working days). A change moves
the deadlines of every open ticket at once, in the same transaction, and says how many moved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from handlers.staff.core import ADMINS, Actor, Done, Outcome, Reason, Refused, StaffCall
from handlers.staff.tickets.context import TicketCore
from storage.calendar_store import (
    add_holiday,
    recompute_open_deadlines,
    remove_holiday,
    set_martial_law,
)

HOLIDAY_NAME_MAX = 128


@dataclass(frozen=True, slots=True)
class Moved:
    """How many open tickets got a new deadline."""

    deadlines: int


async def _recompute(core: TicketCore, call: StaffCall) -> int:
    return await recompute_open_deadlines(
        call.session,
        zone=core.zone,
        feedback_days=core.feedback_days,
        legal_aid_days=core.legal_aid_days,
    )


async def add(core: TicketCore, actor: Actor, day: date, name: str) -> Outcome[Moved]:
    """Add a holiday (or rename the one on that day)."""
    async with core.call(actor, None, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        name = name.strip()
        if not name or len(name) > HOLIDAY_NAME_MAX:
            return Refused(Reason.INVALID, {"problem": "name"})
        created = await add_holiday(call.session, day=day, name=name)
        moved = await _recompute(core, call)
        call.audit("holiday.add", subject=day.isoformat(), created=created, deadlines_moved=moved)
        return Done(Moved(moved))


async def remove(core: TicketCore, actor: Actor, day: date) -> Outcome[Moved]:
    async with core.call(actor, None, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        if not await remove_holiday(call.session, day=day):
            return Refused(Reason.NOT_FOUND)
        moved = await _recompute(core, call)
        call.audit("holiday.remove", subject=day.isoformat(), deadlines_moved=moved)
        return Done(Moved(moved))


async def martial_law(core: TicketCore, actor: Actor, *, on: bool) -> Outcome[Moved]:
    async with core.call(actor, None, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        await set_martial_law(call.session, on=on)
        moved = await _recompute(core, call)
        call.audit(f"martial_law.{'on' if on else 'off'}", deadlines_moved=moved)
        return Done(Moved(moved))
