"""What the news pages read without changing anything: the list (drafts, pending approval,
scheduled, sending with progress, sent recently, RSS drafts), the live progress of one item as
JSON, and the live count of recipients for the targets being ticked."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from sqlalchemy import select

from bot.desk import broadcast_form as bf
from bot.desk.context import parts, render
from bot.desk.security import roles
from messaging import labels
from storage import broadcast_lifecycle as lifecycle
from storage.broadcasts import BroadcastKind, broadcast_progress
from storage.models import Broadcast
from storage.vocabulary import Role

EDITING: Final = (Role.EDITOR, Role.ADMIN)
RECENT: Final = 20


def _id(request: web.Request) -> int:
    return int(request.match_info["id"])


@roles(*EDITING)
async def news_list(request: web.Request) -> web.StreamResponse:
    desk = parts(request)
    async with desk.sessionmaker() as session:
        news = Broadcast.kind == BroadcastKind.NEWS.value
        open_items = (
            await session.scalars(
                select(Broadcast)
                .where(news, Broadcast.status.in_(sorted(lifecycle.OPEN)))
                .order_by(Broadcast.id.desc())
                .limit(200)
            )
        ).all()
        sending = (
            await session.scalars(
                select(Broadcast)
                .where(news, Broadcast.status == lifecycle.SENDING)
                .order_by(Broadcast.id)
            )
        ).all()
        done = (
            await session.scalars(
                select(Broadcast)
                .where(news, Broadcast.status.in_(sorted(lifecycle.SETTLED)))
                .order_by(Broadcast.id.desc())
                .limit(RECENT)
            )
        ).all()
        progress = {
            item.id: await broadcast_progress(session, broadcast_id=item.id, now=desk.clock())
            for item in sending
        }
    groups = {
        status: [item for item in open_items if item.status == status and item.source != "rss"]
        for status in (lifecycle.DRAFT, lifecycle.PENDING, lifecycle.SCHEDULED)
    }
    rss = [item for item in open_items if item.source == "rss" and item.status == lifecycle.DRAFT]
    return render(
        request,
        "news_list.html",
        {
            "groups": groups,
            "rss": rss,
            "sending": sending,
            "progress": progress,
            "done": done,
            "status_name": lambda status: labels.NEWS_STATUS[status],
        },
    )


@roles(*EDITING)
async def progress(request: web.Request) -> web.StreamResponse:
    """The live counts of a news item being sent (the page's script asks every few seconds)."""
    desk = parts(request)
    async with desk.sessionmaker() as session:
        item = await session.get(Broadcast, _id(request))
        if item is None or item.kind != BroadcastKind.NEWS.value:
            return bf.json_error(404, "not_found")
        found = await broadcast_progress(session, broadcast_id=item.id, now=desk.clock())
    assert found is not None
    return web.json_response(
        {
            "status": item.status,
            "finished": item.finished_at is not None,
            "total": found.total,
            "sent": found.sent,
            "blocked": found.blocked,
            "failed": found.failed,
            "pending": found.pending,
            "cancelled": found.cancelled,
        },
        headers={"Cache-Control": "no-store"},
    )


@roles(*EDITING)
async def count(request: web.Request) -> web.StreamResponse:
    """How many residents the chosen targets reach now (the composer's live count)."""
    choice = bf.choice_of(request.query)
    async with parts(request).sessionmaker() as session:
        audience = await bf.count_for(session, choice)
    return web.json_response({"count": audience}, headers={"Cache-Control": "no-store"})
