"""Signing in and out: the login form, the second factor, the language switch.

A sign-in is two steps when the account has a second factor: the password opens a short-lived
"totp" session that only this form accepts, and the right code replaces it with a full session
(a new token each step). Failures are counted per login and per address; past the limit every
attempt is refused with the same message, right password or not, until the window passes.
Messages never tell whether a login exists.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.context import (
    LANGUAGE_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    VISITOR,
    form_of,
    form_text,
    parts,
    render,
    see_other,
)
from bot.desk.security import client_address, forget_cookie, own_csrf, public, set_cookie
from messaging.i18n import LANGUAGES, N_
from storage import audit, staff_auth
from storage.models import Staff
from storage.staff import get_by_login, normal_login

log = logging.getLogger(__name__)

LOGIN_MAX = 64
CODE_MAX = 16
HOME = "/desk/"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/login", login_page),
        web.post("/login", login),
        web.get("/login/code", code_page),
        web.post("/login/code", code),
        web.post("/logout", logout),
        web.post("/language", switch_language),
    ]


def _login_form(
    request: web.Request, *, error: str | None = None, status: int = 200, login: str = ""
) -> web.Response:
    """The login form with a fresh pre-session CSRF token (double-submit: cookie and field)."""
    token = staff_auth.new_token()
    response = render(
        request, "login.html", {"error": error, "login": login, "login_csrf": token}, status=status
    )
    set_cookie(response, request, LOGIN_COOKIE, token)
    return response


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    if request.get(VISITOR) is not None:
        raise web.HTTPSeeOther(HOME)
    return _login_form(request)


@public
async def login(request: web.Request) -> web.StreamResponse:
    desk = parts(request)
    form = await form_of(request)
    login_name = normal_login(form_text(form, "login", LOGIN_MAX))
    password = form_text(form, "password", staff_auth.PASSWORD_MAX)
    address = client_address(request)
    now = desk.clock()
    async with desk.sessionmaker() as session, session.begin():
        if await staff_auth.throttled(session, login=login_name, address=address, now=now):
            audit.record(
                session,
                actor="desk",
                action="desk.login_throttled",
                now=now,
                details={"login": login_name, "address": address},
            )
            return _login_form(
                request, error=N_("desk.login.throttled"), status=429, login=login_name
            )
        staff = await get_by_login(session, login_name) if login_name else None
        ok = False
        if staff is None or staff.disabled_at is not None:
            staff_auth.burn_password_check(password)
        else:
            ok = staff_auth.password_matches(staff, password)
        if not ok or staff is None:
            await staff_auth.record_failure(session, login=login_name, address=address, now=now)
            audit.record(
                session,
                actor="desk",
                action="desk.login_failed",
                now=now,
                details={"login": login_name, "address": address},
            )
            return _login_form(request, error=N_("desk.login.wrong"), status=401, login=login_name)
        stage = staff_auth.stage_after_password(staff)
        opened = await staff_auth.open_session(
            session, staff, now=now, address=address, stage=stage
        )
        if stage == staff_auth.FULL:
            audit_signed_in(session, staff, now, address)
    target = {staff_auth.FULL: HOME, staff_auth.TOTP: "/desk/login/code"}.get(
        stage, "/desk/totp/setup"
    )
    response = see_other(target)
    set_cookie(response, request, SESSION_COOKIE, opened.token)
    forget_cookie(response, LOGIN_COOKIE)
    return response


def audit_signed_in(session: AsyncSession, staff: Staff, now: datetime, address: str) -> None:
    audit.record(
        session,
        actor=f"staff:{staff.id}",
        action="desk.signed_in",
        now=now,
        details={"desk": "web", "address": address},
    )


@public
async def code_page(request: web.Request) -> web.StreamResponse:
    """The second step: the six-digit code from the authenticator app."""
    desk = parts(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    async with desk.sessionmaker() as session, session.begin():
        step = await staff_auth.step_session(
            session, token, stage=staff_auth.TOTP, now=desk.clock()
        )
    if step is None:
        raise web.HTTPSeeOther("/desk/login")
    stored, _staff = step
    return render(request, "login_code.html", {"error": None, "step_csrf": stored.csrf_token})


@public
@own_csrf
async def code(request: web.Request) -> web.StreamResponse:
    desk = parts(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    form = await form_of(request)
    given_csrf = form_text(form, "csrf", 128)
    address = client_address(request)
    now = desk.clock()
    async with desk.sessionmaker() as session, session.begin():
        step = await staff_auth.step_session(session, token, stage=staff_auth.TOTP, now=now)
        if step is None:
            raise web.HTTPSeeOther("/desk/login")
        stored, staff = step
        if not hmac.compare_digest(given_csrf.encode(), stored.csrf_token.encode()):
            raise web.HTTPForbidden(text="403: the form expired; reload the page and try again")
        if await staff_auth.throttled(session, login=staff.login, address=address, now=now):
            await session.delete(stored)
            return _login_form(request, error=N_("desk.login.throttled"), status=429)
        assert staff.totp_secret is not None  # the stage says so
        if not staff_auth.totp_matches(
            staff.totp_secret, form_text(form, "code", CODE_MAX), now=now
        ):
            await staff_auth.record_failure(session, login=staff.login, address=address, now=now)
            audit.record(
                session,
                actor=f"staff:{staff.id}",
                action="desk.code_failed",
                now=now,
                details={"desk": "web", "address": address},
            )
            return render(
                request,
                "login_code.html",
                {"error": N_("desk.login.wrong_code"), "step_csrf": stored.csrf_token},
                status=401,
            )
        await session.delete(stored)
        opened = await staff_auth.open_session(session, staff, now=now, address=address)
        audit_signed_in(session, staff, now, address)
    response = see_other(HOME)
    set_cookie(response, request, SESSION_COOKIE, opened.token)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """Sign out this browser (``everywhere=1``: every session of the account)."""
    desk = parts(request)
    found = request[VISITOR]
    form = await form_of(request)
    everywhere = form_text(form, "everywhere", 1) == "1"
    now = desk.clock()
    async with desk.sessionmaker() as session, session.begin():
        if everywhere:
            await staff_auth.close_all_sessions(session, found.staff.id)
        else:
            await staff_auth.close_session(session, found.session_hash)
        audit.record(
            session,
            actor=found.actor.audit_name,
            action="desk.signed_out_everywhere" if everywhere else "desk.signed_out",
            now=now,
            details=found.actor.facts(),
        )
    response = see_other("/desk/login")
    forget_cookie(response, SESSION_COOKIE)
    return response


@public
@own_csrf
async def switch_language(request: web.Request) -> web.StreamResponse:
    """Ukrainian or English, kept in a cookie; back to the page the switch was on. It needs no
    token (another site could at most switch the language, and cross-site posts are refused
    anyway), so it works on every page, signed in or not."""
    form = await form_of(request)
    chosen = form_text(form, "lang", 8)
    back = form_text(form, "back", 512)
    # Only our own pages: never an open redirect.
    target = back if back.startswith("/desk/") and "//" not in back else HOME
    response = see_other(target)
    if chosen in LANGUAGES:
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
