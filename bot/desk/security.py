"""The desk's guards, applied to every request: security headers, the session, and CSRF.

- Headers: a strict Content-Security-Policy (scripts and styles from our own origin only, no
  inline script, no framing), no caching of pages that carry personal data, no referrer.
- Session: the cookie carries a random token; the account behind it must be enabled and the
  session within its idle and absolute timeouts, checked on every request (a disabled account's
  sessions stop at once). Handlers are staff-only unless marked ``@public``; ``@roles`` narrows
  them further.
- CSRF: every state-changing request must come from our own pages: a cross-site ``Origin`` or
  ``Sec-Fetch-Site`` is refused, and the form's ``csrf`` field (or the ``X-CSRF-Token`` header)
  must equal the session's token (a login form carries a token from its own cookie).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.desk.context import (
    LANGUAGE,
    LANGUAGE_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    VISITOR,
    Handler,
    Visitor,
    form_of,
    parts,
    see_other,
)
from messaging.i18n import LANGUAGES
from storage import staff_auth
from storage.vocabulary import Role

log = logging.getLogger(__name__)

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not "no-referrer": with it Chromium sends "Origin: null" on our own forms, and the Origin
    # check below needs the real one. Other sites still get no referrer.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/desk/login"

_PUBLIC = "_desk_public"
_ROLES = "_desk_roles"
_OWN_CSRF = "_desk_own_csrf"


def public(handler: Handler) -> Handler:
    """A handler anyone may reach (the login and invitation pages, static files)."""
    setattr(handler, _PUBLIC, True)
    return handler


def own_csrf(handler: Handler) -> Handler:
    """A public step that checks the token of its own half-done session (the second factor):
    the middleware still refuses cross-site requests."""
    setattr(handler, _OWN_CSRF, True)
    return handler


def roles(*allowed: Role) -> Callable[[Handler], Handler]:
    """A staff-only handler for these roles; others get the 403 page."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _ROLES, frozenset(allowed))
        return handler

    return mark


def client_address(request: web.Request) -> str:
    """The address the audit and the rate limits see: the peer, or behind a trusted reverse
    proxy (CITYBOT_TRUSTED_PROXIES) the nearest address in ``X-Forwarded-For`` that is not one
    of our proxies (the ones before it could be written by the client itself)."""
    peer = request.remote or "unknown"
    trusted = parts(request).trusted_proxies
    if peer not in trusted:
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted:
            return hop[:64]
    return peer


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path="/desk/",
        httponly=True,
        samesite="Strict",
        secure=parts(request).secure_cookies,
    )


def forget_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/desk/")


def _handler_mark(request: web.Request, name: str) -> Any:
    if name == _PUBLIC and isinstance(request.match_info.route.resource, web.StaticResource):
        return True  # the stylesheet and scripts: the login page needs them
    handler = request.match_info.handler
    return getattr(handler, name, None)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
        _add_headers(response)
        raise
    _add_headers(response)
    return response


def _add_headers(response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    content_type = response.headers.get("Content-Type", "")
    if "text/html" in content_type or "text/event-stream" in content_type:
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def language_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Ukrainian first; the English switch is a cookie (or the account's choice)."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    request[LANGUAGE] = chosen if chosen in LANGUAGES else "uk"
    return await handler(request)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    desk = parts(request)
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        async with desk.sessionmaker() as session, session.begin():
            found = await staff_auth.live_session(
                session, token, now=desk.clock(), idle=desk.idle, lifetime=desk.lifetime
            )
            if found is not None:
                stored, staff = found
                # Loaded now, while the session is open: pages read the departments.
                _ = staff.department_codes
                request[VISITOR] = Visitor(
                    staff=staff,
                    session_hash=stored.token_hash,
                    csrf=stored.csrf_token,
                    address=client_address(request),
                )
                if request.cookies.get(LANGUAGE_COOKIE) is None:
                    request[LANGUAGE] = staff.language
    if _handler_mark(request, _PUBLIC):
        return await handler(request)
    if found is None:
        return _signed_out(request, bool(token))
    allowed = _handler_mark(request, _ROLES)
    if allowed is not None and request[VISITOR].role not in allowed:
        raise web.HTTPForbidden(text="403: your role may not open this page")
    return await handler(request)


def _signed_out(request: web.Request, had_cookie: bool) -> web.StreamResponse:
    """No (live) session: a page goes to the login form, anything else is 401."""
    if request.method in SAFE_METHODS and "text/event-stream" not in request.headers.get(
        "Accept", ""
    ):
        response: web.StreamResponse = see_other(LOGIN_PATH)
    else:
        response = web.json_response({"error": "signed_out"}, status=401)
    if had_cookie:
        forget_cookie(response, SESSION_COOKIE)
    return response


def _cross_site(request: web.Request) -> bool:
    """Whether the browser says the request was made by another site's page."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin == "null"
    allowed = {f"{request.scheme}://{request.host}"}
    public_url = parts(request).public_url
    if public_url:
        # Behind the HTTPS proxy the browser's origin is the public one.
        address = urlsplit(public_url)
        allowed.add(f"{address.scheme}://{address.netloc}")
    return origin.rstrip("/") not in allowed


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS:
        return await handler(request)
    if _cross_site(request):
        log.warning(
            "desk: cross-site %s %s refused (%s, %s)",
            request.method,
            request.path,
            request.headers.get("Origin"),
            request.headers.get("Sec-Fetch-Site"),
        )
        raise web.HTTPForbidden(text="403: cross-site request refused")
    if _handler_mark(request, _OWN_CSRF):
        return await handler(request)
    visitor = request.get(VISITOR)
    expected = visitor.csrf if visitor is not None else request.cookies.get(LOGIN_COOKIE, "")
    given = request.headers.get("X-CSRF-Token", "")
    if not given and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        # Read by the handler later from the cached body (aiohttp keeps it).
        form = await form_of(request)
        field = form.get("csrf", "")
        given = field if isinstance(field, str) else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning("desk: %s %s without a valid CSRF token refused", request.method, request.path)
        raise web.HTTPForbidden(text="403: the form expired; reload the page and try again")
    return await handler(request)
