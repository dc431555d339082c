"""Incidents in the browser (issue 17): the list (open first), the "open an incident" form
(prefilled from a spike alert's button data, ``broadcasts.spikes.incident_action``), and an
incident's page: its card, the linked tickets, the matcher's suggestions with their reason, and
the forms of ``bot.desk.incident_actions``. Every change is an operation of the staff core
(``handlers.staff.incidents``); these pages only read and render.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final

import markupsafe
from aiohttp import web
from sqlalchemy import func, select

from bot.desk.context import parts, render, translator, visitor
from bot.desk.once import KEYS
from bot.desk.refusals import REFUSED, status_of
from bot.desk.security import roles
from broadcasts import spikes
from handlers.staff import incidents as ops
from handlers.staff.core import EVERY_ROLE, WORKERS, Done, Reason, Refused
from handlers.staff.incidents.answers import LEGAL_KINDS, answered_already
from handlers.staff.incidents.context import (
    ANSWER_MAX,
    DESCRIPTION_MAX,
    DISTRICTS,
    TITLE_MAX,
    IncidentCore,
)
from messaging import labels
from messaging.i18n import N_
from storage import incidents
from storage.incidents import IncidentStatus, Prefill
from storage.models import Incident, IncidentTicket, Ticket
from storage.vocabulary import CATEGORY_QUEUES

# Longer than any id of ours: a bigger value is no ticket (and would overflow the column).
ID_DIGITS: Final = 18
# How many suggestions the page shows (best first).
SUGGESTED = 200
OPEN_STATUSES: Final = (IncidentStatus.INVESTIGATING.value, IncidentStatus.WORKING.value)
DONE: Final[Mapping[str, str]] = {
    "opened": N_("desk.incident.done.opened"),
    "update": N_("desk.incident.done.update"),
    "link": N_("desk.incident.done.link"),
    "unlink": N_("desk.incident.done.unlink"),
    "resolve": N_("desk.incident.done.resolve"),
    "legal": N_("desk.incident.done.legal"),
}
# The incident refusal codes (``handlers.staff.incidents.context``) in the desk's words.
CODES: Final[Mapping[str, str]] = {
    "empty_title": N_("desk.incident.error.empty_title"),
    "too_long": N_("desk.error.too_long"),
    "bad_district": N_("desk.incident.error.bad_district"),
    "bad_category": N_("staff.error.bad_category"),
    "bad_status": N_("desk.incident.error.bad_status"),
    "incident_not_open": N_("desk.incident.error.not_open"),
    "no_answer": N_("desk.incident.error.no_answer"),
    "nothing_changed": N_("desk.incident.error.nothing_changed"),
    "elsewhere": N_("desk.incident.error.elsewhere"),
    "not_linked": N_("desk.incident.error.not_linked"),
    "wrong_kind": N_("desk.incident.error.wrong_kind"),
    "bad_time": N_("desk.incident.error.bad_time"),
    "no_incident": N_("desk.incident.error.no_incident"),
    "none_chosen": N_("desk.incident.error.none_chosen"),
}


@dataclass(frozen=True, slots=True)
class Selection:
    """The ticked ids (each once, in the order posted), and how many posted values were no
    ticket id at all (counted as not found, not dropped silently)."""

    ids: tuple[int, ...]
    junk: int


def selection_of(form: Any) -> Selection:
    """The ``ticket`` values of a bulk form (the queue's, the incident page's)."""
    ids: dict[int, None] = {}
    junk = 0
    for value in form.getall("ticket", []):
        text = value.strip() if isinstance(value, str) else ""
        if text.isascii() and text.isdigit() and len(text) <= ID_DIGITS:
            ids[int(text)] = None
        else:
            junk += 1
    return Selection(tuple(ids), junk)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/incidents", list_page),
        web.get("/incidents/new", new_page),
        web.get(r"/incidents/{id:\d{1,18}}", incident_page),
        web.get(r"/tickets/{ticket_id:\d{1,18}}/incident", ticket_link_page),
    ]


def core_of(request: web.Request) -> IncidentCore:
    """The incident operations; 404 where the desk was built without them."""
    core = parts(request).incidents
    if core is None:
        raise web.HTTPNotFound()
    return core


def explain(request: web.Request, refused: Refused) -> markupsafe.Markup:
    """The refusal's reason, then its incident detail when the core named one."""
    t = translator(request)
    text = t(REFUSED[refused.reason])
    code = str(refused.details.get("code", ""))
    detail = CODES.get(code)
    return markupsafe.Markup(f"{text} {t(detail)}") if detail else text


