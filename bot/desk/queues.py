"""The Queues screen at ``/desk/``: the tickets of the departments the staff member works in
(administrators: all), with each department's counts, filters, search and keyset pages.

A head of department (read-only role) sees the list as an operator does; workers also get a
checkbox per row to link the ticked tickets to an open incident (``bot.desk.queue_link``). What
a visitor sees is bounded by their departments, checked here (the data layer takes the
department codes to read).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import markupsafe
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk import queue_form, queue_picks
from bot.desk.context import form_of, parts, render, see_other, translator, visitor
from bot.desk.once import KEYS
from bot.desk.queue_form import BadFilter
from bot.desk.searches import MAX_QUERY, SEARCHES
from messaging import labels
from storage.calendar_store import load_calendar
from storage.desk.queue import (
    BadCursor,
    QueueCounts,
    QueueRow,
    due_soon_until,
    list_queue,
    queue_counts,
    queue_row,
)
from storage.desk.search import MIN_QUERY
from storage.models import Department, Staff, StaffDepartment
from storage.stats import OPEN
from storage.textfold import fold

# A cursor is a few dozen characters; anything much longer is not ours.
MAX_CURSOR = 200


def routes() -> list[web.RouteDef]:
    return [
        web.get("/", queues_page),
        web.post("/search", search),
        web.get("/tickets/{id:\\d+}/row", row),
    ]


@dataclass(frozen=True, slots=True)
class Line:
    """A row of the list as the page shows it (labels already in the visitor's language)."""

    id: int
    number: str
    kind: str
    status: str
    category: str
    resident: str
    snippet: str
    channel: str
    district: str
    assignee: str
    deadline: datetime | None
    overdue: bool
    due_soon: bool
    urgent: bool
    # The incident (id, title) the ticket is linked to, if any.
    incident: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class DepartmentLine:
    code: str
    name: str
    counts: QueueCounts


async def department_names(session: AsyncSession) -> dict[str, str]:
    result = await session.execute(select(Department.code, Department.name))
    return {code: name for code, name in result}


def visible_departments(request: web.Request, names: dict[str, str]) -> list[str]:
    """The departments the visitor works in (administrators: every one), in code order."""
    mine = visitor(request).departments
    return sorted(names) if mine is None else sorted(mine)


async def _staff_names(session: AsyncSession, departments: list[str]) -> dict[int, str]:
    """Who can be picked as an assignee: the staff of these departments."""
    query = (
        select(Staff)
        .join(StaffDepartment, StaffDepartment.staff_id == Staff.id)
        .where(StaffDepartment.queue_code.in_(departments), Staff.disabled_at.is_(None))
        .distinct()
    )
    return {staff.id: staff.display_name for staff in (await session.scalars(query)).all()}


async def _assignee_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = await session.scalars(select(Staff).where(Staff.id.in_(sorted(ids))))
    return {staff.id: staff.display_name for staff in found.all()}


def problem(request: web.Request, message: str, *, status: int = 400) -> web.Response:
    """A clear page for an address the desk cannot read (a bad cursor or filter)."""
    return render(request, "queue_problem.html", {"message": message}, status=status)


async def queues_page(request: web.Request) -> web.StreamResponse:
    return await show(request, request.query)


async def show(
    request: web.Request,
    query: Mapping[str, str],
    *,
    refused: markupsafe.Markup | None = None,
    selected: Collection[int] = (),
    status: int = 200,
) -> web.Response:
    """The Queues page for the address ``query`` (filters, search key, page cursor, a bulk
    link's notice); ``refused`` and ``selected``: a refused bulk link, its rows kept ticked."""
    desk, found = parts(request), visitor(request)
    t = translator(request)
    now = desk.clock()
    cursor = query.get("page") or None
    if cursor is not None and len(cursor) > MAX_CURSOR:
        return problem(request, t("desk.queue.bad_cursor"))
    key = query.get("q") or None
    search = request.config_dict[SEARCHES].get(found.session_hash, key, now=now) if key else None
    incidents = await queue_picks.open_incidents(request)
    async with desk.sessionmaker() as session:
        names = await department_names(session)
        visible = visible_departments(request, names)
        try:
            chosen = queue_form.parse(query, departments=visible)
        except BadFilter:
            return problem(request, t("desk.queue.bad_filter"))
        notice = None if refused is not None else await queue_picks.notice_of(session, query)
        calendar = await load_calendar(session)
        counts = await queue_counts(
            session, departments=visible, now=now, calendar=calendar, zone=desk.zone
        )
        wanted = queue_form.filters(chosen, me=found.staff.id, search=search)
        try:
            page = await list_queue(
                session,
                departments=[chosen.department] if chosen.department else visible,
                filters=wanted,
                now=now,
                calendar=calendar,
                zone=desk.zone,
                page=cursor,
            )
        except BadCursor:
            return problem(request, t("desk.queue.bad_cursor"))
        assignees = await _assignee_names(
            session, {row.assignee_id for row in page.rows if row.assignee_id is not None}
        )
        staff = await _staff_names(session, visible)
        linked = await queue_picks.incidents_of(session, [row.id for row in page.rows])
    # The visitor is "Мої" in the list, not a second time by name.
    staff.pop(found.staff.id, None)
    soon = due_soon_until(now, calendar, desk.zone)
    lines = [_line(t, row, assignees, soon, linked.get(row.id)) for row in page.rows]
    departments = [DepartmentLine(code, names.get(code, code), counts[code]) for code in visible]
    short = search is not None and len(fold(search)) < MIN_QUERY
    return render(
        request,
        "queues.html",
        {
            "departments": departments,
            "lines": lines,
            "chosen": chosen,
            "search": search or "",
            "search_key": key if search is not None else None,
            "search_expired": key is not None and search is None,
            "search_short": short,
            "max_query": MAX_QUERY,
            "next_link": page.next and chosen.link(q=key if search else None, page=page.next),
            "previous_link": page.previous
            and chosen.link(q=key if search else None, page=page.previous),
            "options": _options(request, names, visible, staff),
            # New tickets are placed by the live page only in the plain first page.
            "live_rows": cursor is None and not chosen.narrowed() and search is None,
            # Linking to an incident in bulk (workers, while an incident is open).
            "picks": bool(incidents),
            "open_incidents": incidents or [],
            "cursor": cursor or "",
            "once": KEYS.new,
            "notice": notice,
            "refused": refused,
            "selected": frozenset(selected),
        },
        status=status,
    )


async def row(request: web.Request) -> web.StreamResponse:
    """One open ticket's row of the queue list (the live page inserts it); 404 for a ticket
    that is closed or of a department the staff member does not work in."""
    desk = parts(request)
    now = desk.clock()
    async with desk.sessionmaker() as session:
        visible = visible_departments(request, await department_names(session))
        ticket_id = int(request.match_info["id"])
        found = await queue_row(session, departments=visible, ticket_id=ticket_id, now=now)
        if found is None or found.status not in OPEN:
            raise web.HTTPNotFound(text="404: no such open ticket in your departments")
        calendar = await load_calendar(session)
        wanted = {found.assignee_id} if found.assignee_id is not None else set()
        assignees = await _assignee_names(session, wanted)
        linked = await queue_picks.incidents_of(session, [ticket_id])
    soon = due_soon_until(now, calendar, desk.zone)
    line = _line(translator(request), found, assignees, soon, linked.get(ticket_id))
    picks = bool(await queue_picks.open_incidents(request))
    return render(request, "queue_row.html", {"line": line, "picks": picks})


def _options(
    request: web.Request, names: dict[str, str], visible: list[str], staff: dict[int, str]
) -> dict[str, list[tuple[str, str]]]:
    t = translator(request)
    found = {name: queue_form.options(t, table) for name, table in queue_form.VOCABULARIES.items()}
    found["department"] = [(code, names.get(code, code)) for code in visible]
    found["assignee"] = sorted(((str(i), name) for i, name in staff.items()), key=lambda o: o[1])
    return found


Translate = Callable[..., markupsafe.Markup]


def _label(t: Translate, table: Mapping[str, str], code: str | None) -> str:
    if not code:
        return ""
    key = table.get(code)
    return code if key is None else str(t(key))


def _line(
    t: Translate,
    row: QueueRow,
    assignees: dict[int, str],
    soon: datetime,
    incident: tuple[int, str] | None = None,
) -> Line:
    deadline = row.deadline_at
    due_soon = not row.overdue and row.status in OPEN and deadline is not None and deadline <= soon
    return Line(
        id=row.id,
        number=row.number,
        kind=_label(t, labels.STAFF_KIND, row.kind),
        status=_label(t, labels.STAFF_STATUS, row.status),
        category=_label(t, labels.STAFF_CATEGORY, row.category),
        resident=row.resident_name or "",
        snippet=row.snippet or "",
        channel=_label(t, labels.STAFF_CHANNEL, row.channel),
        district=_label(t, labels.DISTRICT, row.district),
        assignee=assignees.get(row.assignee_id, "") if row.assignee_id is not None else "",
        deadline=deadline,
        overdue=row.overdue,
        due_soon=due_soon,
        urgent=row.urgent,
        incident=incident,
    )


async def search(request: web.Request) -> web.StreamResponse:
    """The search box posts here: the typed text is kept on the server and the page redirects
    to the queue with its opaque key (``bot.desk.searches``); the filters travel along."""
    desk, found = parts(request), visitor(request)
    form = await form_of(request)
    typed = form.get("q", "")
    query = " ".join(typed.split())[:MAX_QUERY] if isinstance(typed, str) else ""
    async with desk.sessionmaker() as session:
        visible = visible_departments(request, await department_names(session))
    chosen = queue_form.posted(form, departments=visible)
    if not query:
        return see_other(chosen.link())
    key = request.config_dict[SEARCHES].put(found.session_hash, query, now=desk.clock())
    return see_other(chosen.link(q=key))
