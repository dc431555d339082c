"""My account: the name colleagues see, the language of the desk, the password, the second
factor, and the browsers signed in (with "sign out everywhere")."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.desk.context import LANGUAGE_COOKIE, form_of, form_text, parts, render, see_other, visitor
from bot.desk.invite import PASSWORD_ERRORS
from handlers.staff import accounts
from handlers.staff.accounts import PasswordProblem
from handlers.staff.core import Reason, Refused
from messaging.i18n import LANGUAGES, N_
from storage import staff_auth
from storage.models import StaffSession
from storage.staff import NAME_MAX

# What a finished action says on the page it leads back to (``?done=KEY``): fixed keys only.
DONE = {
    "profile": N_("desk.account.saved"),
    "password": N_("desk.account.password_changed"),
    "totp_on": N_("desk.totp.enabled"),
    "totp_off": N_("desk.totp.disabled"),
}
LANGUAGE_NAMES = {"uk": "Українська", "en": "English"}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/account", account_page),
        web.post("/account/profile", save_profile),
        web.post("/account/password", change_password),
        web.post("/account/totp/off", totp_off),
    ]


async def _page(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    found = visitor(request)
    desk = parts(request)
    query = (
        select(StaffSession)
        .where(StaffSession.staff_id == found.staff.id, StaffSession.stage == staff_auth.FULL)
        .order_by(StaffSession.last_seen_at.desc())
    )
    async with desk.sessionmaker() as session:
        sessions = (await session.scalars(query)).all()
    done = DONE.get(request.query.get("done", ""))
    context: dict[str, Any] = {
        "error": error,
        "done": done,
        "staff": found.staff,
        "sessions": sessions,
        "this_session": found.session_hash,
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES],
        "minimum": staff_auth.PASSWORD_MIN,
        "maximum": staff_auth.PASSWORD_MAX,
        "name_max": NAME_MAX,
        "totp_required": found.staff.role == "admin",
    }
    return render(request, "account.html", context, status=status)


async def account_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def save_profile(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    name = form_text(form, "name", NAME_MAX + 1)
    chosen = form_text(form, "language", 8)
    if len(name) > NAME_MAX:
        return await _page(request, error=N_("desk.account.name_long"), status=400)
    outcome = await accounts.set_profile(
        parts(request).core, visitor(request).actor, name=name, language=chosen
    )
    if isinstance(outcome, Refused):
        return await _page(request, error=N_("desk.account.bad_language"), status=400)
    response = see_other("/desk/account?done=profile")
    # The chosen language applies at once (the switch's cookie would otherwise win).
    response.set_cookie(
        LANGUAGE_COOKIE,
        chosen,
        path="/desk/",
        httponly=True,
        samesite="Strict",
        secure=parts(request).secure_cookies,
        max_age=365 * 24 * 3600,
    )
    return response


async def change_password(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    limit = staff_auth.PASSWORD_MAX + 1
    outcome = await accounts.change_password(
        parts(request).core,
        visitor(request).actor,
        current=form_text(form, "current", limit),
        new=form_text(form, "password", limit),
        repeated=form_text(form, "password2", limit),
    )
    if isinstance(outcome, Refused):
        problem = outcome.details.get("problem", PasswordProblem.CURRENT)
        error = PASSWORD_ERRORS.get(PasswordProblem(str(problem)), N_("desk.password.current"))
        return await _page(request, error=error, status=400)
    return see_other("/desk/account?done=password")


async def totp_off(request: web.Request) -> web.StreamResponse:
    outcome = await accounts.disable_totp(parts(request).core, visitor(request).actor)
    if isinstance(outcome, Refused):
        error = N_("desk.totp.admin_required") if outcome.reason is Reason.ROLE else None
        return await _page(request, error=error or N_("desk.totp.admin_required"), status=403)
    return see_other("/desk/account?done=totp_off")
