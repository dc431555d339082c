"""The registry of civil-society organisations in the browser (issue 18): the list (name, kind,
contact person, topics, districts, whether a representative is linked), adding and editing an
organisation, issuing its representative's one-time code (shown on one page, once, never
stored in clear), and inviting organisations to an open consultation or to a meeting, with
every invitation's answer. Every change is an operation of the staff core
(``handlers.staff.consultations``): editors and administrators change, every role reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from aiohttp import web

from bot.desk.consultation_form import BAD_TIME, local_moment
from bot.desk.consultations import core_of
from bot.desk.context import form_of, parts, render, see_other, translator, visitor
from bot.desk.once import KEYS, key_of
from bot.desk.refusals import status_of
from bot.desk.security import roles
from handlers.staff import consultations as ops
from handlers.staff.consultations import context as rules
from handlers.staff.core import EDITORS, EVERY_ROLE, Refused
from messaging import labels
from messaging.i18n import N_
from messaging.text import local_time
from storage import consultations, organisations
from storage.consultations import ConsultationStatus
from storage.models import Organisation

TEXTS: Final = ("name", "kind", "contact_person", "contact")
DONE: Final = {
    "added": N_("desk.org.done.added"),
    "saved": N_("desk.org.done.saved"),
    "invited": N_("desk.org.done.invited"),
}
ERRORS: Final = {
    rules.EMPTY: N_("desk.consult.form.error.required"),
    rules.TOO_LONG: N_("desk.consult.form.error.too_long"),
    rules.BAD_KIND: N_("desk.consult.form.error.choose"),
    rules.BAD_TOPIC: N_("desk.consult.form.error.choose"),
    rules.BAD_DISTRICT: N_("desk.consult.form.error.choose"),
    rules.NO_TARGET: N_("desk.org.error.no_target"),
    rules.NOT_OPEN: N_("staff.consult.refused.state"),
}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/organisations", list_page),
        web.get("/organisations/new", new_page),
        web.post("/organisations/new", add),
        web.get(r"/organisations/{id:\d{1,18}}/edit", edit_page),
        web.post(r"/organisations/{id:\d{1,18}}/edit", edit),
        web.post(r"/organisations/{id:\d{1,18}}/code", code),
        web.post("/organisations/invite", invite),
    ]


def _choices(request: web.Request) -> dict[str, Any]:
    t = translator(request)
    return {
        "kinds": [(code, t(key)) for code, key in labels.ORGANISATION_KIND.items()],
        "topics": [(code, t(key)) for code, key in labels.TOPIC.items()],
        "districts": [
            (code, t(key)) for code, key in labels.DISTRICT.items() if code in rules.DISTRICTS
        ],
        "kind_label": lambda code: t(labels.ORGANISATION_KIND.get(code, code)),
        "topic_label": lambda code: t(labels.TOPIC.get(code, code)),
        "district_label": lambda code: t(labels.DISTRICT.get(code, code)),
        "once": KEYS.new,
    }


# The list, the invitations and the invite form.


async def _list(
    request: web.Request,
    *,
    done: str | None = None,
    error: str | None = None,
    typed: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    core, found = core_of(request), visitor(request)
    listed = await ops.registry(core, found.actor)
    answers = await ops.responses(core, found.actor)
    if isinstance(listed, Refused) or isinstance(answers, Refused):
        raise web.HTTPForbidden()
    async with parts(request).sessionmaker() as session:
        open_now = await consultations.listing(session, statuses=(ConsultationStatus.OPEN.value,))
        titles = {c.id: c.title for c in await consultations.listing(session, limit=500)}
    t = translator(request)
    return render(
        request,
        "organisations.html",
        {
            "items": listed.value,
            "answers": answers.value,
            "open_consultations": open_now,
            "title_of": lambda number: titles.get(number, f"№{number}"),
            "editor": found.role in EDITORS,
            "done": t(DONE[done]) if done in DONE else None,
            "error": t(error) if error else None,
            "typed": typed or {},
            **_choices(request),
        },
        status=status,
    )


@roles(*EVERY_ROLE)
async def list_page(request: web.Request) -> web.StreamResponse:
    return await _list(request, done=request.query.get("done") or None)


def _ids(values: list[Any]) -> tuple[int, ...]:
    return tuple(
        int(v) for v in values[:500] if isinstance(v, str) and v.isascii() and v.isdigit()
    )[:200]


def _meeting_at(form: Any, zone: Any) -> datetime | str | None:
    """The meeting's time; None when not given; ``BAD_TIME`` when unreadable."""
    day, clock = str(form.get("meeting_date", "")), str(form.get("meeting_time", ""))
    if not day.strip() and not clock.strip():
        return None
    return local_moment(day, clock, zone) or BAD_TIME


