"""The web desk's aiohttp sub-application, mounted at ``/desk/`` on the bot's one server."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from bot.desk import (
    account,
    admin_audit,
    admin_calendar,
    admin_departments,
    admin_staff,
    admin_templates,
    auth,
    consultation_form,
    consultations,
    dashboard,
    files,
    incident_actions,
    incidents,
    invite,
    media,
    news,
    organisations,
    polls,
    queue_link,
    queues,
    stream,
    ticket,
    ticket_actions,
    totp_setup,
)
from bot.desk.context import (
    PAGE_CONTEXT,
    PARTS,
    TEMPLATES_KEY,
    VISITOR,
    DeskParts,
    language,
    translator,
)
from bot.desk.live import LiveFeed
from bot.desk.searches import SEARCHES, SearchStore
from bot.desk.security import (
    csrf_middleware,
    headers_middleware,
    language_middleware,
    session_middleware,
)
from bot.desk.uploads import upload_size_middleware
from messaging import labels

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
MOUNT = "/desk/"

# Each screen's routes; a new screen adds its module here.
SCREENS: tuple[Callable[[], Iterable[web.RouteDef]], ...] = (
    auth.routes,
    queues.routes,
    dashboard.routes,
    invite.routes,
    totp_setup.routes,
    account.routes,
    admin_staff.routes,
    admin_audit.routes,
    admin_calendar.routes,
    admin_templates.routes,
    admin_departments.routes,
    stream.routes,
    news.routes,
    polls.routes,
    ticket.routes,
    ticket_actions.routes,
    incidents.routes,
    incident_actions.routes,
    queue_link.routes,
    media.routes,
    consultation_form.routes,
    consultations.routes,
    organisations.routes,
    files.routes,
)


def build_desk(desk_parts: DeskParts) -> web.Application:
    app = web.Application(
        middlewares=[
            upload_size_middleware,
            headers_middleware,
            language_middleware,
            session_middleware,
            csrf_middleware,
        ]
    )
    app[PARTS] = desk_parts
    app[TEMPLATES_KEY] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        enable_async=False,
    )
    app[PAGE_CONTEXT] = page_context
    app[SEARCHES] = SearchStore()
    stream.install(app, LiveFeed(desk_parts.sessionmaker, desk_parts.catalog))
    for screen in SCREENS:
        app.add_routes(list(screen()))
    app.router.add_static("/static/", STATIC, name="static", append_version=True)
    return app


def mount(parent: web.Application, desk_parts: DeskParts) -> None:
    parent.add_subapp(MOUNT, build_desk(desk_parts))


def page_context(request: web.Request) -> dict[str, Any]:
    """What every template sees."""
    found = request.get(VISITOR)
    t = translator(request)
    zone = request.config_dict[PARTS].zone
    return {
        "t": t,
        "lang": language(request),
        "path": request.path,
        "visitor": found,
        "csrf": found.csrf if found is not None else "",
        "static": lambda path: request.app.router["static"].url_for(filename=path),
        "request": request,
        "role_name": lambda role: t(labels.DESK_ROLE[role]),
        "local_time": lambda moment: _local(moment, zone),
        "status_name": lambda status: t(labels.STAFF_STATUS[status]),
    }


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment as the council's clock shows it (dd.mm.yyyy hh:mm); empty for none."""
    return "" if moment is None else moment.astimezone(zone).strftime("%d.%m.%Y %H:%M")
