"""Writing a consultation draft in the browser (issue 18): a new draft, and a draft edited until
it is published. The form holds everything the core's ``Draft`` does: the title, the
plain-language summary, the document as a link or an uploaded file, the topic, the districts,
the opening and closing times (council time), and the questions, one a line as in the operator
chat's draft (``Question? | option | option``; no options: free text).

The fields are checked here one by one with the core's own checks, so every problem is shown
next to its field at once and what was typed is kept; the core then checks the whole draft
again and decides (``create`` / ``revise``). An uploaded file is kept (``bot.desk.uploads``:
5 MB, the type sniffed from its bytes, ``kept:<id>``) only once the fields are right, and
dropped again if the core refuses: the resident flow sends it as a document, Telegram gets the
bytes and Viber a signed link (``bot.kept_media``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from aiohttp import web

from bot.desk.attachments import close_files
from bot.desk.consultations import core_of
from bot.desk.context import form_of, parts, render, see_other, translator, visitor
from bot.desk.once import KEYS, key_of
from bot.desk.refusals import status_of
from bot.desk.security import roles
from bot.desk.uploads import Upload, UploadRefused, discard, keep, read
from handlers.staff import consultations as ops
from handlers.staff.consultations import context as rules
from handlers.staff.consultations.text_form import parse_questions
from handlers.staff.core import EDITORS, Refused
from handlers.staff.tickets.context import Attachment
from messaging import labels
from messaging.i18n import N_
from storage import consultations
from storage.models import Consultation

# A new draft closes in two weeks unless staff say otherwise.
DEFAULT_OPEN: Final = timedelta(days=14)
QUESTIONS_TEXT_MAX: Final = rules.QUESTIONS_MAX * (
    rules.QUESTION_MAX + rules.OPTIONS_MAX * (rules.OPTION_MAX + 3) + 4
)

# A refusal code of the core → the field it concerns and the text shown next to it.
FIELD_OF: Final = {
    rules.BAD_TOPIC: "topic",
    rules.BAD_DISTRICT: "districts",
    rules.BAD_LINK: "document_url",
    rules.NO_QUESTIONS: "questions",
    rules.BAD_OPTIONS: "questions",
    rules.BAD_DATES: "closes",
}
MESSAGES: Final = {
    rules.EMPTY: N_("desk.consult.form.error.required"),
    rules.TOO_LONG: N_("desk.consult.form.error.too_long"),
    rules.BAD_TOPIC: N_("desk.consult.form.error.choose"),
    rules.BAD_DISTRICT: N_("desk.consult.form.error.choose"),
    rules.BAD_LINK: N_("desk.consult.form.error.bad_link"),
    rules.NO_QUESTIONS: N_("desk.consult.form.error.no_questions"),
    rules.BAD_OPTIONS: N_("staff.consult.error.bad_options"),
    rules.BAD_DATES: N_("staff.consult.error.bad_dates"),
}
BAD_TIME: Final = N_("desk.consult.form.error.bad_time")
ONE_DOCUMENT: Final = N_("desk.consult.form.error.one_document")
FILE_ERRORS: Final = {
    "file_too_large": N_("desk.error.file_too_large"),
    "file_type": N_("desk.error.file_type"),
}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/consultations/new", new_page),
        web.post("/consultations/new", create),
        web.get(r"/consultations/{id:\d{1,18}}/edit", edit_page),
        web.post(r"/consultations/{id:\d{1,18}}/edit", revise),
    ]


@dataclass(slots=True)
class Typed:
    """The form as typed (kept on a re-render), and what is wrong with it, by field."""

    values: dict[str, str]
    districts: list[str]
    errors: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def fault(self, name: str, key: str, **params: Any) -> None:
        self.errors.setdefault(name, (key, params))


TEXT_FIELDS: Final = {
    "title": rules.TITLE_MAX,
    "summary": rules.SUMMARY_MAX,
    "document_url": rules.LINK_MAX,
    "topic": 32,
    "opens_date": 10,
    "opens_time": 5,
    "closes_date": 10,
    "closes_time": 5,
    "questions": QUESTIONS_TEXT_MAX,
}


def typed_of(form: Any) -> Typed:
    """The text fields, each cut well above its limit (a huge paste is refused as too long,
    not kept whole in memory or echoed back)."""
    values = {}
    for name, limit in TEXT_FIELDS.items():
        value = form.get(name, "")
        text = value.replace("\r\n", "\n") if isinstance(value, str) else ""
        values[name] = text[: limit + 1]
    districts = [d for d in form.getall("districts", []) if isinstance(d, str)][:20]
    return Typed(values, districts)


def typed_from(consultation: Consultation, questions: list[str], zone: Any) -> Typed:
    opens = consultation.opens_at.astimezone(zone)
    closes = consultation.closes_at.astimezone(zone)
    return Typed(
        {
            "title": consultation.title,
            "summary": consultation.summary,
            "document_url": consultation.document_url or "",
            "topic": consultation.topic,
            "opens_date": opens.date().isoformat(),
            "opens_time": opens.strftime("%H:%M"),
            "closes_date": closes.date().isoformat(),
            "closes_time": closes.strftime("%H:%M"),
            "questions": "\n".join(questions),
        },
        list(consultation.districts),
    )


def local_moment(day: str, clock: str, zone: Any) -> datetime | None:
    """A date field and a time field (council time) as one moment; None when unreadable."""
    try:
        return datetime.combine(
            date.fromisoformat(day.strip()[:10]), time.fromisoformat(clock.strip()[:5]), tzinfo=zone
        )
    except ValueError:
        return None


def _moment(typed: Typed, name: str, zone: Any) -> datetime | None:
    found = local_moment(typed.values[f"{name}_date"], typed.values[f"{name}_time"], zone)
    if found is None:
        typed.fault(name, BAD_TIME)
    return found


def _check(typed: Typed, name: str, refused: Refused | None) -> None:
    if refused is not None:
        code = str(refused.details.get("code", ""))
        limit = refused.details.get("limit", "")
        typed.fault(name, MESSAGES.get(code, N_("staff.consult.refused.invalid")), limit=limit)


def draft_of(typed: Typed, *, now: datetime, zone: Any) -> ops.Draft | None:
    """The draft the form describes, or None with every problem noted by field."""
    v = typed.values
    _check(typed, "title", rules.check_text(v["title"], rules.TITLE_MAX))
    _check(typed, "summary", rules.check_text(v["summary"], rules.SUMMARY_MAX))
    link = v["document_url"].strip() or None
    _check(typed, "document_url", rules.check_link(link))
    _check(typed, "topic", rules.check_places((v["topic"],), ()))
    _check(typed, "districts", rules.check_places((), typed.districts))
    questions = parse_questions(v["questions"])
    _check(typed, "questions", rules.check_questions(questions))
    opens = _moment(typed, "opens", zone) if v["opens_date"] or v["opens_time"] else now
    closes = _moment(typed, "closes", zone)
    if opens is not None and closes is not None and (closes <= opens or closes <= now):
        typed.fault("closes", MESSAGES[rules.BAD_DATES])
    if typed.errors or opens is None or closes is None:
        return None
    return ops.Draft(
        title=v["title"],
        summary=v["summary"],
        topic=v["topic"],
        opens_at=opens,
        closes_at=closes,
        questions=questions,
        districts=tuple(dict.fromkeys(typed.districts)),
        document_url=link,
    )


def _upload(form: Any, typed: Typed) -> Upload | None:
    chosen = form.get("file")
    if not isinstance(chosen, web.FileField):
        return None
    try:
        return read(chosen)
    except UploadRefused as error:
        typed.fault("file", FILE_ERRORS[error.code])
        return None


def _page(
    request: web.Request,
    typed: Typed,
    *,
    consultation: Consultation | None,
    refused: str | None = None,
    status: int = 200,
) -> web.Response:
    t = translator(request)
    errors = {name: t(key, **params) for name, (key, params) in typed.errors.items()}
    return render(
        request,
        "consultation_form.html",
        {
            "item": consultation,
            "heading": t("desk.consult.form.edit" if consultation else "desk.consult.form.new"),
            "v": typed.values,
            "chosen": set(typed.districts),
            "errors": errors,
            "refused": t(refused) if refused else None,
            "topics": [(code, t(key)) for code, key in labels.TOPIC.items()],
            "districts": [
                (code, t(key)) for code, key in labels.DISTRICT.items() if code in rules.DISTRICTS
            ],
            "limits": {"title": rules.TITLE_MAX, "summary": rules.SUMMARY_MAX},
            "once": KEYS.new,
        },
        status=status,
    )


def _blank(request: web.Request) -> Typed:
    desk = parts(request)
    closes = (desk.clock() + DEFAULT_OPEN).astimezone(desk.zone)
    values = dict.fromkeys(TEXT_FIELDS, "")
    values.update(closes_date=closes.date().isoformat(), closes_time="18:00", topic="decisions")
    return Typed(values, [])


@roles(*EDITORS)
async def new_page(request: web.Request) -> web.StreamResponse:
    core_of(request)
    return _page(request, _blank(request), consultation=None)


async def _draft(request: web.Request, consultation_id: int) -> tuple[Consultation, list[str]]:
    async with parts(request).sessionmaker() as session:
        found = await consultations.get(session, consultation_id)
        if found is None:
            raise web.HTTPNotFound()
        questions = await consultations.questions_of(session, consultation_id)
    lines = [" | ".join([q.text, *q.options]) for q in questions]
    return found, lines


@roles(*EDITORS)
async def edit_page(request: web.Request) -> web.StreamResponse:
    core_of(request)
    consultation, questions = await _draft(request, int(request.match_info["id"]))
    typed = typed_from(consultation, questions, parts(request).zone)
    refused = None if consultation.status == "draft" else N_("desk.consult.form.not_draft")
    return _page(request, typed, consultation=consultation, refused=refused)


async def _save(request: web.Request, consultation: Consultation | None) -> web.StreamResponse:
    form = await form_of(request)
    try:
        return await _saved(request, consultation, form)
    finally:
        close_files(form)


async def _saved(
    request: web.Request, consultation: Consultation | None, form: Any
) -> web.StreamResponse:
    """Check the form, keep the file, hand the draft to the core; the form again (422) with
    every problem by field, or the consultation's page."""
    desk, found = parts(request), visitor(request)
    core = core_of(request)
    typed = typed_of(form)
    once = key_of(form)
    back = f"/desk/consultations/{consultation.id}/edit" if consultation else "/desk/consultations"
    repeat = KEYS.repeated(found.session_hash, once, back)
    if repeat is not None:
        return see_other(repeat)
    draft = draft_of(typed, now=desk.clock(), zone=desk.zone)
    upload = _upload(form, typed)
    if upload is not None and draft is not None and draft.document_url:
        typed.fault("file", ONE_DOCUMENT)
    if draft is None or typed.errors:
        if upload is not None and "file" not in typed.errors:
            typed.fault("file", N_("desk.consult.form.error.file_again"))
        KEYS.release(found.session_hash, once)
        return _page(request, typed, consultation=consultation, status=422)
    kept: Attachment | None = None
    if upload is not None:
        kept = await keep(desk.sessionmaker, upload, staff_id=found.staff.id, now=desk.clock())
        draft = _with_file(draft, kept.ref, kept.name)
    elif consultation is not None and not draft.document_url and form.get("drop_file") != "1":
        draft = _with_file(draft, consultation.document_ref, consultation.document_name)
    if consultation is None:
        outcome = await ops.create(core, found.actor, draft)
    else:
        outcome = await ops.revise(core, found.actor, consultation.id, draft)
    if isinstance(outcome, Refused):
        if kept is not None:
            await discard(desk.sessionmaker, kept)
        KEYS.release(found.session_hash, once)
        code = str(outcome.details.get("code", ""))
        if code in MESSAGES:
            typed.fault(FIELD_OF.get(code, "title"), MESSAGES[code])
            return _page(request, typed, consultation=consultation, status=422)
        key = N_("staff.consult.refused.state") if code == rules.NOT_DRAFT else None
        return _page(
            request,
            typed,
            consultation=consultation,
            refused=key or N_("staff.consult.refused.invalid"),
            status=status_of(outcome),
        )
    location = f"/desk/consultations/{outcome.value.id}?done=saved"
    KEYS.done(found.session_hash, once, location)
    return see_other(location)


def _with_file(draft: ops.Draft, ref: str | None, name: str | None) -> ops.Draft:
    return replace(draft, document_ref=ref, document_name=name)


@roles(*EDITORS)
async def create(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


@roles(*EDITORS)
async def revise(request: web.Request) -> web.StreamResponse:
    core_of(request)
    consultation, _ = await _draft(request, int(request.match_info["id"]))
    return await _save(request, consultation)
