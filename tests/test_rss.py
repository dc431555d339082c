"""RSS/Atom import: feeds served by a local aiohttp server (no internet), drafts posted to the
editors' chat with a Publish button, deduplication across fetches, auto-publish feeds, and
broken feeds; on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from broadcasts.rss import draft_text, parse, parse_feed_list, strip_html
from tests.conftest import free_port
from tests.media_world import serve_get
from tests.news_world import (
    EDITOR,
    add_people,
    jobs,
    label,
    news_items,
    news_world,
    preview_body,
    previews,
)
from tests.test_broadcast_helpers import Person, wait_done

pytestmark = pytest.mark.migrated_database

DATA = Path(__file__).parent / "data"
RESIDENT = Person("telegram", "6400001", "city", ("city_news",))


class FeedServer:
    """Serves whatever ``files`` maps a path to (bytes), or a status code."""

    def __init__(self) -> None:
        self.files: dict[str, bytes | int] = {}
        self.port = free_port()
        self.hits = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        body = self.files.get(request.match_info["name"], 404)
        if isinstance(body, int):
            return web.Response(status=body)
        return web.Response(body=body, content_type="application/rss+xml")


@contextlib.asynccontextmanager
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    async with serve_get(server.handle, server.port):
        yield server


def feed(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_parse_strips_html_and_orders_newest_first() -> None:
    items = parse(feed("news_feed.xml"))
    assert items is not None
    assert [item.link for item in items][:3] == [
        "https://kr.gov.ua/news/105",
        "https://kr.gov.ua/news/104",
        "https://kr.gov.ua/news/103",
    ]
    text = draft_text(items[0])
    assert text.startswith("<b>Сесія міської ради 27 листопада</b>\n\n")
    # HTML of the summary is gone; what remains is escaped for our markup.
    assert "Депутати розглянуть бюджет на 2027 рік &amp; програму благоустрою." in text
    assert "<p>" not in text and "script" not in text and "alert" not in text
    assert text.endswith("https://kr.gov.ua/news/105")
    assert strip_html("a<br>b &lt;c&gt;") == "a\nb <c>"


def test_malformed_feed_is_refused() -> None:
    assert parse(feed("malformed_feed.xml")) is None
    assert parse(b"<html><body>Not a feed</body></html>") is None


def test_feed_list_setting() -> None:
    feeds = parse_feed_list(["https://kr.gov.ua/rss", "auto:https://kr.gov.ua/urgent.rss"])
    assert [(f.url, f.auto) for f in feeds] == [
        ("https://kr.gov.ua/rss", False),
        ("https://kr.gov.ua/urgent.rss", True),
    ]


async def test_new_items_become_drafts_once_and_publish_needs_a_person(database_url: str) -> None:
    async with feed_server() as server, contextlib.AsyncExitStack() as stack:
        server.files["news.xml"] = feed("news_feed.xml")
        world = await stack.enter_async_context(
            news_world(database_url, rss_feeds=server.url("news.xml"))
        )
        await add_people(world, [RESIDENT])
        # First fetch: five items seen, drafts for the newest three only.
        created = await jobs(world).import_feeds()
        assert len(created) == 3
        items = await news_items(world)
        assert [i.source_ref for i in items] == [
            "https://kr.gov.ua/news/103",
            "https://kr.gov.ua/news/104",
            "https://kr.gov.ua/news/105",
        ]
        assert all(i.status == "draft" and i.source == "rss" for i in items)
        assert len(previews(world)) == 3
        # Fetching again creates nothing.
        assert await jobs(world).import_feeds() == []
        # The feed moves on (now Atom): only the two new entries become drafts.
        server.files["news.xml"] = feed("news_feed_next.atom")
        assert len(await jobs(world).import_feeds()) == 2
        items = await news_items(world)
        assert len(items) == 5 and items[-1].source_ref == "https://kr.gov.ua/news/107"
        # Nothing was sent by itself.
        assert all(i.status == "draft" for i in items)
        assert world.resident_texts(int(RESIDENT.external_id)) == []
        # An editor publishes one.
        newest = previews(world)[-1]
        pid = int(newest["message_id"])
        body = preview_body(world, pid)
        assert body["text"].startswith("Відключення води в Покровському районі")
        await world.press(EDITOR, pid, label(world, pid, "📨 Опублікувати"))
        await wait_done(world.runtime.sessionmaker, items[-1].id)
        [got] = world.resident_texts(int(RESIDENT.external_id))
        assert got.startswith("Відключення води в Покровському районі\n\n28 листопада")
        # And discards another.
        other = int(previews(world)[-2]["message_id"])
        await world.press(EDITOR, other, label(world, other, "🗑"))
        assert (await news_items(world))[-2].status == "cancelled"


async def test_auto_publish_feed(database_url: str) -> None:
    async with feed_server() as server, contextlib.AsyncExitStack() as stack:
        server.files["urgent.xml"] = feed("news_feed.xml")
        world = await stack.enter_async_context(
            news_world(database_url, rss_feeds="auto:" + server.url("urgent.xml"))
        )
        await add_people(world, [RESIDENT])
        # The first fetch never auto-publishes (the items may be days old): drafts only.
        assert len(await jobs(world).import_feeds()) == 3
        assert all(i.status == "draft" for i in await news_items(world))
        server.files["urgent.xml"] = feed("news_feed_next.atom")
        created = await jobs(world).import_feeds()
        assert len(created) == 2
        for broadcast_id in created:
            await wait_done(world.runtime.sessionmaker, broadcast_id)
        texts = world.resident_texts(int(RESIDENT.external_id))
        assert sorted(text.split("\n")[0] for text in texts) == [
            "Відключення води в Покровському районі",
            "Новорічна ялинка на площі Праці",
        ]
        assert len(await world.audit("news.auto_published")) == 2
        # Their progress is reported in the editors' chat.
        assert any(t.startswith("📨 Розсилка новини") for t in world.texts())


async def test_broken_feeds_are_logged_and_create_nothing(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with feed_server() as server, contextlib.AsyncExitStack() as stack:
        server.files["bad.xml"] = feed("malformed_feed.xml")
        server.files["gone.xml"] = 500
        feeds = ",".join(
            [server.url("bad.xml"), server.url("gone.xml"), "http://127.0.0.1:9/closed.xml"]
        )
        world = await stack.enter_async_context(news_world(database_url, rss_feeds=feeds))
        with caplog.at_level(logging.WARNING, logger="broadcasts.rss"):
            assert await jobs(world).import_feeds() == []
        assert await news_items(world) == []
        messages = " ".join(record.getMessage() for record in caplog.records)
        assert "malformed" in messages and "HTTP 500" in messages and "not fetched" in messages
        # Once the feed is repaired, its items are imported as on a first fetch.
        server.files["bad.xml"] = feed("news_feed.xml")
        assert len(await jobs(world).import_feeds()) == 3