def expected_of(form: Any, request: web.Request) -> datetime | Refused | None:
    """The expected time (date and time fields, council time) in UTC; None when empty."""
    day = str(form.get("expected_date", "")).strip()[:10]
    clock = str(form.get("expected_time", "")).strip()[:5] or "00:00"
    if not day:
        return None
    desk = parts(request)
    try:
        local = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), desk.zone)
    except ValueError:
        return Refused(Reason.INVALID, {"code": "bad_time"})
    return local.astimezone(desk.clock().tzinfo)


def _choices(request: web.Request) -> dict[str, Any]:
    t = translator(request)
    return {
        "categories": [(code, t(labels.STAFF_CATEGORY[code])) for code in CATEGORY_QUEUES],
        "districts": [(code, t(labels.DISTRICT[code])) for code in sorted(DISTRICTS)],
        "statuses": [(code, t(labels.INCIDENT_STATUS[code])) for code in OPEN_STATUSES],
        "status_label": lambda code: t(labels.INCIDENT_STATUS[code]),
        "category_label": lambda code: t(labels.STAFF_CATEGORY[code]) if code else "",
        "district_label": lambda code: t(labels.DISTRICT[code]),
        "title_max": TITLE_MAX,
        "description_max": DESCRIPTION_MAX,
        "answer_max": ANSWER_MAX,
        "once": KEYS.new,
    }


