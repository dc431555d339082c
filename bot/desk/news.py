"""News for editors (and administrators) in the browser: the list, the composer with the
preview as residents get it in Telegram and in Viber, the live count of recipients, sending now
or at a time, the two-person approval, live progress with Stop, the final report; RSS drafts to
publish or discard. Every change is an operation of the staff core (``NewsCore``), audited with
the account and the address; the page only reads and renders.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from multidict import MultiDict

from bot.desk import attachments, news_status
from bot.desk import broadcast_form as bf
from bot.desk.context import form_of, parts, render, see_other, translator, visitor
from bot.desk.security import roles, uploads
from handlers.staff.broadcasts.news import Content, NewsCore, Submission
from handlers.staff.core import Done, Reason, Refused
from messaging import labels
from messaging.i18n import N_
from messaging.rich import TEXT_MAX, Problem, news_markup
from storage.broadcasts import BroadcastKind, Progress, broadcast_progress
from storage.models import Broadcast
from storage.vocabulary import Role

EDITING: Final = (Role.EDITOR, Role.ADMIN)
# What a refusal of the core says on the page.
REFUSED: Final = {
    Reason.STATE: N_("desk.news.refused.state"),
    Reason.TWO_PERSON: N_("desk.news.refused.two_person"),
    Reason.TOO_LATE: N_("desk.news.refused.too_late"),
    Reason.NOT_FOUND: N_("desk.news.refused.not_found"),
    Reason.INVALID: N_("desk.news.refused.invalid"),
    Reason.ROLE: N_("desk.news.refused.role"),
}
PROBLEMS: Final = {
    "empty": N_("desk.news.text_empty"),
    "too_long": N_("desk.news.text_too_long"),
    "tag": N_("desk.news.text_tag"),
    "link": N_("desk.news.text_link"),
    "unclosed": N_("desk.news.text_unclosed"),
}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/news", news_status.news_list),
        web.get("/news/new", new_page),
        web.post("/news/new", create),
        web.get("/news/count", news_status.count),
        web.get(r"/news/{id:\d+}", item_page),
        web.post(r"/news/{id:\d+}", change),
        web.post(r"/news/{id:\d+}/send", send),
        web.post(r"/news/{id:\d+}/approve", approve),
        web.post(r"/news/{id:\d+}/reopen", reopen),
        web.post(r"/news/{id:\d+}/cancel", cancel),
        web.post(r"/news/{id:\d+}/stop", stop),
        web.get(r"/news/{id:\d+}/progress", news_status.progress),
    ]


def core(request: web.Request) -> NewsCore:
    desk = parts(request)
    return NewsCore(desk.core, two_person=desk.two_person, wake=desk.wake)


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _refusal(refused: Refused) -> str:
    return REFUSED.get(refused.reason, N_("desk.news.refused.other"))


def _page(
    request: web.Request,
    *,
    item: Broadcast | None,
    text: str,
    choice: Any,
    audience: int,
    error: str | None = None,
    detail: str = "",
    status: int = 200,
    form: Any = None,
    progress: Progress | None = None,
) -> web.Response:
    values = {
        "item": item,
        "text": text,
        "text_max": TEXT_MAX,
        "targets": bf.targeting(translator(request), choice),
        "audience": audience,
        "error": error,
        "detail": detail,
        "preview": bf.preview(item) if item is not None else None,
        "when_date": (form.get("when_date", "") if form is not None else "")[:10],
        "when_time": (form.get("when_time", "") if form is not None else "")[:5],
        "confirm_above": parts(request).confirm_above,
        "two_person": parts(request).two_person,
        "status_name": labels.NEWS_STATUS[item.status] if item is not None else None,
        "progress": progress,
        "is_author": item is not None and item.created_by == visitor(request).staff.id,
    }
    return render(request, "news_item.html", values, status=status)


@roles(*EDITING)
async def new_page(request: web.Request) -> web.StreamResponse:
    desk = parts(request)
    choice = bf.choice_of(MultiDict())
    async with desk.sessionmaker() as session:
        audience = await bf.count_for(session, choice)
    return _page(request, item=None, text="", choice=choice, audience=audience)


async def _text_of(request: web.Request, form: Any, item: Broadcast | None) -> str | web.Response:
    """The markup of the posted text, or the page again with what is wrong (nothing lost)."""
    raw = form.get("text", "")
    raw = raw if isinstance(raw, str) else ""
    markup = news_markup(raw)
    if isinstance(markup, Problem):
        choice = bf.choice_of(form)
        async with parts(request).sessionmaker() as session:
            audience = await bf.count_for(session, choice)
        return _page(
            request,
            item=item,
            text=raw[: TEXT_MAX * 4],
            choice=choice,
            audience=audience,
            error=PROBLEMS[markup.kind],
            detail=markup.detail or str(markup.size),
            status=400,
            form=form,
        )
    return markup


async def _media(
    request: web.Request, form: Any, item: Broadcast | None
) -> attachments.Media | web.Response | None:
    """The item's media after this form: a new upload, none (removed), or what it had."""
    field = attachments.uploaded(form)
    if field is None:
        if item is None or form.get("remove_media") == "1":
            return None
        if item.media_kind and item.media_ref:
            return item.media_kind, item.media_ref, item.media_name
        return None
    desk = parts(request)
    async with desk.sessionmaker() as session, session.begin():
        kept = await attachments.keep(
            session,
            field,
            links=desk.media,
            staff_id=visitor(request).staff.id,
            now=desk.clock(),
        )
    if isinstance(kept, attachments.Problem):
        raw = form.get("text", "")
        choice = bf.choice_of(form)
        async with desk.sessionmaker() as session:
            audience = await bf.count_for(session, choice)
        return _page(
            request,
            item=item,
            text=raw if isinstance(raw, str) else "",
            choice=choice,
            audience=audience,
            error=kept.key,
            status=400,
            form=form,
        )
    return kept


