"""Polls for editors (and administrators) in the browser: compose (question, options, single or
multiple choice, closing time), target and count as for news, preview as residents get it in
Telegram and in Viber, send now or schedule, cancel, close early, stop; results with counts,
shares, the breakdowns by district and messenger and the chart (``broadcasts.polls.chart_png``,
served as PNG). Every change is an operation of the staff core (``PollCore``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Final

from aiohttp import web
from multidict import MultiDict
from sqlalchemy import select

from bot.desk import broadcast_form as bf
from bot.desk.context import form_of, parts, render, see_other, translator, visitor
from bot.desk.security import roles
from bot.telegram.staff.polls.text import parse_poll
from broadcasts.polls import chart_png
from handlers.polls import poll_buttons_json, poll_text
from handlers.staff.broadcasts.news import NewsCore
from handlers.staff.broadcasts.polls import DEFAULT_DAYS, PollCore
from handlers.staff.core import Reason, Refused
from messaging import labels
from messaging.i18n import N_
from storage import polls
from storage.broadcasts import broadcast_progress
from storage.models import Broadcast, Poll
from storage.vocabulary import Role

EDITING: Final = (Role.EDITOR, Role.ADMIN)
LISTED: Final = 50
REFUSED: Final = {
    Reason.STATE: N_("desk.news.refused.state"),
    Reason.NOT_FOUND: N_("desk.news.refused.not_found"),
    Reason.INVALID: N_("desk.polls.refused.invalid"),
    Reason.ROLE: N_("desk.news.refused.role"),
}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/polls", polls_list),
        web.get("/polls/new", new_page),
        web.post("/polls/new", create),
        web.get(r"/polls/{id:\d+}", poll_page),
        web.post(r"/polls/{id:\d+}/send", send),
        web.post(r"/polls/{id:\d+}/cancel", cancel),
        web.post(r"/polls/{id:\d+}/close", close),
        web.post(r"/polls/{id:\d+}/stop", stop),
        web.get(r"/polls/{id:\d+}/chart.png", chart),
    ]


def core(request: web.Request) -> PollCore:
    desk = parts(request)
    return PollCore(desk.core, catalog=desk.catalog, zone=desk.zone, wake=desk.wake)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _refusal(refused: Refused) -> str:
    return REFUSED.get(refused.reason, N_("desk.news.refused.other"))


@roles(*EDITING)
async def polls_list(request: web.Request) -> web.StreamResponse:
    async with parts(request).sessionmaker() as session:
        rows = (
            await session.execute(
                select(Poll, Broadcast)
                .join(Broadcast, Broadcast.id == Poll.broadcast_id)
                .order_by(Poll.id.desc())
                .limit(LISTED)
            )
        ).all()
    return render(
        request,
        "polls_list.html",
        {"rows": rows, "status_name": lambda status: labels.NEWS_STATUS.get(status, status)},
    )


def _form_page(
    request: web.Request, form: Any, *, error: str | None, audience: int, status: int
) -> web.Response:
    desk = parts(request)
    closes = desk.clock().astimezone(desk.zone) + timedelta(days=DEFAULT_DAYS)
    return render(
        request,
        "poll_new.html",
        {
            "error": error,
            "question": str(form.get("question", ""))[:2000],
            "options": str(form.get("options", ""))[:4000],
            "multiple": form.get("multiple") == "1",
            "closes_date": str(form.get("closes_date", "")) or closes.date().isoformat(),
            "closes_time": str(form.get("closes_time", "")) or closes.strftime("%H:%M"),
            "when_date": str(form.get("when_date", ""))[:10],
            "when_time": str(form.get("when_time", ""))[:5],
            "targets": bf.targeting(translator(request), bf.choice_of(form)),
            "audience": audience,
        },
        status=status,
    )


@roles(*EDITING)
async def new_page(request: web.Request) -> web.StreamResponse:
    async with parts(request).sessionmaker() as session:
        audience = await bf.count_for(session, bf.choice_of(MultiDict()))
    return _form_page(request, MultiDict(), error=None, audience=audience, status=200)


@roles(*EDITING)
async def create(request: web.Request) -> web.StreamResponse:
    desk = parts(request)
    form = await form_of(request)
    choice = bf.choice_of(form)

    async def again(error: str) -> web.Response:
        async with desk.sessionmaker() as session:
            audience = await bf.count_for(session, choice)
        return _form_page(request, form, error=error, audience=audience, status=400)

    question = str(form.get("question", "")).replace("\n", " ").strip()
    options = str(form.get("options", ""))
    draft = parse_poll(question + "\n" + options) if question else N_("poll.compose.empty")
    if isinstance(draft, str):
        return await again(draft)
    closes_form = MultiDict(
        when_date=str(form.get("closes_date", "")), when_time=str(form.get("closes_time", ""))
    )
    try:
        closes_at = bf.when_of(closes_form, now=desk.clock(), zone=desk.zone)
        when = bf.when_of(form, now=desk.clock(), zone=desk.zone)
    except bf.TimeProblem as problem:
        return await again(problem.key)
    if closes_at is None:
        # Left empty: the core's default, a week.
        closes_at = desk.clock() + timedelta(days=DEFAULT_DAYS)
    if when is not None and when >= closes_at:
        return await again(N_("desk.polls.closes_first"))
    actor = visitor(request).actor
    made = await core(request).compose(actor, question=draft.question, options=draft.options)
    if isinstance(made, Refused):
        raise web.HTTPForbidden(text="403: " + made.reason.value)
    configured = await core(request).configure(
        actor, made.value, choice=choice, multiple=form.get("multiple") == "1", closes_at=closes_at
    )
    if isinstance(configured, Refused):
        return await again(_refusal(configured))
    if form.get("action") in ("send", "schedule"):
        return await _send(request, made.value, form)
    return see_other(f"/desk/polls/{made.value}")


async def _load(request: web.Request, poll_id: int) -> tuple[Poll, Broadcast, int] | None:
    async with parts(request).sessionmaker() as session:
        poll = await polls.get_poll(session, poll_id=poll_id)
        if poll is None:
            return None
        broadcast = await polls.poll_broadcast(session, poll)
        audience = await bf.count_for(session, bf.choice_from(broadcast))
        return poll, broadcast, audience


async def _page(
    request: web.Request, poll_id: int, *, error: str | None = None, status: int = 200
) -> web.Response:
    desk = parts(request)
    found = await _load(request, poll_id)
    if found is None:
        raise web.HTTPNotFound(text="404: no such poll")
    poll, broadcast, audience = found
    shown = broadcast
    if broadcast.status == "draft":
        # What residents will get: the poll message and its buttons, as sending freezes them.
        shown = Broadcast(
            text=poll_text(desk.catalog, desk.catalog.default, poll, desk.zone),
            buttons=poll_buttons_json(poll),
        )
    async with desk.sessionmaker() as session:
        results = await polls.results(session, poll_id=poll.id)
        progress = (
            await broadcast_progress(session, broadcast_id=broadcast.id, now=desk.clock())
            if broadcast.started_at is not None
            else None
        )
    t = translator(request)
    return render(
        request,
        "poll_item.html",
        {
            "poll": poll,
            "broadcast": broadcast,
            "audience": audience,
            "targets": bf.targeting(t, bf.choice_from(broadcast)),
            "preview": bf.preview(shown),
            "results": results,
            "progress": progress,
            "error": error,
            "status_name": labels.NEWS_STATUS.get(broadcast.status, broadcast.status),
            "district_name": lambda code: (
                t(labels.DISTRICT[code]) if code in labels.DISTRICT else "—"
            ),
            "channel_name": lambda code: bf.CHANNEL_NAMES.get(code, code),
        },
        status=status,
    )


@roles(*EDITING)
async def poll_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, _id(request))


@roles(*EDITING)
async def send(request: web.Request) -> web.StreamResponse:
    return await _send(request, _id(request), await form_of(request))


async def _send(request: web.Request, poll_id: int, form: Any) -> web.StreamResponse:
    desk = parts(request)
    found = await _load(request, poll_id)
    if found is None:
        raise web.HTTPNotFound(text="404: no such poll")
    _poll, _broadcast, audience = found
    try:
        when = bf.when_of(form, now=desk.clock(), zone=desk.zone)
    except bf.TimeProblem as problem:
        return await _page(request, poll_id, error=problem.key, status=400)
    if form.get("action") == "schedule" and when is None:
        return await _page(request, poll_id, error=N_("desk.broadcast.time_missing"), status=400)
    if audience == 0:
        return await _page(request, poll_id, error=N_("desk.broadcast.nobody"), status=400)
    if audience > desk.confirm_above and form.get("confirmed") != str(audience):
        return render(
            request,
            "broadcast_confirm.html",
            {
                "action": f"/desk/polls/{poll_id}/send",
                "back": f"/desk/polls/{poll_id}",
                "audience": audience,
                "when": when,
                "when_date": str(form.get("when_date", ""))[:10],
                "when_time": str(form.get("when_time", ""))[:5],
            },
        )
    actor = visitor(request).actor
    if when is None:
        outcome: Any = await core(request).send(actor, poll_id)
    else:
        outcome = await core(request).schedule(actor, poll_id, when=when)
    if isinstance(outcome, Refused):
        return await _page(request, poll_id, error=_refusal(outcome), status=409)
    return see_other(f"/desk/polls/{poll_id}")


async def _step(request: web.Request, outcome: Any) -> web.StreamResponse:
    if isinstance(outcome, Refused):
        return await _page(request, _id(request), error=_refusal(outcome), status=409)
    return see_other(f"/desk/polls/{_id(request)}")


@roles(*EDITING)
async def cancel(request: web.Request) -> web.StreamResponse:
    return await _step(request, await core(request).cancel(visitor(request).actor, _id(request)))


@roles(*EDITING)
async def close(request: web.Request) -> web.StreamResponse:
    return await _step(request, await core(request).close(visitor(request).actor, _id(request)))


@roles(*EDITING)
async def stop(request: web.Request) -> web.StreamResponse:
    """Stop sending the poll (what is not sent yet is cancelled; the poll stays open): the
    news core's Stop serves polls' broadcasts too."""
    desk = parts(request)
    found = await _load(request, _id(request))
    if found is None:
        raise web.HTTPNotFound(text="404: no such poll")
    news = NewsCore(desk.core, two_person=desk.two_person, wake=desk.wake)
    outcome = await news.stop(visitor(request).actor, found[1].id)
    return await _step(request, outcome)


@roles(*EDITING)
async def chart(request: web.Request) -> web.StreamResponse:
    """The results chart (shares of voters per option) as a PNG."""
    desk = parts(request)
    async with desk.sessionmaker() as session:
        found = await polls.results(session, poll_id=_id(request))
    if found is None:
        raise web.HTTPNotFound(text="404: no such poll")
    png = await asyncio.to_thread(chart_png, desk.catalog, found)
    return web.Response(
        body=png,
        content_type="image/png",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
