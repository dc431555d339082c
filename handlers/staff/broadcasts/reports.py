"""Reports staff read: the statistics and the CSV exports.

Any staff member may see the statistics and export; names, contacts, addresses and texts are in
an export only for administrators (the export says whether it has them, and is audited with who
asked, where, and where it goes: a desk sends a personal export to its administrator only).

As for news and polls, ``ReportsCore.<report>(actor, …)`` runs in its own staff call, and
``ReportsCore.<report>_in(call, …)`` inside a call a desk opened itself.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers.staff.core import (
    EVERY_ROLE,
    Actor,
    Done,
    Outcome,
    Reason,
    Refused,
    StaffCall,
    StaffCore,
)
from storage.export import Export, ExportKind, export_csv, parse_period
from storage.stats import StatsReport, stats_report
from storage.vocabulary import Role

# ``Refused(Reason.INVALID)`` details ``problem``: the arguments' form, or the period.
USAGE = "usage"
BAD_PERIOD = "bad_period"


class ReportsCore:
    def __init__(self, core: StaffCore, *, zone: ZoneInfo) -> None:
        self._core = core
        self._zone = zone

    async def stats(self, actor: Actor, *, place: int | None = None) -> Outcome[StatsReport]:
        async with self._core.call(actor, roles=EVERY_ROLE) as call:
            if isinstance(call, Refused):
                return call
            return await self.stats_in(call, place=place)

    async def export(
        self, actor: Actor, kind: str, first: str, last: str, *, place: int
    ) -> Outcome[Export]:
        async with self._core.call(actor, roles=EVERY_ROLE) as call:
            if isinstance(call, Refused):
                return call
            return await self.export_in(call, kind, first, last, place=place)

    async def stats_in(self, call: StaffCall, *, place: int | None) -> Outcome[StatsReport]:
        """Everything ``/stats`` shows; ``place``: where it is shown (a chat), for the audit."""
        report = await stats_report(call.session, now=call.now)
        call.audit("stats.viewed", chat=place)
        return Done(report)

    async def export_in(
        self, call: StaffCall, kind: str, first: str, last: str, *, place: int
    ) -> Outcome[Export]:
        """A CSV of ``kind`` for the days ``first`` to ``last``; personal columns for
        administrators only. ``place``: where it was asked for; the audit names where it goes
        (the administrator themselves when it holds personal data)."""
        try:
            what = ExportKind(kind.lower())
        except ValueError:
            return Refused(Reason.INVALID, {"problem": USAGE})
        try:
            period = parse_period(first, last)
        except ValueError as error:
            return Refused(Reason.INVALID, {"problem": BAD_PERIOD, "error": str(error)})
        personal = call.role is Role.ADMIN
        export = await export_csv(
            call.session, kind=what, period=period, zone=self._zone, personal=personal
        )
        to = call.staff.id if export.personal else place
        details = {**export.audit_details(), "chat": place, "to": to, "role": call.role.value}
        call.audit(f"export.{what.value}", **details)
        return Done(export)
