"""A local stand-in for the outlets (aiohttp on 127.0.0.1): realistic Ukrainian RSS and Atom
feeds from ``tests/data``, with ETag and conditional GET as real sites do, a feed that answers
too slowly, a huge feed streamed in chunks, and whatever a test puts in ``files`` (broken XML,
an error status)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from storage import media_store
from tests.conftest import free_port

DATA = Path(__file__).parent / "data"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The huge feed: this many bytes in all, its first items about the council.
# (more than any socket buffer holds, so a reader that stops early is seen to).
HUGE_BYTES = 32 * 1024 * 1024


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def huge_feed_chunks() -> Iterator[bytes]:
    """An RSS feed of HUGE_BYTES, made as it is sent: a council item first, then weather."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Стрічка всього</title><link>https://huge.example.ua/</link>"
        "<item><title>Виконком затвердив графік прийому громадян</title>"
        "<link>https://huge.example.ua/vykonkom-pryiom</link>"
        "<pubDate>Sat, 05 Dec 2026 09:00:00 +0200</pubDate>"
        "<description>Прийом вестимуть заступники міського голови.</description></item>"
    ).encode()
    yield head
    size, number = len(head), 0
    while size < HUGE_BYTES:
        number += 1
        item = (
            f"<item><title>Погода на день {number}</title>"
            f"<link>https://huge.example.ua/pogoda/{number}</link>"
            f"<description>{'Хмарно, без опадів. ' * 40}</description></item>"
        ).encode()
        yield item
        size += len(item)
    yield b"</channel></rss>"


class MediaServer:
    """``files``: path → bytes (served with an ETag) or a status code."""

    def __init__(self) -> None:
        self.files: dict[str, bytes | int] = {}
        self.port = free_port()
        self.hits: dict[str, int] = {}
        self.not_modified = 0
        self.slow_seconds = 5.0
        self.huge_sent = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        if name == "slow.xml":
            await asyncio.sleep(self.slow_seconds)
            return web.Response(body=data("media_first_city.xml"))
        if name == "huge.xml":
            return await self.huge(request)
        body = self.files.get(name, 404)
        if isinstance(body, int):
            return web.Response(status=body)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    async def huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        try:
            for chunk in huge_feed_chunks():
                await response.write(chunk)
                self.huge_sent += len(chunk)
        except (ConnectionError, RuntimeError):
            return response  # the reader stopped at its cap and closed the connection
        return response


@contextlib.asynccontextmanager
async def serve_get(handle: Handler, port: int) -> AsyncIterator[None]:
    """``GET /{name}`` answered by ``handle`` on 127.0.0.1:``port`` while the block runs."""
    app = web.Application()
    app.router.add_get("/{name}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def media_server() -> AsyncIterator[MediaServer]:
    server = MediaServer()
    server.files["first.xml"] = data("media_first_city.xml")
    server.files["second.atom"] = data("media_second_city.atom")
    async with serve_get(server.handle, server.port):
        yield server


async def seed_item(
    session: AsyncSession,
    *,
    at: datetime,
    url: str = "https://1city.example.ua/a",
    title: str = "Сесія міської ради",
    topic: str = "council_work",
    tone: str = "neutral",
) -> int:
    """A kept item in a story of its own, as the monitor stores one."""
    story = await media_store.new_story(session, title=title, at=at)
    item_id = await media_store.store_item(
        session,
        item=media_store.NewItem(
            url=url,
            title=title,
            summary="",
            published_at=at,
            at=at,
            topic=topic,
            tone=tone,
            terms=("council:міська рада",),
        ),
        feed_id=None,
        story_id=story,
        now=at,
    )
    assert item_id is not None
    return item_id
