"""Media monitoring end to end against a local feed server (``tests.media_world``), on SQLite
and PostgreSQL: fetch (RSS and Atom, broken XML, a duplicate across feeds, a huge feed, a slow
answer, conditional GET) → match (watch terms in their word forms, an open incident) → group
(one story from two outlets) → tag (topic and tone) → the officials' digest posted through the
fake Bot API beside residents' tickets, with its chart."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.stats import TelegramFiles
from broadcasts.media_digest import MediaDigestJob
from broadcasts.media_monitor import CUT, FAILING, NOT_MODIFIED, OK, MediaMonitor
from messaging.i18n import Catalog
from storage import media_store
from storage.incidents import create_incident
from storage.models import MediaFeed, MediaItem, MediaStory
from tests.media_world import HUGE_BYTES, MediaServer, media_server
from tests.staff_world import World, staff_world
from tests.stats_seed import Seed

pytestmark = pytest.mark.migrated_database

OFFICIALS = -1001700000002
# The feeds' items are of 4-5 December 2026; the digest is the morning after.
MORNING = datetime(2026, 12, 6, 6, 15, tzinfo=UTC)
CAP = 64 * 1024

BROKEN = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"


async def _feeds(world: World, server: MediaServer) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with world.runtime.sessionmaker() as session, session.begin():
        for name in ("first.xml", "second.atom", "broken.xml", "slow.xml", "huge.xml"):
            feed, _ = await media_store.add_feed(
                session, url=server.url(name), name=name.split(".")[0], now=world.clock()
            )
            ids[name] = feed.id
        create_incident(
            session,
            title="Прорив водогону на вулиці Тбіліській",
            category="housing",
            districts=["tsentralno_miskyi"],
            description="Немає води в будинках на Тбіліській",
            expected_at=None,
            now=world.clock(),
            created_by=None,
        )
    return ids


def _monitor(world: World) -> MediaMonitor:
    return MediaMonitor(
        sessionmaker=world.runtime.sessionmaker,
        catalog=world.runtime.catalog,
        clock=world.clock,
        max_bytes=CAP,
        timeout_seconds=1.0,
    )


def _digest_job(world: World) -> MediaDigestJob:
    """The digest posted to the officials' group through the fake Bot API."""
    world.telegram.add_group(OFFICIALS, "Посадовці", members=())
    assert world.runtime.telegram is not None
    return MediaDigestJob(
        sessionmaker=world.runtime.sessionmaker,
        poster=TelegramFiles(world.runtime.telegram.bot),
        catalog=world.runtime.catalog,
        zone=world.runtime.settings.zone,
        chat_id=OFFICIALS,
    )


async def _items(world: World) -> list[MediaItem]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(MediaItem).order_by(MediaItem.id))).all())


