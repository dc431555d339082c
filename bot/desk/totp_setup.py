"""Setting up the second factor: a new secret shown as text and as a QR code, saved only once
a code from the authenticator app proves it arrived.

Two ways in: an administrator's first sign-in (a half-done "enrol" session: no page of the desk
opens until this is done, then a full session replaces it), and anyone signed in, from their
account page. The QR code is inline SVG made on the server (``segno``): no script, no image
request, nothing the Content-Security-Policy has to allow.
"""

from __future__ import annotations

import hmac

import segno
from aiohttp import web
from markupsafe import Markup, escape

from bot.desk.auth import HOME, audit_signed_in
from bot.desk.context import (
    SESSION_COOKIE,
    VISITOR,
    form_of,
    form_text,
    parts,
    render,
    see_other,
    translator,
)
from bot.desk.security import client_address, own_csrf, public, set_cookie
from handlers.staff import accounts
from handlers.staff.core import Actor, Desk, Refused
from messaging.i18n import N_
from storage import staff_auth
from storage.models import Staff, StaffSession

CODE_MAX = 16
QR_LABEL = N_("desk.totp.qr_label")


def routes() -> list[web.RouteDef]:
    return [web.get("/totp/setup", setup_page), web.post("/totp/setup", confirm)]


def grouped(secret: str) -> str:
    """``ABCD EFGH …``: easier to type into an app that cannot scan."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(uri: str, label: str) -> Markup:
    """The otpauth:// address as an inline SVG QR code (segno writes well-formed SVG; the
    title is what a screen reader says)."""
    code = segno.make(uri, error="m")
    svg = code.svg_inline(scale=4, border=2, title=label, svgclass="qr", lineclass=None)
    labelled = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return Markup(labelled)


def _render(
    request: web.Request,
    staff: Staff,
    *,
    form_csrf: str,
    secret: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    secret = secret or accounts.new_secret()
    label = str(translator(request)(QR_LABEL))
    return render(
        request,
        "totp_setup.html",
        {
            "error": error,
            "secret": secret,
            "grouped": grouped(secret),
            "qr": qr_svg(accounts.provisioning_uri(secret, staff.login), label),
            "form_csrf": form_csrf,
            "enrolling": request.get(VISITOR) is None,
            "required": staff.role == "admin",
        },
        status=status,
    )


async def _enrolling(request: web.Request) -> tuple[StaffSession, Staff] | None:
    """The half-done sign-in of an account that must set up its second factor."""
    desk = parts(request)
    async with desk.sessionmaker() as session, session.begin():
        step = await staff_auth.step_session(
            session,
            request.cookies.get(SESSION_COOKIE, ""),
            stage=staff_auth.ENROL,
            now=desk.clock(),
        )
        if step is None:
            return None
        stored, staff = step
        _ = staff.department_codes
        return stored, staff


@public
async def setup_page(request: web.Request) -> web.StreamResponse:
    found = request.get(VISITOR)
    if found is not None:
        return _render(request, found.staff, form_csrf=found.csrf)
    step = await _enrolling(request)
    if step is None:
        raise web.HTTPSeeOther("/desk/login")
    stored, staff = step
    return _render(request, staff, form_csrf=stored.csrf_token)


@public
@own_csrf
async def confirm(request: web.Request) -> web.StreamResponse:
    """Check the code against the secret the page showed; save it, and for a first sign-in open
    the full session (a new token: the half-done one is deleted)."""
    desk = parts(request)
    form = await form_of(request)
    given_csrf = form_text(form, "csrf", 128)
    secret = form_text(form, "secret", 64).replace(" ", "").upper()
    code = form_text(form, "code", CODE_MAX)
    address = client_address(request)
    found = request.get(VISITOR)
    if found is not None:
        staff, expected = found.staff, found.csrf
    else:
        step = await _enrolling(request)
        if step is None:
            raise web.HTTPSeeOther("/desk/login")
        stored, staff = step
        expected = stored.csrf_token
    if not expected or not hmac.compare_digest(given_csrf.encode(), expected.encode()):
        raise web.HTTPForbidden(text="403: the form expired; reload the page and try again")
    actor = Actor.of(staff, desk=Desk.WEB, address=address)
    outcome = await accounts.enable_totp(desk.core, actor, secret=secret, code=code)
    if isinstance(outcome, Refused):
        if not accounts.valid_secret(secret):
            secret = ""
        return _render(
            request,
            staff,
            form_csrf=expected,
            secret=secret or None,
            error=N_("desk.totp.wrong_code"),
            status=400,
        )
    if found is not None:
        return see_other("/desk/account?done=totp_on")
    now = desk.clock()
    async with desk.sessionmaker() as session, session.begin():
        await staff_auth.close_session(
            session, staff_auth.token_hash(request.cookies.get(SESSION_COOKIE, ""))
        )
        opened = await staff_auth.open_session(session, staff, now=now, address=address)
        audit_signed_in(session, staff, now, address)
    response = see_other(HOME)
    set_cookie(response, request, SESSION_COOKIE, opened.token)
    return response