@roles(*EDITORS)
async def invite(request: web.Request) -> web.StreamResponse:
    desk, found = parts(request), visitor(request)
    form = await form_of(request)
    once = key_of(form)
    repeat = KEYS.repeated(found.session_hash, once, "/desk/organisations")
    if repeat is not None:
        return see_other(repeat)
    chosen = _ids(form.getall("organisation", []))
    target = str(form.get("consultation", ""))
    meeting = str(form.get("meeting", ""))[: rules.MEETING_MAX + 1]
    typed = {"organisations": set(chosen), "consultation": target, "meeting": meeting}
    when = _meeting_at(form, desk.zone)
    outcome: Any
    if isinstance(when, str):
        outcome = None
        error: str | None = when
    else:
        number = int(target) if target.isascii() and target.isdigit() and len(target) < 19 else None
        wanted = ops.Invite(
            chosen,
            consultation_id=number,
            meeting=None if number is not None else meeting,
            meeting_at=None if number is not None else when,
        )
        outcome = await ops.invite(core_of(request), found.actor, wanted)
        error = None
        if isinstance(outcome, Refused):
            code = str(outcome.details.get("code", ""))
            error = ERRORS.get(code, N_("staff.consult.refused.invalid"))
    if error is not None:
        KEYS.release(found.session_hash, once)
        status = status_of(outcome) if isinstance(outcome, Refused) else 422
        return await _list(request, error=error, typed=typed, status=status)
    location = "/desk/organisations?done=invited"
    KEYS.done(found.session_hash, once, location)
    return see_other(location)


# Adding and editing.


def _typed_of(form: Any) -> dict[str, Any]:
    typed: dict[str, Any] = {}
    for name in TEXTS:
        value = form.get(name, "")
        typed[name] = value[: rules.NAME_MAX + 1] if isinstance(value, str) else ""
    for name in ("topics", "districts"):
        typed[name] = [v for v in form.getall(name, []) if isinstance(v, str)][:20]
    return typed


def _typed_from(organisation: Organisation) -> dict[str, Any]:
    return {
        "name": organisation.name,
        "kind": organisation.kind,
        "contact_person": organisation.contact_person or "",
        "contact": organisation.contact or "",
        "topics": list(organisation.topics),
        "districts": list(organisation.districts),
    }


