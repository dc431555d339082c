"""The invitation page: the one-time link ``citybot staff add`` (or an administrator) gave sets
the account's password.

The token travels in the URL's fragment (``/desk/invite#TOKEN``), which a browser never sends:
it stays out of every server's and proxy's log. ``static/invite.js`` copies it into the form;
without script the page asks for it to be pasted. The invitation ends when used; a right password
then opens what the account's role needs next: the second factor's set-up for administrators
(a half-done "enrol" session), the code for an account that has one, the desk for the others.
"""

from __future__ import annotations

from aiohttp import web

from bot.desk.auth import HOME, audit_signed_in
from bot.desk.context import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    VISITOR,
    form_of,
    form_text,
    parts,
    render,
    see_other,
)
from bot.desk.security import client_address, forget_cookie, public, set_cookie
from handlers.staff.accounts import PasswordProblem, password_problem
from messaging.i18n import N_
from storage import audit, staff_auth

TOKEN_MAX = 128
# Where each stage of a sign-in continues.
NEXT = {
    staff_auth.FULL: HOME,
    staff_auth.TOTP: "/desk/login/code",
    staff_auth.ENROL: "/desk/totp/setup",
}
PASSWORD_ERRORS = {
    PasswordProblem.SHORT: N_("desk.password.short"),
    PasswordProblem.LONG: N_("desk.password.long"),
    PasswordProblem.MISMATCH: N_("desk.password.mismatch"),
    PasswordProblem.LOGIN: N_("desk.password.login"),
    PasswordProblem.CURRENT: N_("desk.password.current"),
}


def routes() -> list[web.RouteDef]:
    return [web.get("/invite", invite_page), web.post("/invite", accept)]


def _page(
    request: web.Request, *, error: str | None = None, token: str = "", status: int = 200
) -> web.Response:
    """The form, with a pre-session CSRF token (double-submit, as the login form) unless a
    session is open in this browser (then the session's own token is expected)."""
    form_token = staff_auth.new_token()
    signed_in = request.get(VISITOR) is not None
    response = render(
        request,
        "invite.html",
        {
            "error": error,
            "token": token,
            "form_csrf": None if signed_in else form_token,
            "minimum": staff_auth.PASSWORD_MIN,
            "maximum": staff_auth.PASSWORD_MAX,
        },
        status=status,
    )
    if not signed_in:
        set_cookie(response, request, LOGIN_COOKIE, form_token)
    return response


@public
async def invite_page(request: web.Request) -> web.StreamResponse:
    return _page(request)


@public
async def accept(request: web.Request) -> web.StreamResponse:
    desk = parts(request)
    form = await form_of(request)
    token = form_text(form, "token", TOKEN_MAX).strip().lstrip("#")
    password = form_text(form, "password", staff_auth.PASSWORD_MAX + 1)
    repeated = form_text(form, "password2", staff_auth.PASSWORD_MAX + 1)
    address = client_address(request)
    now = desk.clock()
    async with desk.sessionmaker() as session, session.begin():
        found = await staff_auth.find_invite(session, token)
        if found is None or found[1].disabled_at is not None:
            return _page(request, error=N_("desk.invite.unknown"), status=404)
        invite, staff = found
        if invite.expires_at <= now:
            return _page(request, error=N_("desk.invite.expired"), status=410)
        problem = password_problem(staff.login, password, repeated)
        if problem is not None:
            return _page(request, error=PASSWORD_ERRORS[problem], token=token, status=400)
        staff.password_hash = staff_auth.hash_password(password)
        await staff_auth.forget_invites(session, staff.id)
        # A reset password: whoever held the old one keeps no session.
        await staff_auth.close_all_sessions(session, staff.id)
        audit.record(
            session,
            actor=f"staff:{staff.id}",
            action="desk.invite_used",
            now=now,
            subject=f"staff:{staff.id}",
            details={"desk": "web", "address": address},
        )
        stage = staff_auth.stage_after_password(staff)
        opened = await staff_auth.open_session(
            session, staff, now=now, address=address, stage=stage
        )
        if stage == staff_auth.FULL:
            audit_signed_in(session, staff, now, address)
    response = see_other(NEXT[stage])
    set_cookie(response, request, SESSION_COOKIE, opened.token)
    forget_cookie(response, LOGIN_COOKIE)
    return response
