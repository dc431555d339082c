"""Administrators' staff accounts: the list, adding one (its invitation link is shown once),
changing role, departments, name and Telegram id, disabling and enabling, a new invitation
(a forgotten password) and resetting the second factor (a lost phone). Every change is a core
operation (``handlers.staff.accounts``): checked, audited with the client address."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.desk.context import form_of, parts, render, see_other, visitor
from bot.desk.security import roles
from handlers.staff import accounts
from handlers.staff.accounts import AccountFields, Invited
from handlers.staff.core import Outcome, Reason, Refused
from messaging.i18n import N_
from storage import staff_auth
from storage.models import Department, Staff
from storage.staff import NAME_MAX, list_staff
from storage.vocabulary import Role

BASE = "/desk/admin/staff"
# The new invitation's token, kept in this browser only until the page that shows it once.
INVITE_COOKIE = "citybot_desk_invite"
TELEGRAM_ID_MAX = 2**53
PROBLEMS = {
    "bad_login": N_("desk.staff.bad_login"),
    "login_taken": N_("desk.staff.login_taken"),
    "telegram_taken": N_("desk.staff.telegram_taken"),
    "unknown_department": N_("desk.staff.unknown_department"),
    accounts.SELF: N_("desk.staff.self"),
    "telegram": N_("desk.staff.bad_telegram"),
    "role": N_("desk.staff.bad_role"),
    "name": N_("desk.staff.name_long"),
}
DONE = {
    "saved": N_("desk.staff.saved"),
    "disabled": N_("desk.staff.disabled_done"),
    "enabled": N_("desk.staff.enabled_done"),
    "totp_reset": N_("desk.staff.totp_reset_done"),
}
ADMIN_ONLY = roles(Role.ADMIN)
EMPTY_FORM: dict[str, Any] = {
    "login": "",
    "name": "",
    "role": Role.OPERATOR.value,
    "telegram_id": "",
    "departments": [],
}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin/staff", staff_list),
        web.post("/admin/staff", add),
        web.get("/admin/staff/{id}", edit_page),
        web.post("/admin/staff/{id}", change),
        web.get("/admin/staff/{id}/invitation", invitation),
        web.post("/admin/staff/{id}/invite", reinvite),
        web.post("/admin/staff/{id}/disable", disable),
        web.post("/admin/staff/{id}/enable", enable),
        web.post("/admin/staff/{id}/totp-reset", reset_totp),
    ]


class BadField(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _fields(form: Any) -> AccountFields:
    """What the add and change forms post, checked (``BadField`` names the problem)."""
    try:
        role = Role(_text(form, "role", 16))
    except ValueError as error:
        raise BadField("role") from error
    name = _text(form, "name", NAME_MAX + 1).strip()
    if len(name) > NAME_MAX:
        raise BadField("name")
    telegram = _text(form, "telegram_id", 24).strip()
    telegram_id = None
    if telegram:
        if not telegram.isdecimal() or not 0 < int(telegram) < TELEGRAM_ID_MAX:
            raise BadField("telegram")
        telegram_id = int(telegram)
    departments = [code for code in form.getall("departments", []) if isinstance(code, str)]
    return AccountFields(
        role=role, name=name or None, departments=departments[:64], telegram_id=telegram_id
    )


def _staff_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdecimal() or len(raw) > 19:
        raise web.HTTPNotFound(text="404: no such account")
    return int(raw)


async def _departments(request: web.Request) -> list[Department]:
    async with parts(request).sessionmaker() as session:
        return list((await session.scalars(select(Department).order_by(Department.code))).all())


@ADMIN_ONLY
async def staff_list(request: web.Request) -> web.StreamResponse:
    return await _list_page(request)


async def _list_page(
    request: web.Request, *, error: str | None = None, form: Any = None, status: int = 200
) -> web.Response:
    async with parts(request).sessionmaker() as session:
        members = list(await list_staff(session))
        for member in members:
            _ = member.department_codes
    context = {
        "members": members,
        "departments": await _departments(request),
        "roles": list(Role),
        "error": error,
        "form": form or EMPTY_FORM,
        "name_max": NAME_MAX,
    }
    return render(request, "admin_staff.html", context, status=status)


@ADMIN_ONLY
async def add(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    login = _text(form, "login", 80)
    kept = {
        "login": login,
        "name": _text(form, "name", NAME_MAX),
        "role": _text(form, "role", 16),
        "telegram_id": _text(form, "telegram_id", 24),
        "departments": [c for c in form.getall("departments", []) if isinstance(c, str)],
    }
    try:
        fields = _fields(form)
    except BadField as bad:
        return await _list_page(request, error=PROBLEMS[bad.problem], form=kept, status=400)
    outcome = await accounts.add(parts(request).core, visitor(request).actor, login, fields)
    if isinstance(outcome, Refused):
        problem = str(outcome.details.get("problem", ""))
        return await _list_page(
            request, error=PROBLEMS.get(problem, N_("desk.staff.refused")), form=kept, status=400
        )
    return _show_invitation(request, outcome.value)


def _show_invitation(request: web.Request, invited: Invited) -> web.Response:
    """To the page that shows the link once; the token rides in a cookie for that one page, never
    in a URL (it would be in logs and the history)."""
    response = see_other(f"{BASE}/{invited.staff_id}/invitation")
    response.set_cookie(
        INVITE_COOKIE,
        f"{invited.staff_id}:{invited.token}",
        path=f"{BASE}/{invited.staff_id}/",
        httponly=True,
        samesite="Strict",
        secure=parts(request).secure_cookies,
        max_age=300,
    )
    return response


@ADMIN_ONLY
async def invitation(request: web.Request) -> web.StreamResponse:
    staff_id = _staff_id(request)
    kept = request.cookies.get(INVITE_COOKIE, "")
    owner, _, token = kept.partition(":")
    link = None
    if owner == str(staff_id) and token:
        desk = parts(request)
        base = desk.public_url or f"{request.scheme}://{request.host}"
        link = staff_auth.invite_link(base, token)
    async with parts(request).sessionmaker() as session:
        staff = await session.get(Staff, staff_id)
    if staff is None:
        raise web.HTTPNotFound(text="404: no such account")
    response = render(request, "admin_invitation.html", {"member": staff, "link": link})
    response.del_cookie(INVITE_COOKIE, path=f"{BASE}/{staff_id}/")
    return response


@ADMIN_ONLY
async def edit_page(request: web.Request) -> web.StreamResponse:
    return await _edit_page(request)


async def _edit_page(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    staff_id = _staff_id(request)
    async with parts(request).sessionmaker() as session:
        staff = await session.get(Staff, staff_id)
        if staff is None:
            raise web.HTTPNotFound(text="404: no such account")
        _ = staff.department_codes
    context = {
        "member": staff,
        "departments": await _departments(request),
        "roles": list(Role),
        "error": error,
        "done": DONE.get(request.query.get("done", "")),
        "is_self": staff.id == visitor(request).staff.id,
        "name_max": NAME_MAX,
    }
    return render(request, "admin_staff_edit.html", context, status=status)


async def _after(request: web.Request, outcome: Outcome[Any], done: str) -> web.StreamResponse:
    if isinstance(outcome, Refused):
        if outcome.reason is Reason.NOT_FOUND:
            raise web.HTTPNotFound(text="404: no such account")
        problem = str(outcome.details.get("problem", ""))
        return await _edit_page(
            request, error=PROBLEMS.get(problem, N_("desk.staff.refused")), status=400
        )
    return see_other(f"{BASE}/{_staff_id(request)}?done={done}")


@ADMIN_ONLY
async def change(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    staff_id = _staff_id(request)
    try:
        fields = _fields(form)
    except BadField as bad:
        return await _edit_page(request, error=PROBLEMS[bad.problem], status=400)
    outcome = await accounts.change(parts(request).core, visitor(request).actor, staff_id, fields)
    return await _after(request, outcome, "saved")


@ADMIN_ONLY
async def disable(request: web.Request) -> web.StreamResponse:
    outcome = await accounts.set_disabled(
        parts(request).core, visitor(request).actor, _staff_id(request), disabled=True
    )
    return await _after(request, outcome, "disabled")


@ADMIN_ONLY
async def enable(request: web.Request) -> web.StreamResponse:
    outcome = await accounts.set_disabled(
        parts(request).core, visitor(request).actor, _staff_id(request), disabled=False
    )
    return await _after(request, outcome, "enabled")


@ADMIN_ONLY
async def reset_totp(request: web.Request) -> web.StreamResponse:
    outcome = await accounts.reset_totp(
        parts(request).core, visitor(request).actor, _staff_id(request)
    )
    return await _after(request, outcome, "totp_reset")


@ADMIN_ONLY
async def reinvite(request: web.Request) -> web.StreamResponse:
    outcome = await accounts.reinvite(
        parts(request).core, visitor(request).actor, _staff_id(request)
    )
    if isinstance(outcome, Refused):
        return await _after(request, outcome, "")
    return _show_invitation(request, outcome.value)