async def test_fetch_match_group_tag_and_digest(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with media_server() as server, staff_world(database_url) as world:
        world.clock.now = MORNING - timedelta(hours=2)
        server.files["broken.xml"] = BROKEN
        ids = await _feeds(world, server)
        monitor = _monitor(world)
        with caplog.at_level(logging.INFO, logger="broadcasts.media_monitor"):
            results = {r.feed_id: r for r in await monitor.run_once()}
            status = {name: results[ids[name]].status for name in ids}
            assert status == {
                "first.xml": OK,
                "second.atom": OK,
                "broken.xml": FAILING,
                "slow.xml": FAILING,
                "huge.xml": CUT,
            }
            # The huge feed was not read whole: the fetch stopped near its cap.
            assert server.huge_sent < HUGE_BYTES
            items = await _items(world)
            by_title = {item.title: item for item in items}
            # Kept: what mentions the council, the mayor, a district or the open incident;
            # not the football, the snow, the weather notes.
            assert sorted(by_title) == [
                "Виконком затвердив графік прийому громадян",
                "Виконком погодив ремонт дороги на Гданцівці",
                "Депутати міської ради зірвали сесію через суперечку щодо бюджету",
                "Міський голова відкрив оновлений сквер у Саксаганському районі",
                "Прорив водогону на вулиці Тбіліській залишив без води кілька будинків",
                "Сесію міської ради зірвали депутати: бюджет не ухвалено",
                "У Покровському районі третій день немає гарячої води 🚿",
            ]
            # The item both feeds carry is stored once.
            assert len([i for i in items if i.url.endswith("skver-saksahanskyi")]) == 1
            session_items = [i for i in items if "сесі" in i.title.lower()]
            assert len({i.story_id for i in session_items}) == 1
            assert len({i.feed_id for i in session_items}) == 2
            assert len({i.story_id for i in items}) == len(items) - 1
            water = by_title["У Покровському районі третій день немає гарячої води 🚿"]
            assert (water.topic, water.tone) == ("housing", "negative")
            assert water.terms == ["district:Покровський район"]
            assert (session_items[0].topic, session_items[0].tone) == ("council_work", "negative")
            pipe = by_title["Прорив водогону на вулиці Тбіліській залишив без води кілька будинків"]
            assert pipe.terms == ["incident:Прорив водогону на вулиці Тбіліській"]
            assert (
                "<"
                not in by_title[
                    "Міський голова відкрив оновлений сквер у Саксаганському районі"
                ].summary
            )
            # A second fetch: nothing new, the unchanged feeds answered 304, and the failing
            # feeds were logged once, when they started failing.
            world.clock.advance(timedelta(minutes=30))
            again = {r.feed_id: r.status for r in await monitor.run_once()}
            assert again[ids["first.xml"]] == again[ids["second.atom"]] == NOT_MODIFIED
            assert server.not_modified == 2
            assert len(await _items(world)) == len(items)
        failing = [r.getMessage() for r in caplog.records if "is failing" in r.getMessage()]
        assert len(failing) == 2
        assert any("not an RSS or Atom feed" in m for m in failing)
        cut = [r for r in caplog.records if "its start read" in r.getMessage()]
        assert len(cut) == 1  # the huge feed, cut at both fetches, said so once
        async with world.runtime.sessionmaker() as session:
            broken = await session.get(MediaFeed, ids["broken.xml"])
            assert broken is not None and broken.last_status == FAILING
            assert await session.scalar(select(func.count()).select_from(MediaStory)) == 6
        # Repaired, the feed works again (and says so once).
        server.files["broken.xml"] = server.files["second.atom"]
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="broadcasts.media_monitor"):
            await monitor.run_once()
        assert any("works again" in r.getMessage() for r in caplog.records)

        # The morning digest, beside what residents wrote that week.
        seed = Seed(world.runtime.sessionmaker)
        resident = await seed.resident(district="pokrovskyi")
        for days in (1, 2):
            await seed.ticket(resident_id=resident, received_at=MORNING - timedelta(days=days))
        await seed.ticket(resident_id=resident, received_at=MORNING - timedelta(days=10))
        job = _digest_job(world)
        digest = await job.run(MORNING)
        assert digest.current == 7 and digest.previous == 0
        text, photo = world.chat(OFFICIALS)
        body = text["text"]
        assert "Місто в ЗМІ" in body
        assert "Згадок у ЗМІ за тиждень: 7 (попередній тиждень: 0, +7)" in body
        tones = Counter(item.tone for item in await _items(world))
        assert f"🔴 негативна: {tones['negative']} (+{tones['negative']})" in body
        assert "Житло та комунальні послуги: ЗМІ 2 (+2) · звернень 2 (+1, +100%)" in body
        # The top story: two outlets, both links.
        stories = body.split("Головні сюжети", 1)[1]
        first_story = stories.split("•")[1]
        assert "зірвали" in first_story and "2 видання" in first_story
        assert "↳ first\n   ↳ second" in first_story
        links = [e["url"] for e in text.get("entities", []) if e.get("type") == "text_link"]
        assert links[:2] == [
            "https://1city.example.ua/news/sesiya-zirvana",
            "https://vedomosti.example.ua/2026/12/04/sesiya",
        ]
        assert "onerror" not in body and "alert(" not in body
        png = world.telegram.file_content(photo["photo"][-1]["file_id"])
        assert png is not None and png.startswith(b"\x89PNG")
        assert "Тональність згадок у ЗМІ" in photo["caption"]


async def test_an_empty_week_posts_text_without_a_chart(database_url: str) -> None:
    async with staff_world(database_url) as world:
        job = _digest_job(world)
        await job.run(MORNING)
        [text] = world.chat(OFFICIALS)
        assert "За тиждень згадок у ЗМІ не знайдено" in text["text"]


ODD_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Дивна стрічка</title>
<item><title>Депутат без посилання</title><description>Міська рада.</description></item>
<item><title>Депутат з надто довгим посиланням</title><link>https://x.ua/{long}</link></item>
<item><link>https://odd.example.ua/no-title</link>
<description>&lt;b&gt;Виконком&lt;/b&gt; ухвалив рішення 🙂 {huge}</description></item>
<item><title>&lt;script&gt;alert(1)&lt;/script&gt;Міська рада з майбутнього 🚀</title>
<link>https://odd.example.ua/future</link><pubDate>Mon, 01 Jan 2035 10:00:00 +0000</pubDate></item>
</channel></rss>
""".format(long="a" * 1100, huge="довгий текст " * 2000)


async def test_odd_items_are_kept_safely_or_skipped(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """No link or one too long to store: skipped. No title: named by its summary's start.
    HTML: text only. A date in the future: counted as fetched now. A huge summary: cut."""
    async with media_server() as server:
        server.files["odd.xml"] = ODD_FEED.encode()
        async with sessionmaker() as session, session.begin():
            await media_store.add_feed(session, url=server.url("odd.xml"), name="", now=MORNING)
        monitor = MediaMonitor(
            sessionmaker=sessionmaker, catalog=Catalog.load(), clock=lambda: MORNING
        )
        [result] = await monitor.run_once()
        assert (result.status, result.kept) == (OK, 2)
    async with sessionmaker() as session:
        items = {i.url: i for i in (await session.scalars(select(MediaItem))).all()}
        feed = (await session.scalars(select(MediaFeed))).one()
    assert sorted(items) == ["https://odd.example.ua/future", "https://odd.example.ua/no-title"]
    untitled = items["https://odd.example.ua/no-title"]
    assert untitled.title.startswith("Виконком ухвалив рішення 🙂") and len(untitled.title) <= 120
    assert len(untitled.summary) == media_store.SUMMARY_MAX and "<b>" not in untitled.summary
    future = items["https://odd.example.ua/future"]
    assert future.at == MORNING and future.published_at is not None
    # Tags are dropped, as for the council's own news (the digest escapes what is left).
    assert future.title == "alert(1)Міська рада з майбутнього 🚀"
    assert feed.name == server.url("odd.xml")
