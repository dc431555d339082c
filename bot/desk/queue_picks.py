"""What the Queues screen adds for linking tickets to an incident in bulk (issue 17): whether
the visitor may pick rows (a worker, with an open incident to link to), the open incidents to
choose from, the incident each listed ticket is linked to already, and the notice a bulk link
leaves in the address it redirects to.

The form itself posts to ``bot.desk.queue_link``; the core (``handlers.staff.incidents``)
decides which tickets are linked and which are skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.context import parts, visitor
from handlers.staff import incidents as ops
from handlers.staff.core import WORKERS, Done
from handlers.staff.incidents import Linked
from handlers.staff.incidents.context import ELSEWHERE
from storage.models import Incident, IncidentTicket

# The notice's counts in the address after a bulk link (``?done=linked&incident=…``); numbers
# only, never a ticket's number or a resident's data. At most SELECTED_MAX each.
COUNTS: Final = ("linked", "already", "elsewhere", "missing")
DONE: Final = "linked"
_COUNT_DIGITS: Final = 6
_ID_DIGITS: Final = 18


@dataclass(frozen=True, slots=True)
class Notice:
    """What a bulk link did, as the Queues page tells it: ``linked`` now, ``already`` linked
    to this incident before (a repeated submit), ``elsewhere`` linked to another incident
    (left there), ``missing`` not found or of a department the visitor does not work in."""

    incident_id: int
    title: str
    linked: int
    already: int
    elsewhere: int
    missing: int

    @property
    def skipped(self) -> int:
        return self.already + self.elsewhere + self.missing


def counts_of(outcome: Linked, junk: int) -> dict[str, int]:
    """The notice's counts of a bulk link; ``junk``: posted values that were no ticket id."""
    elsewhere = sum(1 for why in outcome.skipped.values() if why == ELSEWHERE)
    return {
        "linked": len(outcome.linked),
        "already": len(outcome.already),
        "elsewhere": elsewhere,
        "missing": len(outcome.skipped) - elsewhere + junk,
    }


def _number(value: str, digits: int) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= digits else None


async def notice_of(session: AsyncSession, query: Mapping[str, str]) -> Notice | None:
    """The notice the address carries after a bulk link; None for none (or one edited into
    something that is not numbers)."""
    if query.get("done") != DONE:
        return None
    incident_id = _number(query.get("incident", ""), _ID_DIGITS)
    counts = {name: _number(query.get(name, "0"), _COUNT_DIGITS) for name in COUNTS}
    if incident_id is None or any(value is None for value in counts.values()):
        return None
    incident = await session.get(Incident, incident_id)
    if incident is None:
        return None
    return Notice(
        incident_id=incident_id,
        title=incident.title,
        linked=counts["linked"] or 0,
        already=counts["already"] or 0,
        elsewhere=counts["elsewhere"] or 0,
        missing=counts["missing"] or 0,
    )


async def open_incidents(request: web.Request) -> Sequence[Incident] | None:
    """The open incidents a worker may link the queue's tickets to (newest first); None when
    the visitor may not link (a head of department reads) or the desk has no incidents."""
    core = parts(request).incidents
    found = visitor(request)
    if core is None or found.role not in WORKERS:
        return None
    outcome = await ops.listing(core, found.actor, open_only=True)
    return outcome.value if isinstance(outcome, Done) else None


async def incidents_of(
    session: AsyncSession, ticket_ids: Collection[int]
) -> dict[int, tuple[int, str]]:
    """The incident (id, title) each of ``ticket_ids`` (a page's rows) is linked to, if any:
    the list shows it, so staff see which rows a bulk link would skip."""
    if not ticket_ids:
        return {}
    rows = await session.execute(
        select(IncidentTicket.ticket_id, Incident.id, Incident.title)
        .join(Incident, Incident.id == IncidentTicket.incident_id)
        .where(IncidentTicket.ticket_id.in_(sorted(ticket_ids)))
    )
    return {ticket_id: (incident_id, title) for ticket_id, incident_id, title in rows}
