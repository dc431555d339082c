"""The ticket page's actions, each a POST that calls one staff-core operation
(``handlers.staff.tickets``): answer and note, take and hand over, the appeal's term, extend,
refuse, close, ban and unban. The core checks the role and the department and audits the
action with the desk and the client address (``visitor(request).actor``).

Done: 303 to the page with ``?done=<action>``. Refused: the page again, with the refusal in
words and what was typed put back (nothing lost), answered 403/404/409/422. The read-only head
of department gets 403 before anything runs. A form sent twice acts once (``bot.desk.once``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from bot.desk.context import form_of, parts, see_other, translator, visitor
from bot.desk.once import KEYS, PENDING, key_of
from bot.desk.refusals import explain, status_of
from bot.desk.security import roles
from bot.desk.ticket import REASON_MAX, TEXT_MAX, show
from bot.desk.uploads import UploadRefused, discard, keep, read
from handlers.staff.core import WORKERS, Outcome, Reason, Refused
from handlers.staff.tickets import answering, assigning, residents, terms
from handlers.staff.tickets.context import Attachment

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]
Run = Callable[[web.Request, int, Form], Awaitable[Outcome[Any]]]
TYPED = ("text", "template", "reason", "comment", "ground", "queue", "term", "staff")


def _text(form: Form, name: str) -> str:
    value = form.get(name, "")
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""


def _invalid(code: str) -> Refused:
    return Refused(Reason.INVALID, {"code": code})


def _bounded(text: str, limit: int, *, required: bool = True) -> Refused | None:
    if required and not text:
        return _invalid("empty")
    if len(text) > limit:
        return _invalid("too_long")
    return None


async def _answer(request: web.Request, ticket_id: int, form: Form) -> Outcome[Any]:
    desk, found = parts(request), visitor(request)
    text, template = _text(form, "text"), _text(form, "template")
    too_long = _bounded(text, TEXT_MAX, required=False)
    if too_long is not None:
        return too_long
    attachment: Attachment | None = None
    field = form.get("file")
    if isinstance(field, web.FileField):
        try:
            upload = read(field)
        except UploadRefused as error:
            return _invalid(error.code)
        if upload is not None:
            attachment = await keep(
                desk.sessionmaker, upload, staff_id=found.staff.id, now=desk.clock()
            )
    if text or not template:
        outcome = await answering.answer(desk.tickets, found.actor, ticket_id, text, attachment)
    else:
        outcome = await answering.answer_from_template(
            desk.tickets, found.actor, ticket_id, template, attachment
        )
    if isinstance(outcome, Refused) and attachment is not None:
        await discard(desk.sessionmaker, attachment)
    return outcome


async def _note(request: web.Request, ticket_id: int, form: Form) -> Outcome[Any]:
    text = _text(form, "text")
    refused = _bounded(text, TEXT_MAX)
    if refused is not None:
        return refused
    desk, found = parts(request), visitor(request)
    return await answering.note(desk.tickets, found.actor, ticket_id, text)


async def _take(request: web.Request, ticket_id: int, _form: Form) -> Outcome[Any]:
    desk, found = parts(request), visitor(request)
    return await assigning.take(desk.tickets, found.actor, ticket_id)


async def _assign(request: web.Request, ticket_id: int, form: Form) -> Outcome[Any]:
    chosen = _text(form, "staff")
    if not (chosen.isascii() and chosen.isdigit() and len(chosen) < 19):
        return _invalid("bad_assignee")
    desk, found = parts(request), visitor(request)
    return await assigning.assign(desk.tickets, found.actor, ticket_id, int(chosen))


async def _handover(request: web.Request, ticket_id: int, form: Form) -> Outcome[Any]:
    desk, found = parts(request), visitor(request)
    return await assigning.hand_over(desk.tickets, found.actor, ticket_id, _text(form, "queue"))


async def _term(request: web.Request, ticket_id: int, form: Form) -> Outcome[Any]:
    desk, found = parts(request), visitor(request)
    return await terms.set_term(desk.tickets, found.actor, ticket_id, _text(form, "term"))


async def _extend(request: web.Request, ticket_id: int, form: Form) -> Outcome[Any]:
    reason = _text(form, "reason")
    if not reason:
        return _invalid("reason_needed")
    refused = _bounded(reason, REASON_MAX)
    if refused is not None:
        return refused
    desk, found = parts(request), visitor(request)
    return await terms.extend(desk.tickets, found.actor, ticket_id, reason)


async def _refuse(request: web.Request, ticket_id: int, form: Form) -> Outcome[Any]:
    comment = _text(form, "comment")
    refused = _bounded(comment, REASON_MAX)
    if refused is not None:
        return refused
    desk, found = parts(request), visitor(request)
    return await terms.refuse(desk.tickets, found.actor, ticket_id, _text(form, "ground"), comment)


async def _close(request: web.Request, ticket_id: int, _form: Form) -> Outcome[Any]:
    desk, found = parts(request), visitor(request)
    return await terms.close(desk.tickets, found.actor, ticket_id)


async def _ban(request: web.Request, ticket_id: int, _form: Form) -> Outcome[Any]:
    desk, found = parts(request), visitor(request)
    return await residents.set_banned(desk.tickets, found.actor, ticket_id, ban=True)


async def _unban(request: web.Request, ticket_id: int, _form: Form) -> Outcome[Any]:
    desk, found = parts(request), visitor(request)
    return await residents.set_banned(desk.tickets, found.actor, ticket_id, ban=False)


ACTIONS: dict[str, Run] = {
    "answer": _answer,
    "note": _note,
    "take": _take,
    "assign": _assign,
    "handover": _handover,
    "term": _term,
    "extend": _extend,
    "refuse": _refuse,
    "close": _close,
    "ban": _ban,
    "unban": _unban,
}


def routes() -> list[web.RouteDef]:
    pattern = "/tickets/{ticket_id:[0-9]{1,18}}/{action:" + "|".join(ACTIONS) + "}"
    return [web.post(pattern, act)]


@roles(*WORKERS)
async def act(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    ticket_id = int(request.match_info["ticket_id"])
    found = visitor(request)
    form = await form_of(request)
    once = key_of(form)
    page = f"/desk/tickets/{ticket_id}"
    earlier = KEYS.claim(found.session_hash, once)
    if earlier is not None:
        # The same form again: where the first submit went (or the page, while it runs).
        return see_other(earlier if earlier != PENDING else page)
    try:
        outcome = await ACTIONS[action](request, ticket_id, form)
    finally:
        # aiohttp keeps posted files in temporary files: close them now, not at collection.
        for value in form.values():
            if isinstance(value, web.FileField):
                value.file.close()
    if isinstance(outcome, Refused):
        KEYS.release(found.session_hash, once)
        typed = {name: str(form.get(name)) for name in TYPED if isinstance(form.get(name), str)}
        return await show(
            request,
            refused=explain(translator(request), outcome),
            status=status_of(outcome),
            typed=typed,
        )
    location = f"{page}?done={action}"
    departments = found.departments
    if action == "handover" and departments is not None and form.get("queue") not in departments:
        location = "/desk/"  # handed to a department they do not work in: no longer theirs
    KEYS.done(found.session_hash, once, location)
    return see_other(location)
