"""The incident forms, each a POST that calls one staff-core operation
(``handlers.staff.incidents``): open (with a spike's tickets), status update, link (one from a
ticket's page, many from the suggestions), unlink, resolve, and the incident's answer as the
legal answer of linked appeals and information requests. The core checks the roles and audits.

Done: 303 to the incident's page with ``?done=<action>``. Refused: the page again with the
refusal in words and what was typed put back, answered 403/404/409/422. A form sent twice acts
once (``bot.desk.once``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.desk.context import form_of, see_other, visitor
from bot.desk.incidents import (
    core_of,
    expected_of,
    explain,
    new_form,
    prefill_of,
    selection_of,
    show,
    ticket_link_form,
)
from bot.desk.once import KEYS, key_of
from bot.desk.refusals import status_of
from bot.desk.security import roles
from handlers.staff import incidents as ops
from handlers.staff.core import WORKERS, Done, Outcome, Reason, Refused
from handlers.staff.incidents import Change, Draft
from storage.incidents import IncidentStatus

Run = Callable[[web.Request, int, Any], Awaitable[Outcome[Any]]]
TYPED = ("text", "description", "answer", "status", "expected_date", "expected_time")
# Ids a bulk form may carry (the core caps a call at its own limit too).
IDS_MAX = 5000


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""


def _ids(form: Any) -> list[int]:
    return list(selection_of(form).ids[:IDS_MAX])


def _status(form: Any) -> IncidentStatus | Refused | None:
    raw = _text(form, "status")
    if not raw:
        return None
    try:
        return IncidentStatus(raw)
    except ValueError:
        return Refused(Reason.INVALID, {"code": "bad_status"})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/incidents/new", create),
        web.post(r"/incidents/{id:\d{1,18}}/{action:" + "|".join(ACTIONS) + "}", act),
        web.post(r"/tickets/{ticket_id:\d{1,18}}/incident", link_ticket),
    ]


@roles(*WORKERS)
async def create(request: web.Request) -> web.StreamResponse:
    core, found = core_of(request), visitor(request)
    form = await form_of(request)
    districts = tuple(d for d in form.getall("district", []) if isinstance(d, str))
    spike = _text(form, "spike")[:64]
    prefill = await prefill_of(request, spike) if spike else None
    link_spike = prefill is not None and form.get("link_spike") == "1"
    expected = expected_of(form, request)
    status = _status(form)
    outcome: Outcome[Any]
    if isinstance(expected, Refused):
        outcome = expected
    elif isinstance(status, Refused) or status is IncidentStatus.RESOLVED:
        outcome = Refused(Reason.INVALID, {"code": "bad_status"})
    else:
        outcome = await ops.open_incident(
            core,
            found.actor,
            Draft(
                title=_text(form, "title"),
                category=_text(form, "category") or None,
                districts=districts,
                description=_text(form, "description"),
                expected_at=expected,
                ticket_ids=prefill.ticket_ids if prefill is not None and link_spike else (),
            ),
        )
    if isinstance(outcome, Refused):
        typed = {name: _text(form, name) for name in ("title", "category", *TYPED)}
        return new_form(
            request,
            typed={**typed, "districts": list(districts)},
            prefill=prefill,
            spike=spike if prefill is not None else "",
            refused=explain(request, outcome),
            status=status_of(outcome),
        )
    incident = outcome.value.incident
    if status is IncidentStatus.WORKING:
        # Opened as "working on it": that is its first status update.
        await ops.update(core, found.actor, incident.id, Change(status=status))
    return see_other(f"/desk/incidents/{incident.id}?done=opened")


async def _update(request: web.Request, incident_id: int, form: Any) -> Outcome[Any]:
    status = _status(form)
    if isinstance(status, Refused):
        return status
    expected = expected_of(form, request)
    if isinstance(expected, Refused):
        return expected
    description = _text(form, "description")
    change = Change(
        status=status,
        description=description or None,
        expected_at=expected,
        clear_expected=form.get("clear_expected") == "1",
        text=_text(form, "text"),
        notify_district=form.get("notify_district") == "1",
    )
    return await ops.update(core_of(request), visitor(request).actor, incident_id, change)


async def _link(request: web.Request, incident_id: int, form: Any) -> Outcome[Any]:
    ids = _ids(form)
    if not ids:
        return Refused(Reason.INVALID, {"code": "none_chosen"})
    return await ops.link_many(core_of(request), visitor(request).actor, incident_id, ids)


async def _unlink(request: web.Request, incident_id: int, form: Any) -> Outcome[Any]:
    ids = _ids(form)
    if len(ids) != 1:
        return Refused(Reason.INVALID, {"code": "not_linked"})
    return await ops.unlink(core_of(request), visitor(request).actor, incident_id, ids[0])


async def _resolve(request: web.Request, incident_id: int, form: Any) -> Outcome[Any]:
    return await ops.resolve(
        core_of(request),
        visitor(request).actor,
        incident_id,
        _text(form, "answer"),
        notify_district=form.get("notify_district") == "1",
    )


async def _legal(request: web.Request, incident_id: int, form: Any) -> Outcome[Any]:
    ids = _ids(form)
    if not ids:
        return Refused(Reason.INVALID, {"code": "none_chosen"})
    return await ops.send_legal_answers(core_of(request), visitor(request).actor, incident_id, ids)


ACTIONS: dict[str, Run] = {
    "update": _update,
    "link": _link,
    "unlink": _unlink,
    "resolve": _resolve,
    "legal": _legal,
}


@roles(*WORKERS)
async def act(request: web.Request) -> web.StreamResponse:
    core_of(request)
    action = request.match_info["action"]
    incident_id = int(request.match_info["id"])
    found = visitor(request)
    form = await form_of(request)
    once = key_of(form)
    page = f"/desk/incidents/{incident_id}"
    repeat = KEYS.repeated(found.session_hash, once, page)
    if repeat is not None:
        return see_other(repeat)
    outcome = await ACTIONS[action](request, incident_id, form)
    if isinstance(outcome, Refused):
        KEYS.release(found.session_hash, once)
        typed = {name: _text(form, name) for name in TYPED}
        return await show(
            request,
            incident_id,
            refused=explain(request, outcome),
            status=status_of(outcome),
            typed=typed,
        )
    location = f"{page}?done={action}"
    KEYS.done(found.session_hash, once, location)
    return see_other(location)


@roles(*WORKERS)
async def link_ticket(request: web.Request) -> web.StreamResponse:
    """From a ticket's page: link it to the chosen open incident."""
    core, found = core_of(request), visitor(request)
    ticket_id = int(request.match_info["ticket_id"])
    form = await form_of(request)
    chosen = _text(form, "incident")
    if not (chosen.isascii() and chosen.isdigit() and len(chosen) < 19):
        refused = Refused(Reason.INVALID, {"code": "no_incident"})
        return await ticket_link_form(request, refused=explain(request, refused), status=422)
    outcome = await ops.link(core, found.actor, int(chosen), ticket_id)
    if isinstance(outcome, Done):
        return see_other(f"/desk/incidents/{chosen}?done=link")
    return await ticket_link_form(
        request, refused=explain(request, outcome), status=status_of(outcome)
    )
