"""Which requests the sandbox page's routes answer: same site and (on loopback) this machine's
host names only, since the page has no login."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.config import is_local_host
from bot.sandbox.page_input import error_response

# The page's own paths; the bot's webhooks and /healthz on the same server are left alone.
PAGE_PATHS = ("/api/", "/static/", "/sandbox/")


def same_site_only(*, loopback_only: bool) -> Middleware:
    """Refuse the page's routes to other web sites and to other host names.

    The page has no login. A web page elsewhere could otherwise drive it from the visitor's
    browser (a cross-site POST carries an ``Origin`` of another site), or read it through DNS
    rebinding (a ``Host`` that is not this machine's, when the sandbox listens on loopback)."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/" or request.path.startswith(PAGE_PATHS):
            origin = request.headers.get("Origin")
            if origin and urlsplit(origin).netloc != request.host:
                return error_response(request, "sandbox.error.cross_site", 403)
            hostname = urlsplit(f"//{request.host}").hostname or ""
            if loopback_only and not is_local_host(hostname):
                return error_response(request, "sandbox.error.unknown_host", 403)
        return await handler(request)

    return check