def _problems(typed: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Every field's problem at once, with the core's own checks."""
    found: dict[str, tuple[str, int]] = {}
    checks = {
        "name": rules.check_text(typed["name"], rules.NAME_MAX),
        "kind": None if typed["kind"] in rules.KINDS else rules.invalid(rules.BAD_KIND),
        "contact_person": rules.check_text(typed["contact_person"], rules.NAME_MAX, required=False),
        "contact": rules.check_text(typed["contact"], rules.NAME_MAX, required=False),
        "topics": rules.check_places(typed["topics"], ()),
        "districts": rules.check_places((), typed["districts"]),
    }
    for name, refused in checks.items():
        if refused is not None:
            code = str(refused.details.get("code", ""))
            found[name] = (ERRORS.get(code, N_("staff.consult.refused.invalid")), rules.NAME_MAX)
    return found


def _form(
    request: web.Request,
    typed: dict[str, Any],
    organisation: Organisation | None,
    *,
    problems: dict[str, tuple[str, int]] | None = None,
    refused: str | None = None,
    status: int = 200,
) -> web.Response:
    t = translator(request)
    heading = "desk.org.edit" if organisation is not None else "desk.org.new"
    return render(
        request,
        "organisation_form.html",
        {
            "item": organisation,
            "heading": t(heading),
            "typed": typed,
            "errors": {k: t(key, limit=limit) for k, (key, limit) in (problems or {}).items()},
            "refused": t(refused) if refused else None,
            "name_max": rules.NAME_MAX,
            **_choices(request),
        },
        status=status,
    )


async def _organisation(request: web.Request) -> Organisation:
    async with parts(request).sessionmaker() as session:
        found = await organisations.get(session, int(request.match_info["id"]))
    if found is None:
        raise web.HTTPNotFound()
    return found


@roles(*EDITORS)
async def new_page(request: web.Request) -> web.StreamResponse:
    core_of(request)
    blank = {"kind": "ngo", "topics": [], "districts": []}
    return _form(request, {**dict.fromkeys(TEXTS, ""), **blank}, None)


@roles(*EDITORS)
async def edit_page(request: web.Request) -> web.StreamResponse:
    core_of(request)
    organisation = await _organisation(request)
    return _form(request, _typed_from(organisation), organisation)


async def _save(request: web.Request, organisation: Organisation | None) -> web.StreamResponse:
    core, found = core_of(request), visitor(request)
    form = await form_of(request)
    once = key_of(form)
    typed = _typed_of(form)
    repeat = KEYS.repeated(found.session_hash, once, "/desk/organisations")
    if repeat is not None:
        return see_other(repeat)
    problems = _problems(typed)
    if problems:
        KEYS.release(found.session_hash, once)
        return _form(request, typed, organisation, problems=problems, status=422)
    draft = ops.OrganisationDraft(
        name=typed["name"],
        kind=typed["kind"],
        contact_person=typed["contact_person"],
        contact=typed["contact"],
        topics=tuple(typed["topics"]),
        districts=tuple(typed["districts"]),
    )
    if organisation is None:
        outcome = await ops.register(core, found.actor, draft)
    else:
        outcome = await ops.edit(core, found.actor, organisation.id, draft)
    if isinstance(outcome, Refused):
        KEYS.release(found.session_hash, once)
        return _form(
            request,
            typed,
            organisation,
            refused=N_("staff.consult.refused.invalid"),
            status=status_of(outcome),
        )
    location = "/desk/organisations?done=" + ("added" if organisation is None else "saved")
    KEYS.done(found.session_hash, once, location)
    return see_other(location)


@roles(*EDITORS)
async def add(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@roles(*EDITORS)
async def edit(request: web.Request) -> web.StreamResponse:
    core_of(request)
    return await _save(request, await _organisation(request))


@roles(*EDITORS)
async def code(request: web.Request) -> web.StreamResponse:
    """A new code, shown on this answer only (not cached, not in any link or log); a repeat of
    the same form goes back to the list rather than issuing another."""
    desk, found = parts(request), visitor(request)
    core = core_of(request)
    form = await form_of(request)
    once = key_of(form)
    repeat = KEYS.repeated(found.session_hash, once, "/desk/organisations")
    if repeat is not None:
        return see_other(repeat)
    outcome = await ops.issue_code(core, found.actor, int(request.match_info["id"]))
    if isinstance(outcome, Refused):
        KEYS.release(found.session_hash, once)
        raise web.HTTPNotFound() if status_of(outcome) == 404 else web.HTTPForbidden()
    KEYS.done(found.session_hash, once, "/desk/organisations")
    issued = outcome.value
    response = render(
        request,
        "organisation_code.html",
        {
            "item": issued.organisation,
            "code": issued.code,
            "until": local_time(issued.expires_at, desk.zone),
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response
