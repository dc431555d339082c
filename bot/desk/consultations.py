"""Public consultations in the browser (issue 18): the list, a consultation's page (its
questions, the answers so far with their shares, every comment with its decision), the
decision form on each comment, publishing and closing, and the report as CSV or PDF. Every
change and every export is an operation of the staff core (``handlers.staff.consultations``);
these pages render and pass forms on. Drafts are written here (``bot.desk.consultation_form``)
or in the operator chat (``/consult new``).

Every role reads (the page names organisations, and residents by district only); editors and
administrators decide, publish, close and export (the CSV holds the names given).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import markupsafe
from aiohttp import web

from bot.desk.context import form_of, parts, render, see_other, translator, visitor
from bot.desk.once import KEYS, key_of
from bot.desk.refusals import REFUSED, status_of
from bot.desk.security import roles
from handlers.staff import consultations as ops
from handlers.staff.consultations.report import share
from handlers.staff.core import EDITORS, EVERY_ROLE, Outcome, Reason, Refused
from messaging import labels
from messaging.i18n import N_
from storage import consultations, organisations

DONE: Final[Mapping[str, str]] = {
    "decide": N_("desk.consult.done.decide"),
    "publish": N_("desk.consult.done.publish"),
    "close": N_("desk.consult.done.close"),
    "saved": N_("desk.consult.done.saved"),
}
CODES: Final[Mapping[str, str]] = {
    "no_reason": N_("staff.consult.error.no_reason"),
    "bad_decision": N_("staff.consult.refused.invalid"),
    "empty": N_("staff.consult.error.empty"),
    "too_long": N_("desk.error.too_long"),
    "not_draft": N_("staff.consult.refused.state"),
    "not_open": N_("staff.consult.refused.state"),
    "no_comment": N_("staff.consult.refused.state"),
    "bad_dates": N_("staff.consult.error.bad_dates"),
}
FILES: Final = {"csv": "text/csv", "pdf": "application/pdf"}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/consultations", list_page),
        web.get(r"/consultations/{id:\d{1,18}}", consultation_page),
        web.get(r"/consultations/{id:\d{1,18}}/report.{fmt:csv|pdf}", report_file),
        web.post(r"/consultations/{id:\d{1,18}}/{action:decide|publish|close}", act),
    ]


def core_of(request: web.Request) -> ops.ConsultationCore:
    core = parts(request).consultations
    if core is None:
        raise web.HTTPNotFound()
    return core


def explain(request: web.Request, refused: Refused) -> markupsafe.Markup:
    t = translator(request)
    text = t(REFUSED[refused.reason])
    detail = CODES.get(str(refused.details.get("code", "")))
    return markupsafe.Markup(f"{text} {t(detail)}") if detail else text


@roles(*EVERY_ROLE)
async def list_page(request: web.Request) -> web.StreamResponse:
    outcome = await ops.listing(core_of(request), visitor(request).actor)
    if isinstance(outcome, Refused):
        raise web.HTTPForbidden()
    editor = visitor(request).role in EDITORS
    return render(
        request,
        "consultations.html",
        {"items": outcome.value, "editor": editor, **_labels(request)},
    )


def _labels(request: web.Request) -> dict[str, Any]:
    t = translator(request)
    return {"status_label": lambda code: t(labels.CONSULT_STATUS[code]), "once": KEYS.new}


async def show(
    request: web.Request,
    consultation_id: int,
    *,
    done: str | None = None,
    refused: markupsafe.Markup | None = None,
    status: int = 200,
) -> web.Response:
    found = visitor(request)
    outcome = await ops.card(core_of(request), found.actor, consultation_id)
    if isinstance(outcome, Refused):
        raise web.HTTPNotFound() if status_of(outcome) == 404 else web.HTTPForbidden()
    card = outcome.value
    invited = await ops.responses(core_of(request), found.actor, consultation_id=consultation_id)
    async with parts(request).sessionmaker() as session:
        counts = await consultations.choice_counts(session, consultation_id=consultation_id)
        names = {o.id: o.name for o in await organisations.listing(session)}
    t = translator(request)
    media, ref = parts(request).media, card.consultation.document_ref
    return render(
        request,
        "consultation.html",
        {
            "card": card,
            "form_base": f"/desk/consultations/{consultation_id}",
            # The uploaded document, as residents' messengers fetch it (a signed link).
            "document_link": media.url(ref) if media is not None and ref else None,
            "item": card.consultation,
            "counts": counts,
            "share": share,
            "comments": [s for s in card.submissions if s.comment],
            "invited": [] if isinstance(invited, Refused) else invited.value,
            "organisation": lambda submission: names.get(submission.organisation_id or 0),
            "district_label": lambda code: (
                t(labels.DISTRICT[code])
                if code in labels.DISTRICT
                else t("consult.report.no_district")
            ),
            "decision_label": lambda code: t(
                labels.CONSULT_DECISION.get(code or "", N_("consult.decision.none"))
            ),
            "decisions": [(code, t(key)) for code, key in labels.CONSULT_DECISION.items()],
            "editor": found.role in EDITORS,
            "done": t(DONE[done]) if done is not None and done in DONE else None,
            "refused": refused,
            **_labels(request),
        },
        status=status,
    )


@roles(*EVERY_ROLE)
async def consultation_page(request: web.Request) -> web.StreamResponse:
    return await show(
        request, int(request.match_info["id"]), done=request.query.get("done", "") or None
    )


@roles(*EDITORS)
async def report_file(request: web.Request) -> web.StreamResponse:
    number, fmt = int(request.match_info["id"]), request.match_info["fmt"]
    outcome = await ops.export(core_of(request), visitor(request).actor, number)
    if isinstance(outcome, Refused):
        raise web.HTTPNotFound() if status_of(outcome) == 404 else web.HTTPForbidden()
    body = outcome.value.csv.encode("utf-8-sig") if fmt == "csv" else outcome.value.pdf
    return web.Response(
        body=body,
        content_type=FILES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="consultation-{number}.{fmt}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def _text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""


async def _run(request: web.Request, number: int, action: str, form: Any) -> Outcome[Any]:
    core, actor = core_of(request), visitor(request).actor
    if action == "publish":
        return await ops.publish(core, actor, number)
    if action == "close":
        return await ops.close(core, actor, number, _text(form, "outcome"))
    submission = _text(form, "submission")
    if not (submission.isascii() and submission.isdigit() and len(submission) < 19):
        return Refused(Reason.INVALID, {"code": "bad_decision"})
    async with parts(request).sessionmaker() as session:
        found = await consultations.get_submission(session, int(submission))
    if found is None or found.consultation_id != number:
        return Refused(Reason.NOT_FOUND)
    return await ops.decide(
        core, actor, int(submission), _text(form, "decision"), _text(form, "reason")
    )


@roles(*EDITORS)
async def act(request: web.Request) -> web.StreamResponse:
    core_of(request)
    number, action = int(request.match_info["id"]), request.match_info["action"]
    found = visitor(request)
    form = await form_of(request)
    once = key_of(form)
    page = f"/desk/consultations/{number}"
    repeat = KEYS.repeated(found.session_hash, once, page)
    if repeat is not None:
        return see_other(repeat)
    outcome = await _run(request, number, action, form)
    if isinstance(outcome, Refused):
        KEYS.release(found.session_hash, once)
        return await show(
            request, number, refused=explain(request, outcome), status=status_of(outcome)
        )
    location = f"{page}?done={action}"
    KEYS.done(found.session_hash, once, location)
    return see_other(location)
