"""The audit log for administrators: who did what, when and from where, the newest first, with
filters (action prefix, actor, days) and keyset pages (``before`` an id: as fast on the
millionth record as on the first)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import Select, select

from bot.desk.context import parts, render
from bot.desk.security import roles
from storage.models import AuditEntry
from storage.vocabulary import Role

PAGE = 50
FILTER_MAX = 64


def routes() -> list[web.RouteDef]:
    return [web.get("/admin/audit", audit_page)]


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filters(request: web.Request) -> dict[str, str]:
    query = request.query
    return {
        name: query.get(name, "").strip()[:FILTER_MAX] for name in ("action", "actor", "from", "to")
    }


def _query(filters: dict[str, str], request: web.Request) -> Select[AuditEntry]:
    zone = parts(request).zone
    query = select(AuditEntry)
    if filters["action"]:
        query = query.where(AuditEntry.action.startswith(filters["action"], autoescape=True))
    if filters["actor"]:
        query = query.where(AuditEntry.actor == filters["actor"])
    first, last = _day(filters["from"]), _day(filters["to"])
    if first is not None:
        query = query.where(AuditEntry.at >= datetime.combine(first, time(), zone))
    if last is not None:
        query = query.where(
            AuditEntry.at < datetime.combine(last + timedelta(days=1), time(), zone)
        )
    return query


@roles(Role.ADMIN)
async def audit_page(request: web.Request) -> web.StreamResponse:
    filters = _filters(request)
    query = _query(filters, request)
    before = request.query.get("before", "")
    if before.isdecimal() and len(before) <= 19:
        query = query.where(AuditEntry.id < int(before))
    query = query.order_by(AuditEntry.id.desc()).limit(PAGE + 1)
    async with parts(request).sessionmaker() as session:
        entries = list((await session.scalars(query)).all())
    older = None
    kept = {name: value for name, value in filters.items() if value}
    if len(entries) > PAGE:
        entries = entries[:PAGE]
        older = "/desk/admin/audit?" + urlencode({**kept, "before": entries[-1].id})
    context: dict[str, Any] = {
        "entries": entries,
        "filters": filters,
        "older": older,
        "first_page": not before,
        "newest": "/desk/admin/audit?" + urlencode(kept),
        "details": _details,
    }
    return render(request, "admin_audit.html", context)


def _details(entry: AuditEntry) -> list[tuple[str, str]]:
    """An entry's details as ``key: value`` lines (lists joined by commas)."""
    shown: list[tuple[str, str]] = []
    for key, value in sorted((entry.details or {}).items()):
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        shown.append((str(key), "" if value is None else str(value)))
    return shown
