"""What every desk handler reads: the parts built once (``DeskParts``) and who is asking
(``Visitor``), both kept on the aiohttp application and request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.staff.broadcasts.common import Wake, no_wake
from handlers.staff.consultations import ConsultationCore
from handlers.staff.core import Actor, Desk, StaffCore
from handlers.staff.incidents import IncidentCore
from handlers.staff.media import MediaLinks
from handlers.staff.tickets.context import TicketCore
from messaging.i18n import Catalog
from storage.models import Staff
from storage.vocabulary import Clock, Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Cookie names: the session, and the token a login form carries before there is a session.
SESSION_COOKIE = "citybot_desk"
LOGIN_COOKIE = "citybot_desk_login"
LANGUAGE_COOKIE = "citybot_desk_lang"


@dataclass(frozen=True, slots=True)
class DeskParts:
    """Built once by the composition root (``bot.parts``)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    zone: ZoneInfo
    core: StaffCore
    tickets: TicketCore
    # Cookies get ``Secure`` when the public address is https.
    secure_cookies: bool
    idle: timedelta
    lifetime: timedelta
    public_url: str | None = None
    # Reverse proxies whose X-Forwarded-For names the client (CITYBOT_TRUSTED_PROXIES).
    trusted_proxies: frozenset[str] = frozenset()
    # News and polls: the delivery engine's nudge (sending starts at once), the two-person rule,
    # and the count above which sending asks for a confirmation.
    wake: Wake = no_wake
    two_person: bool = False
    confirm_above: int = 1000
    # Signed links through which messengers (and the desk's file route) fetch files by URL (an
    # answer's or a news item's attachment); None without a public URL: files cannot be sent.
    media: MediaLinks | None = None
    # Whether Telegram files (a file_id) can be fetched through ``media`` (the bot is there).
    telegram_files: bool = False
    # The incident operations (issue 17); None: the incident pages answer 404.
    incidents: IncidentCore | None = None
    # The consultation operations (issue 18); None: the consultation pages answer 404.
    consultations: ConsultationCore | None = None


PARTS = web.AppKey("desk_parts", DeskParts)
TEMPLATES_KEY = web.AppKey("desk_templates", jinja2.Environment)
# What every page's template sees (``bot.desk.app.page_context``), set once the app is built.
PageContext = Callable[[web.Request], dict[str, Any]]
PAGE_CONTEXT: web.AppKey[PageContext] = web.AppKey("desk_page_context")


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in staff member, as the session middleware found them for this request."""

    staff: Staff
    session_hash: str
    csrf: str
    address: str

    @property
    def actor(self) -> Actor:
        return Actor.of(self.staff, desk=Desk.WEB, address=self.address)

    @property
    def role(self) -> Role:
        return Role(self.staff.role)

    @property
    def departments(self) -> frozenset[str] | None:
        """Whose tickets they see: None for every department (administrators)."""
        return None if self.role is Role.ADMIN else self.staff.department_codes


VISITOR = web.RequestKey("desk_visitor", Visitor)
LANGUAGE = web.RequestKey("desk_language", str)


def parts(request: web.Request) -> DeskParts:
    return request.config_dict[PARTS]


def visitor(request: web.Request) -> Visitor:
    """The signed-in staff member (the session middleware refused the request otherwise)."""
    return request[VISITOR]


def language(request: web.Request) -> str:
    return str(request.get(LANGUAGE, "uk"))


def translator(request: web.Request) -> Callable[..., markupsafe.Markup]:
    """``t("desk.key", **params)`` in the request's language. Catalog texts are a small HTML
    subset with their parameters escaped, so they are safe markup in a page."""
    catalog, lang = parts(request).catalog, language(request)

    def t(key: str, /, **params: Any) -> markupsafe.Markup:
        return markupsafe.Markup(catalog.text(lang, key, **params))

    return t


def see_other(location: str) -> web.Response:
    """A redirect after a form (POST → 303 → GET) that can still carry cookies (aiohttp wants
    an ``HTTPException`` raised, not returned)."""
    return web.Response(status=303, headers={"Location": location})


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A page: ``template`` with the request's common context and ``context``."""
    environment = request.config_dict[TEMPLATES_KEY]
    values = {**request.config_dict[PAGE_CONTEXT](request), **context}
    body = environment.get_template(template).render(values)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


async def form_of(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The posted form; a body that is not a form in UTF-8 is a 400, not a crash."""
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError) as error:
        raise web.HTTPBadRequest(text="400: the form could not be read") from error


def form_text(form: object, name: str, limit: int) -> str:
    """A text field of a posted form, cut at ``limit``; "" when absent or a file."""
    value = form.get(name, "") if hasattr(form, "get") else ""
    return value[:limit] if isinstance(value, str) else ""