async def _linked_counts(request: web.Request, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    async with parts(request).sessionmaker() as session:
        rows = await session.execute(
            select(IncidentTicket.incident_id, func.count())
            .where(IncidentTicket.incident_id.in_(list(ids)))
            .group_by(IncidentTicket.incident_id)
        )
        return {incident_id: int(count) for incident_id, count in rows}


@roles(*EVERY_ROLE)
async def list_page(request: web.Request) -> web.StreamResponse:
    outcome = await ops.listing(core_of(request), visitor(request).actor, open_only=False)
    if isinstance(outcome, Refused):
        raise web.HTTPForbidden()
    # Open first (newest first within each group, as the core lists them).
    rows = sorted(outcome.value, key=lambda incident: not incidents.is_open(incident))
    counts = await _linked_counts(request, [incident.id for incident in rows])
    return render(
        request,
        "incidents.html",
        {
            "items": rows,
            "counts": counts,
            "acts": visitor(request).role in WORKERS,
            **_choices(request),
        },
    )


async def prefill_of(request: web.Request, spike: str) -> Prefill | None:
    """The prefill of a spike alert's button data (``spikes.incident_action``)."""
    parsed = spikes.parse_incident_action(spike)
    if parsed is None:
        return None
    async with parts(request).sessionmaker() as session:
        return await spikes.prefill_for(session, *parsed)


def new_form(
    request: web.Request,
    *,
    typed: Mapping[str, Any] | None = None,
    prefill: Prefill | None = None,
    spike: str = "",
    refused: markupsafe.Markup | None = None,
    status: int = 200,
) -> web.Response:
    prefill = prefill or Prefill()
    values = dict(typed or {})
    values.setdefault("category", prefill.category or "")
    values.setdefault("districts", list(prefill.districts))
    return render(
        request,
        "incident_new.html",
        {
            "typed": values,
            "spike": spike,
            "preselected": len(prefill.ticket_ids),
            "refused": refused,
            **_choices(request),
        },
        status=status,
    )


@roles(*WORKERS)
async def new_page(request: web.Request) -> web.StreamResponse:
    core_of(request)
    spike = request.query.get("spike", "")[:64]
    prefill = await prefill_of(request, spike) if spike else None
    if prefill is None:
        category = request.query.get("category", "")
        districts = tuple(d for d in request.query.getall("district", []) if d in DISTRICTS)
        prefill = Prefill(
            category=category if category in CATEGORY_QUEUES else None, districts=districts
        )
        spike = ""
    return new_form(request, prefill=prefill, spike=spike)


async def show(
    request: web.Request,
    incident_id: int,
    *,
    done: str | None = None,
    refused: markupsafe.Markup | None = None,
    status: int = 200,
    typed: Mapping[str, Any] | None = None,
) -> web.Response:
    """An incident's page; ``typed``: what a refused form carried, put back."""
    core, found = core_of(request), visitor(request)
    outcome = await ops.card(core, found.actor, incident_id)
    if isinstance(outcome, Refused):
        raise web.HTTPNotFound() if status_of(outcome) == 404 else web.HTTPForbidden()
    card = outcome.value
    departments = found.departments
    async with parts(request).sessionmaker() as session:
        linked = [
            ticket
            for ticket in await incidents.linked_tickets(session, incident_id)
            if departments is None or ticket.queue_code in departments
        ]
        # Those that got the incident's answer already are not offered it again.
        answered = await answered_already(session, card.incident)
    acts = found.role in WORKERS
    # What the matcher suggests, for those who may link, while the incident is open.
    suggested = (
        await ops.suggestions(core, found.actor, incident_id, limit=SUGGESTED)
        if acts and incidents.is_open(card.incident)
        else None
    )
    t = translator(request)
    return render(
        request,
        "incident.html",
        {
            "card": card,
            "form_base": f"/desk/incidents/{incident_id}",
            "incident": card.incident,
            "is_open": incidents.is_open(card.incident),
            "linked": linked,
            "legal": [
                ticket
                for ticket in linked
                if ticket.kind in LEGAL_KINDS
                and ticket.status not in ("closed", "refused")
                and ticket.id not in answered
            ],
            "suggested": suggested.value if isinstance(suggested, Done) else [],
            "acts": acts,
            "editor": found.role.value in ("admin", "editor"),
            "done": t(DONE[done]) if done is not None and done in DONE else None,
            "refused": refused,
            "typed": typed or {},
            "kind_label": lambda kind: t(labels.STAFF_KIND[kind]),
            "ticket_status": lambda code: t(labels.STAFF_STATUS[code]),
            "percent": lambda score: round(score * 100),
            **_choices(request),
        },
        status=status,
    )


@roles(*EVERY_ROLE)
async def incident_page(request: web.Request) -> web.StreamResponse:
    return await show(
        request, int(request.match_info["id"]), done=request.query.get("done", "") or None
    )


async def ticket_link_form(
    request: web.Request, *, refused: markupsafe.Markup | None = None, status: int = 200
) -> web.Response:
    """A ticket's "link to an incident": the open incidents to choose from."""
    core, found = core_of(request), visitor(request)
    ticket_id = int(request.match_info["ticket_id"])
    departments = found.departments
    async with parts(request).sessionmaker() as session:
        ticket = await session.get(Ticket, ticket_id)
        current = await incidents.incident_of(session, ticket_id)
        current_row = await session.get(Incident, current) if current is not None else None
    if ticket is None or (departments is not None and ticket.queue_code not in departments):
        raise web.HTTPNotFound()
    outcome = await ops.listing(core, found.actor, open_only=True)
    return render(
        request,
        "incident_link.html",
        {
            "ticket": ticket,
            "current": current_row,
            "open": outcome.value if isinstance(outcome, Done) else [],
            "refused": refused,
            **_choices(request),
        },
        status=status,
    )


@roles(*WORKERS)
async def ticket_link_page(request: web.Request) -> web.StreamResponse:
    return await ticket_link_form(request)
