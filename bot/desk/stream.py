"""The desk's live routes: the event stream every open tab listens to (``GET /desk/events``),
the typing ping behind "Марія відповідає…", and the thread items a ticket page appends when a
message arrives (``GET /desk/tickets/{id}/thread?after=MESSAGE_ID``, ``<li>`` fragments)."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from sqlalchemy import select

from bot.desk.context import parts, render, visitor
from bot.desk.live import CLOSED, RELOAD, LiveEvent, LiveFeed
from bot.desk.security import HEADERS, roles
from handlers.staff.core import WORKERS
from storage.desk import live as changes
from storage.models import Staff, TicketMessage

LIVE = web.AppKey("desk_live", LiveFeed)
# A page pings at most this often per ticket and person; faster pings are not written.
PING_EVERY = 3.0
THREAD_ITEMS = 100


def routes() -> list[web.RouteDef]:
    return [
        web.get("/events", events),
        web.post("/tickets/{id:\\d+}/typing", typing),
        web.get("/tickets/{id:\\d+}/thread", thread),
    ]


def install(app: web.Application, feed: LiveFeed) -> None:
    """The feed on the desk's app; its streams end when the server shuts down."""
    app[LIVE] = feed

    async def close(_app: web.Application) -> None:
        await feed.close()

    app.on_shutdown.append(close)


def feed_of(request: web.Request) -> LiveFeed:
    return request.config_dict[LIVE]


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events until the tab closes, the session ends or the server stops."""
    found, desk, feed = visitor(request), parts(request), feed_of(request)
    response = web.StreamResponse(
        headers={
            **HEADERS,
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            # Behind nginx: pass each event on at once.
            "X-Accel-Buffering": "no",
        }
    )
    # Subscribed before the headers go: once a client sees them, nothing is missed.
    subscriber = await feed.subscribe(
        staff_id=found.staff.id,
        departments=found.departments,
        # The browser's own reconnection sends the header; live.js's after a refusal, ``last``.
        last_event_id=(request.headers.get("Last-Event-ID") or request.query.get("last", ""))[:64],
    )
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n\n")
        checked = time.monotonic()
        while True:
            wait = min(feed.keepalive, max(0.0, checked + feed.recheck - time.monotonic()))
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), timeout=wait)
            except TimeoutError:
                item = None
            if item == CLOSED:
                break
            if item == RELOAD:
                await response.write(b"event: reload\ndata: {}\n\n")
                break
            if isinstance(item, LiveEvent):
                await response.write(_frame(feed, item))
            elif item is None:
                await response.write(b": keep-alive\n\n")
            if time.monotonic() - checked >= feed.recheck:
                checked = time.monotonic()
                async with desk.sessionmaker() as session:
                    alive = await changes.session_alive(
                        session,
                        found.session_hash,
                        now=desk.clock(),
                        idle=desk.idle,
                        lifetime=desk.lifetime,
                    )
                if not alive:
                    await response.write(b"event: signed_out\ndata: {}\n\n")
                    break
    except (ConnectionResetError, ConnectionError):
        pass  # the tab went away
    finally:
        feed.unsubscribe(subscriber)
    return response


def _frame(feed: LiveFeed, event: LiveEvent) -> bytes:
    return (f"id: {feed.event_id(event)}\nevent: {event.name}\ndata: {event.data}\n\n").encode()


async def _ticket_in_reach(request: web.Request) -> int:
    """The ticket the path names, if the visitor's departments reach it (404 / 403 else)."""
    ticket_id = int(request.match_info["id"])
    async with parts(request).sessionmaker() as session:
        queue = await changes.ticket_queue(session, ticket_id)
    if queue is None:
        raise web.HTTPNotFound(text="404: no such ticket")
    allowed = visitor(request).departments
    if allowed is not None and queue not in allowed:
        raise web.HTTPForbidden(text="403: the ticket is another department's")
    return ticket_id


@roles(*WORKERS)
async def typing(request: web.Request) -> web.StreamResponse:
    """Someone types an answer to the ticket: the others on its page see it for 20 s."""
    ticket_id = await _ticket_in_reach(request)
    staff_id = visitor(request).staff.id
    if feed_of(request).ping_due(ticket_id, staff_id, every=PING_EVERY):
        desk = parts(request)
        async with desk.sessionmaker() as session, session.begin():
            await changes.ping_presence(
                session, ticket_id=ticket_id, staff_id=staff_id, now=desk.clock()
            )
    return web.Response(status=204)


async def thread(request: web.Request) -> web.StreamResponse:
    """The thread's messages after ``after`` (a message id) as ``<li>`` items, oldest first."""
    ticket_id = await _ticket_in_reach(request)
    after_text = request.query.get("after", "0")
    if not after_text.isdigit() or len(after_text) > 18:
        raise web.HTTPBadRequest(text="400: after must be a message id")
    query = (
        select(TicketMessage, Staff)
        .outerjoin(Staff, Staff.id == TicketMessage.author_id)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.id > int(after_text))
        .order_by(TicketMessage.id)
        .limit(THREAD_ITEMS)
    )
    async with parts(request).sessionmaker() as session:
        items = (await session.execute(query)).all()
    return render(request, "live_thread.html", {"items": items})
