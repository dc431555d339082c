"""``citybot media``: media monitoring's feeds and watch terms, the items kept, corrections.

``feed add URL [--name NAME] | list | remove ID`` (a removed feed is disabled: its items keep
their outlet); ``term add TERM --kind KIND | list | remove TERM`` (the built-in terms — the
council, the mayor, the districts, open incidents — are listed too, marked ``built-in``);
``items [--days N]`` the items kept lately with their ids, topic and tone; ``correct ID
[--topic T] [--tone T] --staff STAFF_ID`` sets them as that staff member (the staff core's
operation, audited); ``fetch`` fetches every feed once, now. Each change is in the audit log
(actor ``cli``, or the staff member for a correction).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from broadcasts.media_monitor import COUNCIL_TERMS, MediaMonitor, district_terms
from handlers.staff.core import Actor, After, Desk, Refused, StaffCore, run_after
from handlers.staff.press import correct_item
from messaging.i18n import Catalog
from storage import audit, media_store
from storage.classifier import CATEGORIES
from storage.media_text import KINDS, TONES, lemmas_of
from storage.vocabulary import system_clock

LISTED_ITEMS = 50


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    media = commands.add_parser("media", help="media monitoring: feeds, watch terms, items")
    areas = media.add_subparsers(dest="area", required=True, metavar="AREA")
    feed = areas.add_parser("feed", help="the outlets' RSS/Atom feeds")
    actions = feed.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a feed (or enable it again)")
    add.add_argument("url")
    add.add_argument("--name", default="", help="the outlet's name, as officials read it")
    actions.add_parser("list", help="feeds and how their last fetch went")
    remove = actions.add_parser("remove", help="stop fetching a feed (its items stay)")
    remove.add_argument("feed_id", type=int, metavar="ID")
    term = areas.add_parser("term", help="the words and phrases an item must mention")
    actions = term.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a watch term (a name, a department, a place)")
    add.add_argument("term")
    add.add_argument("--kind", choices=KINDS, default="official")
    actions.add_parser("list", help="watch terms, built-in ones included")
    remove = actions.add_parser("remove", help="remove a watch term")
    remove.add_argument("term")
    items = areas.add_parser("items", help="items kept lately, with ids, topic and tone")
    items.add_argument("--days", type=int, default=7)
    correct = areas.add_parser("correct", help="set an item's topic and/or tone by hand")
    correct.add_argument("item_id", type=int, metavar="ID")
    correct.add_argument("--topic", choices=CATEGORIES)
    correct.add_argument("--tone", choices=TONES)
    correct.add_argument("--staff", type=int, required=True, help="your staff account id")
    areas.add_parser("fetch", help="fetch every enabled feed once, now")


async def run(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    if args.area == "feed":
        return await _feed(session, args)
    if args.area == "term":
        return await _term(session, args)
    if args.area == "items":
        return await _items(session, args)
    if args.area == "correct":
        return await _correct(session, args)
    return await _fetch(session, settings)


def _bad_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 1024


async def _feed(session: AsyncSession, args: argparse.Namespace) -> int:
    now = system_clock()
    if args.action == "list":
        feeds = await media_store.list_feeds(session)
        if not feeds:
            print("no feeds yet: citybot media feed add URL --name NAME")
        for feed in feeds:
            state = "enabled" if feed.enabled else "removed"
            last = feed.last_status or "never fetched"
            error = f" ({feed.last_error})" if feed.last_error else ""
            print(f"{feed.id}\t{feed.name}\t{feed.url}\t{state}\t{last}{error}")
        return 0
    if args.action == "add":
        url, name = args.url.strip(), " ".join(args.name.split())[: media_store.NAME_MAX]
        if _bad_url(url):
            print("refused: an http(s) address of at most 1024 characters", file=sys.stderr)
            return 1
        feed, created = await media_store.add_feed(session, url=url, name=name, now=now)
        audit.record(
            session,
            actor="cli",
            action="media.feed_added" if created else "media.feed_enabled",
            subject=f"media_feed:{feed.id}",
            details={"url": url[:200], "name": feed.name},
            now=now,
        )
        print(f"feed {feed.id} ({feed.name}): {'added' if created else 'enabled'}")
        return 0
    removed = await media_store.remove_feed(session, args.feed_id)
    if removed is None:
        print(f"no feed {args.feed_id}: citybot media feed list", file=sys.stderr)
        return 1
    audit.record(
        session,
        actor="cli",
        action="media.feed_removed",
        subject=f"media_feed:{removed.id}",
        now=now,
    )
    print(f"feed {removed.id} ({removed.name}): removed, its items stay")
    return 0


async def _term(session: AsyncSession, args: argparse.Namespace) -> int:
    now = system_clock()
    if args.action == "list":
        for watch in [*COUNCIL_TERMS, *district_terms(Catalog.load())]:
            print(f"-\t{watch.kind}\t{watch.term}\tbuilt-in")
        print("-\tincident\t(every open incident)\tbuilt-in")
        for row in await media_store.list_terms(session):
            print(f"{row.id}\t{row.kind}\t{row.term}\t{row.lemmas}")
        return 0
    term = " ".join(args.term.split()).lower()
    if args.action == "add":
        if not any(char.isalnum() for char in term) or len(term) > media_store.TERM_MAX:
            print(f"refused: a term of 1-{media_store.TERM_MAX} characters", file=sys.stderr)
            return 1
        row, created = await media_store.add_term(
            session, term=term, kind=args.kind, lemmas=lemmas_of(term), now=now
        )
        if not created:
            print(f"already watched: {row.term} ({row.kind})")
            return 0
        audit.record(
            session,
            actor="cli",
            action="media.term_added",
            subject=f"media_term:{row.id}",
            details={"term": term, "kind": args.kind},
            now=now,
        )
        print(f"term {row.id} ({row.kind}): {row.term}, matched as {row.lemmas}")
        return 0
    if not await media_store.remove_term(session, term):
        print(f"no term {term!r}: citybot media term list", file=sys.stderr)
        return 1
    audit.record(session, actor="cli", action="media.term_removed", details={"term": term}, now=now)
    print(f"term removed: {term}")
    return 0


async def _items(session: AsyncSession, args: argparse.Namespace) -> int:
    since = system_clock() - timedelta(days=max(1, args.days))
    rows = await media_store.recent_items(session, since=since, limit=LISTED_ITEMS)
    if not rows:
        print("no items kept in that time")
    for item, outlet in rows:
        fixed = "\tcorrected" if item.corrected_at else ""
        print(
            f"{item.id}\t{item.at:%Y-%m-%d %H:%M}\tstory {item.story_id}\t{item.topic}\t"
            f"{item.tone}\t{outlet or '-'}\t{item.title}{fixed}"
        )
    return 0


async def _correct(session: AsyncSession, args: argparse.Namespace) -> int:
    # The CLI's transaction is the call's: the core joins it (its own sessionmaker unused).
    core = StaffCore(sessionmaker=async_sessionmaker(session.bind), clock=system_clock)
    after: list[After] = []
    done = await correct_item(
        core,
        Actor(args.staff, desk=Desk.CLI),
        args.item_id,
        topic=args.topic,
        tone=args.tone,
        session=session,
        after=after,
    )
    if isinstance(done, Refused):
        facts = ", ".join(f"{k}: {v}" for k, v in done.details.items())
        print(f"refused ({done.reason.value}){': ' + facts if facts else ''}", file=sys.stderr)
        return 1
    await run_after(after)
    print(f"item {done.value.id}: {done.value.topic}, {done.value.tone}")
    return 0


async def _fetch(session: AsyncSession, settings: Settings) -> int:
    monitor = MediaMonitor(
        sessionmaker=async_sessionmaker(session.bind, expire_on_commit=False),
        catalog=Catalog.load(),
        clock=system_clock,
        max_bytes=settings.media_max_kb * 1024,
        timeout_seconds=settings.media_timeout_seconds,
    )
    for result in await monitor.run_once():
        print(f"feed {result.feed_id}: {result.status}, {result.kept} new item(s) kept")
    return 0
