"""Administrators' working-day calendar: the holiday list of a year (add, remove) and the
martial-law switch. Each change moves open tickets' deadlines (``handlers.staff.calendar``)
and the page says how many moved."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from bot.desk.context import form_of, parts, render, see_other, visitor
from bot.desk.security import roles
from handlers.staff import calendar
from handlers.staff.calendar import HOLIDAY_NAME_MAX, Moved
from handlers.staff.core import Outcome, Reason, Refused
from messaging.i18n import N_
from storage.calendar_store import list_holidays, load_calendar
from storage.vocabulary import Role

BASE = "/desk/admin/calendar"
ADMIN_ONLY = roles(Role.ADMIN)
YEARS = range(2000, 2101)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin/calendar", calendar_page),
        web.post("/admin/calendar/holidays", add_holiday),
        web.post("/admin/calendar/holidays/remove", remove_holiday),
        web.post("/admin/calendar/martial-law", switch_martial_law),
    ]


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _day(raw: str) -> date | None:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if day.year in YEARS else None


def _year(request: web.Request) -> int:
    raw = request.query.get("year", "")
    this_year = parts(request).clock().astimezone(parts(request).zone).year
    return int(raw) if raw.isdecimal() and len(raw) == 4 and int(raw) in YEARS else this_year


async def _page(
    request: web.Request, *, error: str | None = None, status: int = 200, year: int | None = None
) -> web.Response:
    shown = year or _year(request)
    async with parts(request).sessionmaker() as session:
        holidays = list(await list_holidays(session, year=shown))
        works = await load_calendar(session)
    moved = request.query.get("moved", "")
    context = {
        "year": shown,
        "holidays": holidays,
        "martial_law": works.martial_law,
        "error": error,
        "moved": int(moved) if moved.isdecimal() and len(moved) < 9 else None,
        "name_max": HOLIDAY_NAME_MAX,
    }
    return render(request, "admin_calendar.html", context, status=status)


@ADMIN_ONLY
async def calendar_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _after(request: web.Request, outcome: Outcome[Moved], year: int) -> web.StreamResponse:
    if isinstance(outcome, Refused):
        error = (
            N_("desk.calendar.not_listed")
            if outcome.reason is Reason.NOT_FOUND
            else N_("desk.calendar.bad_name")
        )
        return await _page(request, error=error, status=400, year=year)
    return see_other(f"{BASE}?year={year}&moved={outcome.value.deadlines}")


@ADMIN_ONLY
async def add_holiday(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    day = _day(_text(form, "day", 16))
    if day is None:
        return await _page(request, error=N_("desk.calendar.bad_day"), status=400)
    name = _text(form, "name", HOLIDAY_NAME_MAX + 1)
    outcome = await calendar.add(parts(request).tickets, visitor(request).actor, day, name)
    return await _after(request, outcome, day.year)


@ADMIN_ONLY
async def remove_holiday(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    day = _day(_text(form, "day", 16))
    if day is None:
        return await _page(request, error=N_("desk.calendar.bad_day"), status=400)
    outcome = await calendar.remove(parts(request).tickets, visitor(request).actor, day)
    return await _after(request, outcome, day.year)


@ADMIN_ONLY
async def switch_martial_law(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    state = _text(form, "state", 4)
    if state not in ("on", "off"):
        return await _page(request, error=N_("desk.calendar.bad_state"), status=400)
    outcome = await calendar.martial_law(
        parts(request).tickets, visitor(request).actor, on=state == "on"
    )
    return await _after(request, outcome, _year(request))
