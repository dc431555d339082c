"""``GET /desk/tickets/{id}``: one ticket — its card, its resident, the whole thread, and the
forms of every chat-desk action (none for the read-only head of department). A ticket of a
department the viewer does not work in is a 404 page that shows nothing of it.

The actions are ``bot.desk.ticket_actions``; a refused one renders this page again with the
refusal and what was typed (``show``), a done one redirects here with ``?done=<action>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import markupsafe
from aiohttp import web

from bot.desk.context import parts, render, translator, visitor
from bot.desk.once import KEYS
from bot.desk.ticket_data import Page, load
from bot.desk.uploads import UPLOAD_MAX
from handlers.staff.core import WORKERS
from messaging import labels
from messaging.i18n import N_
from storage.deadlines import AppealTerm, TicketKind
from storage.models import Ticket

# The longest answer or note: what one Telegram message holds, with room for the header the
# resident's notice adds (the chat desk's limit).
TEXT_MAX: Final = 4000
REASON_MAX: Final = 1000

DONE: Final[Mapping[str, str]] = {
    "answer": N_("desk.done.answer"),
    "note": N_("desk.done.note"),
    "take": N_("desk.done.take"),
    "assign": N_("desk.done.assign"),
    "handover": N_("desk.done.handover"),
    "term": N_("desk.done.term"),
    "extend": N_("desk.done.extend"),
    "refuse": N_("desk.done.refuse"),
    "close": N_("desk.done.close"),
    "ban": N_("desk.done.ban"),
    "unban": N_("desk.done.unban"),
}

EVENTS: Final[Mapping[str, str]] = {
    "taken": N_("desk.event.taken"),
    "handed_over": N_("desk.event.handed_over"),
    "extended": N_("desk.event.extended"),
    "answered": N_("desk.event.answered"),
    "closed": N_("desk.event.closed"),
    "refused": N_("desk.event.refused"),
    "resolved": N_("desk.event.resolved"),
    "not_resolved": N_("desk.event.not_resolved"),
    "reopened": N_("desk.event.reopened"),
    "refiled": N_("desk.event.refiled"),
}


def deadline_rule(ticket: Ticket) -> str:
    """The catalog key naming the rule the deadline follows (``storage.deadlines``): the law
    and article for requests and appeals, the council's own target for the others."""
    if ticket.kind == TicketKind.INFO_REQUEST:
        if ticket.urgent:
            return N_("desk.rule.info_urgent")
        if ticket.extended_at is not None:
            return N_("desk.rule.info_extended")
        return N_("desk.rule.info")
    if ticket.kind == TicketKind.APPEAL:
        if ticket.extended_at is not None:
            return N_("desk.rule.appeal_extended")
        if ticket.appeal_term == AppealTerm.SIMPLE:
            return N_("desk.rule.appeal_simple")
        return N_("desk.rule.appeal_standard")
    if ticket.kind == TicketKind.LEGAL_AID:
        return N_("desk.rule.legal_aid")
    return N_("desk.rule.feedback")


def routes() -> list[web.RouteDef]:
    return [web.get("/tickets/{ticket_id:[0-9]{1,18}}", ticket_page)]


async def ticket_page(request: web.Request) -> web.StreamResponse:
    done = DONE.get(request.query.get("done", ""))
    return await show(request, done=done)


def not_found(request: web.Request) -> web.Response:
    return render(request, "ticket_missing.html", {}, status=404)


async def show(
    request: web.Request,
    *,
    done: str | None = None,
    refused: markupsafe.Markup | None = None,
    status: int = 200,
    typed: Mapping[str, str] | None = None,
) -> web.Response:
    """The page; ``typed``: what the refused form carried, put back into it."""
    desk, found = parts(request), visitor(request)
    ticket_id = int(request.match_info["ticket_id"])
    async with desk.sessionmaker() as session:
        page = await load(
            session, ticket_id, departments=found.departments, files_open=desk.telegram_files
        )
    if page is None:
        return not_found(request)
    t = translator(request)
    return render(
        request,
        "ticket.html",
        {
            "page": page,
            "form_base": f"/desk/tickets/{page.ticket.id}",
            "ticket": page.ticket,
            "acts": found.role in WORKERS,
            "rule": deadline_rule(page.ticket),
            "overdue": page.is_open
            and page.ticket.deadline_at is not None
            and page.ticket.deadline_at < desk.clock(),
            "done": t(done) if done else None,
            "refused": refused,
            "typed": typed or {},
            "once": KEYS.new,
            "lab": lambda table, code: _label(t, table, code),
            "labels": labels,
            "events": EVENTS,
            "text_max": TEXT_MAX,
            "reason_max": REASON_MAX,
            "upload_mb": UPLOAD_MAX // (1024 * 1024),
            "files_sendable": desk.media is not None,
        },
        status=status,
    )


def _label(t: Any, table: Mapping[str, str], code: str | None) -> str:
    if not code:
        return "—"
    key = table.get(code)
    return t(key) if key is not None else code


__all__ = ["Page", "show"]
