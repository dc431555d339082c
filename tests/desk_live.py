"""Helpers of the live desk's tests: the desk's live feed of a running bot, and a reader of
server-sent events over a real socket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.desk.context import PARTS, DeskParts
from bot.desk.live import LiveFeed
from bot.desk.stream import LIVE
from tests.desk_world import Browser, DeskWorld


def desk_app(world: DeskWorld) -> web.Application:
    for resource in world.runtime.web_app.router.resources():
        app = getattr(resource, "_app", None)
        if isinstance(app, web.Application) and LIVE in app:
            return app
    raise LookupError("the desk is not mounted")


def live_feed(world: DeskWorld, *, interval: float = 0.1) -> LiveFeed:
    """The running desk's feed, polling faster than a second so the tests are quick."""
    feed = desk_app(world)[LIVE]
    feed.interval = interval
    return feed


def desk_parts(world: DeskWorld) -> DeskParts:
    return desk_app(world)[PARTS]


@dataclass
class Frame:
    event: str
    data: dict[str, Any]
    id: str


class Stream:
    """An open ``/desk/events`` response, read frame by frame."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments = 0

    async def next(self, wait: float = 10.0) -> Frame | None:
        """The next event; None when the stream ended."""
        return await asyncio.wait_for(self._next(), wait)

    async def _next(self) -> Frame | None:
        fields: dict[str, str] = {}
        while True:
            raw = await self.response.content.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                self.comments += 1
                continue
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "event" in fields:
                return Frame(
                    fields["event"], json.loads(fields.get("data", "{}")), fields.get("id", "")
                )
            fields = {}

    async def until(self, event: str, wait: float = 10.0, **match: Any) -> Frame:
        """Skip frames up to the first ``event`` whose data has ``match``."""

        async def find() -> Frame:
            while True:
                frame = await self._next()
                assert frame is not None, f"the stream ended before {event} {match}"
                if frame.event == event and all(frame.data.get(k) == v for k, v in match.items()):
                    return frame

        return await asyncio.wait_for(find(), wait)

    def close(self) -> None:
        self.response.close()


async def open_stream(browser: Browser, *, last_event_id: str | None = None) -> Stream:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = await browser.http.get(
        browser.base + "/desk/events", headers=headers, timeout=aiohttp.ClientTimeout(total=None)
    )
    assert response.status == 200, response.status
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return Stream(response)


async def subscribed(feed: LiveFeed, count: int) -> None:
    """Wait until ``count`` streams are subscribed (a stream subscribes after its headers)."""
    for _ in range(200):
        if feed.subscribers >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{feed.subscribers} subscribers, wanted {count}")