@roles(*EDITING)
@uploads(attachments.UPLOAD_MAX)
async def create(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    try:
        return await _create(request, form)
    finally:
        attachments.close_files(form)


async def _create(request: web.Request, form: Any) -> web.StreamResponse:
    markup = await _text_of(request, form, None)
    if isinstance(markup, web.Response):
        return markup
    media = await _media(request, form, None)
    if isinstance(media, web.Response):
        return media
    news = core(request)
    actor = visitor(request).actor
    content = Content(markup=markup, media=media)
    made = await news.compose(actor, content)
    if isinstance(made, Refused):
        raise web.HTTPForbidden(text="403: " + made.reason.value)
    edited = await news.edit(actor, made.value, content, bf.choice_of(form))
    if isinstance(edited, Refused):
        return await _item(request, made.value, error=_refusal(edited), status=400)
    return await _after_save(request, made.value, form)


async def _load(request: web.Request, broadcast_id: int) -> tuple[Broadcast, int] | None:
    async with parts(request).sessionmaker() as session:
        item = await session.get(Broadcast, broadcast_id)
        if item is None or item.kind != BroadcastKind.NEWS.value:
            return None
        audience = await bf.count_for(session, bf.choice_from(item))
        return item, audience


async def _progress(request: web.Request, item: Broadcast) -> Progress | None:
    if item.started_at is None:
        return None
    desk = parts(request)
    async with desk.sessionmaker() as session:
        return await broadcast_progress(session, broadcast_id=item.id, now=desk.clock())


async def _item(
    request: web.Request, broadcast_id: int, *, error: str | None = None, status: int = 200
) -> web.Response:
    found = await _load(request, broadcast_id)
    if found is None:
        raise web.HTTPNotFound(text="404: no such news item")
    item, audience = found
    return _page(
        request,
        item=item,
        text=item.text,
        choice=bf.choice_from(item),
        audience=audience,
        error=error,
        status=status,
        progress=await _progress(request, item),
    )


@roles(*EDITING)
async def item_page(request: web.Request) -> web.StreamResponse:
    return await _item(request, _id(request))


@roles(*EDITING)
@uploads(attachments.UPLOAD_MAX)
async def change(request: web.Request) -> web.StreamResponse:
    """Save the draft's text and targets; then send or schedule if that button was pressed."""
    form = await form_of(request)
    try:
        return await _change(request, form)
    finally:
        attachments.close_files(form)


async def _change(request: web.Request, form: Any) -> web.StreamResponse:
    broadcast_id = _id(request)
    found = await _load(request, broadcast_id)
    if found is None:
        raise web.HTTPNotFound(text="404: no such news item")
    markup = await _text_of(request, form, found[0])
    if isinstance(markup, web.Response):
        return markup
    media = await _media(request, form, found[0])
    if isinstance(media, web.Response):
        return media
    content = Content(markup=markup, media=media)
    edited = await core(request).edit(
        visitor(request).actor, broadcast_id, content, bf.choice_of(form)
    )
    if isinstance(edited, Refused):
        return await _item(request, broadcast_id, error=_refusal(edited), status=409)
    return await _after_save(request, broadcast_id, form)


async def _after_save(request: web.Request, broadcast_id: int, form: Any) -> web.StreamResponse:
    if form.get("action") in ("send", "schedule"):
        return await _send(request, broadcast_id, form)
    return see_other(f"/desk/news/{broadcast_id}")


@roles(*EDITING)
async def send(request: web.Request) -> web.StreamResponse:
    return await _send(request, _id(request), await form_of(request))


async def _send(request: web.Request, broadcast_id: int, form: Any) -> web.StreamResponse:
    """Send now or at the given time; above the threshold the editor confirms the count first
    (the confirmation carries the count it was given for: a different count asks again)."""
    desk = parts(request)
    found = await _load(request, broadcast_id)
    if found is None:
        raise web.HTTPNotFound(text="404: no such news item")
    _item_row, audience = found
    try:
        when = bf.when_of(form, now=desk.clock(), zone=desk.zone)
    except bf.TimeProblem as problem:
        return await _item(request, broadcast_id, error=problem.key, status=400)
    if form.get("action") == "schedule" and when is None:
        missing = N_("desk.broadcast.time_missing")
        return await _item(request, broadcast_id, error=missing, status=400)
    if audience == 0:
        return await _item(request, broadcast_id, error=N_("desk.broadcast.nobody"), status=400)
    if audience > desk.confirm_above and form.get("confirmed") != str(audience):
        return render(
            request,
            "broadcast_confirm.html",
            {
                "action": f"/desk/news/{broadcast_id}/send",
                "back": f"/desk/news/{broadcast_id}",
                "audience": audience,
                "when": when,
                "when_date": str(form.get("when_date", ""))[:10],
                "when_time": str(form.get("when_time", ""))[:5],
            },
        )
    done = await core(request).submit(visitor(request).actor, broadcast_id, when=when)
    if isinstance(done, Refused):
        return await _item(request, broadcast_id, error=_refusal(done), status=409)
    return see_other(f"/desk/news/{broadcast_id}")


async def _step(request: web.Request, outcome: Done[Any] | Refused) -> web.StreamResponse:
    broadcast_id = _id(request)
    if isinstance(outcome, Refused):
        return await _item(request, broadcast_id, error=_refusal(outcome), status=409)
    return see_other(f"/desk/news/{broadcast_id}")


@roles(*EDITING)
async def approve(request: web.Request) -> web.StreamResponse:
    outcome = await core(request).approve(visitor(request).actor, _id(request))
    if isinstance(outcome, Done):
        assert outcome.value.became in (Submission.SENDING, Submission.SCHEDULED)
    return await _step(request, outcome)


@roles(*EDITING)
async def reopen(request: web.Request) -> web.StreamResponse:
    news = core(request)

    async def step(call: Any, broadcast: Broadcast) -> Any:
        return news.ops.reopen(call, broadcast)

    return await _step(request, await news.on(visitor(request).actor, _id(request), step))


@roles(*EDITING)
async def cancel(request: web.Request) -> web.StreamResponse:
    return await _step(request, await core(request).cancel(visitor(request).actor, _id(request)))


@roles(*EDITING)
async def stop(request: web.Request) -> web.StreamResponse:
    return await _step(request, await core(request).stop(visitor(request).actor, _id(request)))
