"""Media monitoring in the web desk (issue 18): the officials' digest as a page — mentions of
the last seven days by tone and by topic against the week before, residents' tickets of the
same topics beside them, the top stories with their outlets' links, the tone per week as a
table — and the items kept lately, each with a form to correct its topic and tone (the staff
core's ``handlers.staff.press.correct_item``, audited; every role but the head of department).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from aiohttp import web

from bot.desk.context import form_of, parts, render, see_other, translator, visitor
from bot.desk.refusals import explain, status_of
from bot.desk.security import roles
from broadcasts.media_digest import collect, safe_link
from broadcasts.summary import change_text
from handlers.staff.core import EVERY_ROLE, WORKERS, Refused
from handlers.staff.press import correct_item
from messaging import labels
from storage import media_store
from storage.classifier import CATEGORIES
from storage.media_text import TONES
from storage.stats import PeriodRow

ITEMS: Final = 30


def routes() -> list[web.RouteDef]:
    return [web.get("/media", media_page), web.post(r"/media/{id:\d{1,18}}", correct)]


async def _page(request: web.Request, *, refused: Refused | None = None) -> web.Response:
    t = translator(request)
    now = parts(request).clock()
    async with parts(request).sessionmaker() as session:
        digest = await collect(session, end=now)
        items = await media_store.recent_items(session, since=now - timedelta(days=7), limit=ITEMS)
    tickets = {row.key: row for row in digest.tickets}
    media = {row.key: row for row in digest.by_topic}
    tones = {row.key: row for row in digest.by_tone}
    empty = PeriodRow("", 0, 0)
    context: dict[str, Any] = {
        "digest": digest,
        "topics": [
            (code, media.get(code, empty), tickets.get(code, empty))
            for code in CATEGORIES
            if code in media or code in tickets
        ],
        "tones": [(code, tones.get(code, empty)) for code in TONES],
        "items": items,
        "categories": CATEGORIES,
        "tone_codes": TONES,
        "change": change_text,
        "href": safe_link,
        "topic_name": lambda code: t(labels.STAFF_CATEGORY.get(code, "staff.category.other")),
        "tone_name": lambda code: t(labels.MEDIA_TONE.get(code, "media.tone.neutral")),
        "may_correct": visitor(request).role in WORKERS,
        "done": request.query.get("done") == "1",
        "refused": explain(t, refused) if refused is not None else None,
    }
    return render(request, "media.html", context, status=status_of(refused) if refused else 200)


@roles(*EVERY_ROLE)
async def media_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@roles(*WORKERS)
async def correct(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    topic, tone = form.get("topic"), form.get("tone")
    done = await correct_item(
        parts(request).core,
        visitor(request).actor,
        int(request.match_info["id"]),
        topic=topic if isinstance(topic, str) and topic else None,
        tone=tone if isinstance(tone, str) and tone else None,
    )
    if isinstance(done, Refused):
        return await _page(request, refused=done)
    return see_other(f"/desk/media?done=1#item-{done.value.id}")
