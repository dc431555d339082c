"""Administrators' departments: each department's name, Telegram chat and whether it takes new
tickets, a new department, and which department each residents' category goes to
(``handlers.staff.departments``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.desk.context import form_of, parts, render, see_other, visitor
from bot.desk.security import roles
from handlers.staff import departments
from handlers.staff.core import Outcome, Reason, Refused
from handlers.staff.departments import QueueFields
from messaging import labels
from messaging.i18n import N_
from storage.tickets import list_queues, list_routes
from storage.vocabulary import Role

BASE = "/desk/admin/departments"
ADMIN_ONLY = roles(Role.ADMIN)
CATEGORIES = tuple(labels.CHOICE_CATEGORY)
PROBLEMS = {
    "code": N_("desk.departments.bad_code"),
    "code_taken": N_("desk.departments.code_taken"),
    "name": N_("desk.departments.bad_name"),
    "chat": N_("desk.departments.bad_chat"),
    "category": N_("desk.departments.bad_route"),
    "queue": N_("desk.departments.bad_route"),
}
DONE = {"saved": N_("desk.departments.saved"), "routed": N_("desk.departments.routed")}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin/departments", departments_page),
        web.post("/admin/departments", add),
        web.post("/admin/departments/routes", route),
        web.post("/admin/departments/{name}", change),
    ]


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


class BadChat(Exception):
    pass


def _fields(form: Any) -> QueueFields:
    chat = _text(form, "chat_id", 24).strip()
    chat_id = None
    if chat:
        digits = chat[1:] if chat.startswith("-") else chat
        if not digits.isdecimal():
            raise BadChat
        chat_id = int(chat)
    return QueueFields(
        name=_text(form, "name", departments.NAME_MAX + 1),
        chat_id=chat_id,
        active=_text(form, "active", 4) == "1",
    )


async def _page(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    async with parts(request).sessionmaker() as session:
        queues = list(await list_queues(session))
        routed = {item.category: item.queue_code for item in await list_routes(session)}
    context = {
        "queues": queues,
        "routes": [(c, labels.STAFF_CATEGORY.get(c, c), routed.get(c, "")) for c in CATEGORIES],
        "error": error,
        "done": DONE.get(request.query.get("done", "")),
        "name_max": departments.NAME_MAX,
    }
    return render(request, "admin_departments.html", context, status=status)


@ADMIN_ONLY
async def departments_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _after(request: web.Request, outcome: Outcome[str], done: str) -> web.StreamResponse:
    if isinstance(outcome, Refused):
        if outcome.reason is Reason.NOT_FOUND:
            raise web.HTTPNotFound(text="404: no such department")
        problem = str(outcome.details.get("problem", ""))
        return await _page(
            request, error=PROBLEMS.get(problem, N_("desk.staff.refused")), status=400
        )
    return see_other(f"{BASE}?done={done}")


async def _save(request: web.Request, code: str, *, new: bool) -> web.StreamResponse:
    form = await form_of(request)
    try:
        fields = _fields(form)
    except BadChat:
        return await _page(request, error=PROBLEMS["chat"], status=400)
    if new:
        code = _text(form, "code", 40).strip()
        if code == "routes":  # the path of the routes form
            return await _page(request, error=PROBLEMS["code_taken"], status=400)
        fields = QueueFields(fields.name, fields.chat_id, active=True)
    outcome = await departments.save(
        parts(request).tickets, visitor(request).actor, code, fields, new=new
    )
    return await _after(request, outcome, "saved")


@ADMIN_ONLY
async def add(request: web.Request) -> web.StreamResponse:
    return await _save(request, "", new=True)


@ADMIN_ONLY
async def change(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.match_info["name"][:40], new=False)


@ADMIN_ONLY
async def route(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    outcome: Outcome[str] | None = None
    desk, actor = parts(request), visitor(request).actor
    async with desk.sessionmaker() as session:
        before = {item.category: item.queue_code for item in await list_routes(session)}
    for category in CATEGORIES:
        chosen = _text(form, f"route_{category}", 40)
        if chosen and chosen != before.get(category):
            outcome = await departments.route(
                desk.tickets, actor, category, chosen, categories=CATEGORIES
            )
            if isinstance(outcome, Refused):
                break
    if outcome is None:
        return see_other(f"{BASE}?done=routed")
    return await _after(request, outcome, "routed")
