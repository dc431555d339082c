"""The Dashboard at ``/desk/dashboard``: per department the open work, how fast and how
punctually it was answered over 30 days, the ratings, and new tickets per day by category.

For heads of department (their departments) and administrators (all), as the issue says; an
operator or editor gets the 403 page (their work is the queue).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import markupsafe
from aiohttp import web

from bot.desk import chart
from bot.desk.context import language, parts, render, translator, visitor
from bot.desk.queues import department_names, visible_departments
from bot.desk.security import roles
from messaging import labels
from storage.calendar_store import load_calendar
from storage.desk.dashboard import DepartmentFigures, department_dashboard, new_tickets_per_day
from storage.vocabulary import Role

DAYS = 30

Translate = Callable[..., markupsafe.Markup]


def routes() -> list[web.RouteDef]:
    return [web.get("/dashboard", dashboard_page)]


@dataclass(frozen=True, slots=True)
class Figures:
    """A department's line, formatted for the page."""

    code: str
    name: str
    figures: DepartmentFigures
    first_answer: str
    close: str
    on_time: str
    rating: str


def _number(value: float, lang: str) -> str:
    text = f"{value:.1f}"
    return text.replace(".", ",") if lang == "uk" else text


def duration(t: Translate, seconds: float | None) -> str:
    """A median as people say it: minutes, hours and minutes, or days and hours."""
    if seconds is None:
        return str(t("desk.dashboard.none"))
    minutes = round(seconds / 60)
    if minutes < 60:
        return str(t("desk.duration.minutes", minutes=minutes))
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return str(t("desk.duration.hours", hours=hours, minutes=minutes))
    days, hours = divmod(hours, 24)
    return str(t("desk.duration.days", days=days, hours=hours))


def _format(t: Translate, lang: str, code: str, name: str, found: DepartmentFigures) -> Figures:
    share = found.on_time_share
    on_time = (
        str(t("desk.dashboard.none"))
        if share is None
        else str(
            t(
                "desk.dashboard.on_time_value",
                percent=round(share * 100),
                on_time=found.closed_on_time,
                total=found.closed_with_deadline,
            )
        )
    )
    rating = (
        str(t("desk.dashboard.none"))
        if found.rating_average is None
        else str(
            t(
                "desk.dashboard.rating_value",
                average=_number(found.rating_average, lang),
                count=found.rating_count,
            )
        )
    )
    return Figures(
        code=code,
        name=name,
        figures=found,
        first_answer=duration(t, found.median_first_answer),
        close=duration(t, found.median_close),
        on_time=on_time,
        rating=rating,
    )


@roles(Role.ADMIN, Role.HEAD)
async def dashboard_page(request: web.Request) -> web.StreamResponse:
    desk = parts(request)
    t, lang = translator(request), language(request)
    now = desk.clock()
    async with desk.sessionmaker() as session:
        names = await department_names(session)
        visible = visible_departments(request, names)
        calendar = await load_calendar(session)
        figures = await department_dashboard(
            session, departments=visible, now=now, calendar=calendar, zone=desk.zone
        )
        new = await new_tickets_per_day(
            session, departments=visible, now=now, zone=desk.zone, days=DAYS
        )
    drawn = chart.build(new)
    categories = {
        code: str(t(labels.STAFF_CATEGORY[code]))
        if code in labels.STAFF_CATEGORY
        else (code or str(t("desk.dashboard.no_category")))
        for code in new.counts
    }
    return render(
        request,
        "dashboard.html",
        {
            "lines": [
                _format(
                    t, lang, found.queue_code, names.get(found.queue_code, found.queue_code), found
                )
                for found in figures
            ],
            "chart": drawn,
            "counts": new.counts,
            "categories": categories,
            "days": DAYS,
            "all_departments": visitor(request).departments is None,
        },
    )
