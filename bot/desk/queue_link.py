"""Linking the tickets ticked in a filtered queue to an open incident (issue 17), through the
staff core's ``link_many``, which checks the role (workers only) and each ticket, and audits
every link per ticket.

Done: 303 back to the same queue (filters, search key and page kept) with the counts of the
notice (``bot.desk.queue_picks.Notice``). What is skipped, and not an error (the core's rules):
a ticket linked to this incident already (a repeated submit), one linked to another incident
(a ticket belongs to one incident; it stays where it is until unlinked there), and an id that
is not a ticket of the visitor's departments (or no id at all). Closed tickets are linked like
open ones: their residents are affected too and get the incident's updates; resolving the
incident closes only the feedback tickets still open.

Refused (the queue again, the ticked rows still ticked, 403/404/409/422): no incident chosen,
nothing ticked, more than ``SELECTED_MAX`` tickets, an incident resolved meanwhile or unknown.
A form sent twice acts once (``bot.desk.once``).
"""

from __future__ import annotations

from typing import Any, Final

import markupsafe
from aiohttp import web

from bot.desk import queue_form, queues
from bot.desk.context import form_of, parts, see_other, translator, visitor
from bot.desk.incidents import ID_DIGITS, Selection, core_of, explain, selection_of
from bot.desk.once import KEYS, key_of
from bot.desk.queue_form import Chosen
from bot.desk.queue_picks import DONE, counts_of
from bot.desk.refusals import status_of
from bot.desk.security import roles
from handlers.staff import incidents as ops
from handlers.staff.core import WORKERS, Done, Outcome, Reason, Refused
from handlers.staff.incidents import Linked

# Tickets one submit links at most. A queue page shows 50 rows; this leaves room for rows the
# live page adds and bounds the work (rows locked) of one request well under the core's cap.
SELECTED_MAX: Final = 500
TOO_MANY: Final = "too_many_selected"


def routes() -> list[web.RouteDef]:
    return [web.post("/queue/link", link_selected)]


def _address(form: Any, chosen: Chosen) -> dict[str, str]:
    """The queue's address as the form carried it: filters, search key and page cursor."""
    found = chosen.fields()
    for name in ("q", "page"):
        value = form.get(name, "")
        if isinstance(value, str) and value and len(value) <= queues.MAX_CURSOR:
            found[name] = value
    return found


def _incident(form: Any) -> int | None:
    value = form.get("incident", "")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) if len(value) <= ID_DIGITS else None
    return None


def _check(incident_id: int | None, selection: Selection) -> Refused | None:
    """What the desk refuses before asking the core."""
    if incident_id is None:
        return Refused(Reason.INVALID, {"code": "no_incident"})
    if not selection.ids and not selection.junk:
        return Refused(Reason.INVALID, {"code": "none_chosen"})
    if len(selection.ids) + selection.junk > SELECTED_MAX:
        return Refused(Reason.INVALID, {"code": TOO_MANY})
    return None


def _explain(request: web.Request, refused: Refused) -> markupsafe.Markup:
    if refused.details.get("code") == TOO_MANY:
        t = translator(request)
        return t("desk.queue.link.too_many", limit=SELECTED_MAX)
    return explain(request, refused)


@roles(*WORKERS)
async def link_selected(request: web.Request) -> web.StreamResponse:
    core, found = core_of(request), visitor(request)
    form = await form_of(request)
    async with parts(request).sessionmaker() as session:
        visible = queues.visible_departments(request, await queues.department_names(session))
    chosen = queue_form.posted(form, departments=visible)
    address = _address(form, chosen)
    once = key_of(form)
    back = chosen.link(**address)
    repeat = KEYS.repeated(found.session_hash, once, back)
    if repeat is not None:
        return see_other(repeat)

    selection = selection_of(form)
    incident_id = _incident(form)
    outcome: Outcome[Linked] | Refused | None = _check(incident_id, selection)
    if outcome is None and incident_id is not None:
        outcome = await ops.link_many(core, found.actor, incident_id, selection.ids)
    if not isinstance(outcome, Done):
        refused = outcome or Refused(Reason.INVALID)
        KEYS.release(found.session_hash, once)
        return await queues.show(
            request,
            address,
            refused=_explain(request, refused),
            selected=selection.ids,
            status=status_of(refused),
        )
    counts = counts_of(outcome.value, selection.junk)
    location = chosen.link(
        **address,
        done=DONE,
        incident=str(incident_id),
        **{name: str(value) for name, value in counts.items()},
    )
    KEYS.done(found.session_hash, once, location)
    return see_other(location)
