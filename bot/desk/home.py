"""The desk's first page: the open tickets of the departments the staff member works in, the
nearest deadline first. (The full queue screen with filters and search replaces its list.)"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.desk.context import parts, render, visitor
from storage.models import Ticket
from storage.vocabulary import OPEN_STATUSES

SHOWN = 50


def routes() -> list[web.RouteDef]:
    return [web.get("/", home)]


async def home(request: web.Request) -> web.StreamResponse:
    desk, found = parts(request), visitor(request)
    query = select(Ticket).where(Ticket.status.in_(OPEN_STATUSES))
    if found.departments is not None:
        query = query.where(Ticket.queue_code.in_(found.departments))
    query = query.order_by(Ticket.deadline_at.is_(None), Ticket.deadline_at, Ticket.id).limit(SHOWN)
    async with desk.sessionmaker() as session:
        tickets = (await session.scalars(query)).all()
    return render(request, "home.html", {"tickets": tickets, "shown": SHOWN})
