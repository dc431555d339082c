"""Answer templates (canned answers) for editors and administrators: the list, add or replace
one, delete one. The staff core checks the role and the name (``handlers.staff.tickets.lookup``)
and audits each change."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.desk.context import form_of, parts, render, see_other, visitor
from bot.desk.security import roles
from handlers.staff.core import Reason, Refused
from handlers.staff.tickets import lookup
from messaging.i18n import N_
from storage.vocabulary import Role

BASE = "/desk/admin/templates"
EDITORS_ONLY = roles(Role.ADMIN, Role.EDITOR)
NAME_MAX = 64
DONE = {"saved": N_("desk.templates.saved"), "deleted": N_("desk.templates.deleted")}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin/templates", templates_page),
        web.post("/admin/templates", save),
        web.post("/admin/templates/delete", delete),
    ]


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


async def _page(
    request: web.Request,
    *,
    error: str | None = None,
    status: int = 200,
    name: str = "",
    text: str | None = None,
) -> web.Response:
    outcome = await lookup.templates(parts(request).tickets, visitor(request).actor)
    listed = [] if isinstance(outcome, Refused) else list(outcome.value)
    editing = request.query.get("edit", "")[:NAME_MAX]
    if not name and editing:
        found = next((item for item in listed if item.name == editing.lower()), None)
        if found is not None:
            name, text = found.name, found.text
    context = {
        "templates": listed,
        "error": error,
        "done": DONE.get(request.query.get("done", "")),
        "name": name,
        "text": text or "",
        "name_max": NAME_MAX,
        "text_max": lookup.TEMPLATE_TEXT_MAX,
    }
    return render(request, "admin_templates.html", context, status=status)


@EDITORS_ONLY
async def templates_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@EDITORS_ONLY
async def save(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    name = _text(form, "name", NAME_MAX + 1).strip()
    text = _text(form, "text", lookup.TEMPLATE_TEXT_MAX + 1)
    outcome = await lookup.save_template(parts(request).tickets, visitor(request).actor, name, text)
    if isinstance(outcome, Refused):
        return await _page(
            request, error=N_("desk.templates.invalid"), status=400, name=name, text=text
        )
    return see_other(f"{BASE}?done=saved")


@EDITORS_ONLY
async def delete(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    name = _text(form, "name", NAME_MAX + 1).strip()
    outcome = await lookup.delete_template(parts(request).tickets, visitor(request).actor, name)
    if isinstance(outcome, Refused):
        status = 404 if outcome.reason is Reason.NOT_FOUND else 400
        return await _page(request, error=N_("desk.templates.not_found"), status=status)
    return see_other(f"{BASE}?done=deleted")
