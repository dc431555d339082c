"""Administration from the shell: staff (``bot.admin_staff``), Open311 keys
(``bot.admin_open311``), queues and routes, the holiday list, martial law, the category
suggester's keyword lists.

Every change is written to the audit log with the actor ``cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import admin_media, admin_open311, admin_staff
from bot.config import Settings
from bot.migrate import upgrade_to_head
from storage import audit, classifier, keyword_store, recategorize
from storage.broadcasts import Progress, broadcast_progress, cancel_broadcast
from storage.calendar_store import (
    add_holiday,
    list_holidays,
    load_calendar,
    recompute_open_deadlines,
    remove_holiday,
    set_martial_law,
)
from storage.db import create_engine, create_sessionmaker
from storage.export import AVAILABLE, ExportKind, export_csv, parse_period
from storage.models import Broadcast
from storage.tickets import list_queues, list_routes, set_route, upsert_queue
from storage.vocabulary import CATEGORY_QUEUES, system_clock

# Width of the progress bar in `citybot broadcast status`.
BAR = 30
RECENT_BROADCASTS = 10
Action = Callable[[AsyncSession, argparse.Namespace, Settings], Awaitable[int]]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin_staff.add_parsers(commands)
    admin_open311.add_parsers(commands)
    admin_media.add_parsers(commands)

    queue = commands.add_parser("queue", help="departments (queues), their chats and routes")
    actions = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="list queues and category routes")
    add = actions.add_parser("add", help="add a queue or rename it")
    add.add_argument("code")
    add.add_argument("name")
    chat = actions.add_parser("chat", help="set the queue's Telegram chat (or 'none')")
    chat.add_argument("code")
    chat.add_argument("chat_id")
    for name in ("enable", "disable"):
        toggle = actions.add_parser(name, help=f"{name} a queue")
        toggle.add_argument("code")
    route = actions.add_parser("route", help="send a category to a queue")
    route.add_argument("category", choices=sorted(CATEGORY_QUEUES))
    route.add_argument("code")

    holiday = commands.add_parser("holiday", help="the public holiday list")
    actions = holiday.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list holidays")
    listing.add_argument("--year", type=int, default=None)
    add = actions.add_parser("add", help="add a holiday (YYYY-MM-DD NAME)")
    add.add_argument("day", type=date.fromisoformat)
    add.add_argument("name")
    remove = actions.add_parser("remove", help="remove a holiday")
    remove.add_argument("day", type=date.fromisoformat)

    martial = commands.add_parser(
        "martial-law", help="martial law makes holidays working days (on by default)"
    )
    martial.add_argument("state", choices=["on", "off", "status"])

    broadcast = commands.add_parser("broadcast", help="progress of broadcasts; cancel one")
    actions = broadcast.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="progress of one broadcast, or the recent ones")
    status.add_argument("broadcast_id", type=int, nargs="?")
    cancel = actions.add_parser("cancel", help="cancel what is still pending")
    cancel.add_argument("broadcast_id", type=int)

    export = commands.add_parser(
        "export", help="CSV (UTF-8 with BOM) of tickets, residents or polls"
    )
    export.add_argument("kind", choices=[kind.value for kind in AVAILABLE])
    export.add_argument("first", metavar="FROM", help="first day, YYYY-MM-DD or DD.MM.YYYY")
    export.add_argument("last", metavar="TO", help="last day (inclusive)")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.add_argument(
        "--no-personal", action="store_true", help="leave out names, contacts, addresses, texts"
    )
    _keyword_parsers(commands)


def _keyword_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keywords = commands.add_parser(
        "keywords", help="the category suggester's keyword and phrase lists"
    )
    actions = keywords.add_subparsers(dest="action", required=True, metavar="ACTION")
    categories = sorted(CATEGORY_QUEUES)
    listing = actions.add_parser("list", help="list the keywords (of one category)")
    listing.add_argument("category", nargs="?", choices=categories)
    add = actions.add_parser("add", help="add keywords or phrases to a category")
    add.add_argument("category", choices=categories)
    add.add_argument("phrases", nargs="+", metavar="PHRASE", help="quote a phrase of several words")
    add.add_argument("--weight", type=float, default=1.0, help="per word (default 1)")
    remove = actions.add_parser("remove", help="remove a keyword or phrase from a category")
    remove.add_argument("category", choices=categories)
    remove.add_argument("phrase")
    test = actions.add_parser("test", help="rank the categories for a text, with what matched")
    test.add_argument("text")
    report = actions.add_parser(
        "report", help="suggested against final categories of real tickets, and staff changes"
    )
    report.add_argument("--since", type=date.fromisoformat, default=None, help="YYYY-MM-DD")


async def run_admin(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        handler = _HANDLERS[args.command]
        async with sessionmaker() as session, session.begin():
            return await handler(session, args, settings)
    finally:
        await engine.dispose()


async def _queue(session: AsyncSession, args: argparse.Namespace, _settings: Settings) -> int:
    now = system_clock()
    if args.action == "list":
        for queue in await list_queues(session):
            chat = queue.chat_id if queue.chat_id is not None else "(operator chat)"
            state = "" if queue.is_active else "\tdisabled"
            print(f"{queue.code}\t{queue.name}\t{chat}{state}")
        for route in await list_routes(session):
            print(f"route\t{route.category}\t-> {route.queue_code}")
        return 0
    known = {queue.code for queue in await list_queues(session)}
    if args.action != "add" and args.code not in known:
        print(f"no queue {args.code!r}; see: citybot queue list", file=sys.stderr)
        return 1
    if args.action == "add":
        _, created = await upsert_queue(session, code=args.code, name=args.name)
        print(f"{'added' if created else 'renamed'} {args.code}")
    elif args.action == "chat":
        if args.chat_id == "none":
            await upsert_queue(session, code=args.code, clear_chat=True)
        else:
            try:
                chat_id = int(args.chat_id)
            except ValueError:
                print(f"chat id must be a number or 'none', got {args.chat_id!r}", file=sys.stderr)
                return 2
            await upsert_queue(session, code=args.code, chat_id=chat_id)
        print(f"{args.code} now posts to {args.chat_id}")
    elif args.action in ("enable", "disable"):
        await upsert_queue(session, code=args.code, is_active=args.action == "enable")
        print(f"{args.code} {args.action}d")
    else:
        await set_route(session, category=args.category, queue_code=args.code)
        print(f"{args.category} -> {args.code}")
    audit.record(
        session,
        actor="cli",
        action=f"queue.{args.action}",
        subject=f"queue:{args.code}",
        details={k: str(v) for k, v in vars(args).items() if k not in ("command", "action")},
        now=now,
    )
    return 0


async def _recompute(session: AsyncSession, settings: Settings) -> int:
    return await recompute_open_deadlines(
        session,
        zone=settings.zone,
        feedback_days=settings.feedback_target_days,
        legal_aid_days=settings.legal_aid_target_days,
    )


async def _holiday(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    now = system_clock()
    if args.action == "list":
        for holiday in await list_holidays(session, year=args.year):
            print(f"{holiday.day.isoformat()}\t{holiday.day.strftime('%a')}\t{holiday.name}")
        return 0
    if args.action == "add":
        await add_holiday(session, day=args.day, name=args.name)
    elif not await remove_holiday(session, day=args.day):
        print(f"{args.day.isoformat()} is not in the holiday list", file=sys.stderr)
        return 1
    moved = await _recompute(session, settings)
    audit.record(
        session,
        actor="cli",
        action=f"holiday.{args.action}",
        subject=args.day.isoformat(),
        details={"deadlines_moved": moved},
        now=now,
    )
    print(
        f"holiday {args.action}: {args.day.isoformat()}; open tickets with a new deadline: {moved}"
    )
    return 0


async def _martial_law(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    if args.state == "status":
        calendar = await load_calendar(session)
        print(f"martial law: {'on' if calendar.martial_law else 'off'}")
        return 0
    await set_martial_law(session, on=args.state == "on")
    moved = await _recompute(session, settings)
    audit.record(
        session,
        actor="cli",
        action=f"martial_law.{args.state}",
        details={"deadlines_moved": moved},
        now=system_clock(),
    )
    print(f"martial law: {args.state}; open tickets with a new deadline: {moved}")
    return 0


def progress_line(progress: Progress) -> str:
    """``#12 sending [██████░░░░] 60% sent 600 blocked 3 failed 1 left 396 · 29.9/s · ETA 13 s``"""
    done = progress.sent + progress.blocked + progress.failed + progress.cancelled
    share = done / progress.total if progress.total else 1.0
    filled = round(share * BAR)
    eta = ""
    if progress.pending and progress.rate > 0:
        eta = f" · ETA {progress.pending / progress.rate:.0f} s"
    return (
        f"#{progress.broadcast_id} {progress.status} [{'█' * filled}{'░' * (BAR - filled)}] "
        f"{share:.0%} sent {progress.sent} blocked {progress.blocked} failed {progress.failed} "
        f"cancelled {progress.cancelled} left {progress.pending} · {progress.rate:.1f}/s{eta}"
    )


async def _broadcast(session: AsyncSession, args: argparse.Namespace, _settings: Settings) -> int:
    now = system_clock()
    if args.action == "cancel":
        if await session.get(Broadcast, args.broadcast_id) is None:
            print(f"no broadcast #{args.broadcast_id}", file=sys.stderr)
            return 1
        cancelled = await cancel_broadcast(session, broadcast_id=args.broadcast_id, now=now)
        audit.record(
            session,
            actor="cli",
            action="broadcast.cancel",
            subject=f"broadcast:{args.broadcast_id}",
            details={"cancelled": cancelled},
            now=now,
        )
        print(f"#{args.broadcast_id}: {cancelled} pending deliveries cancelled")
        return 0
    if args.broadcast_id is not None:
        ids = [args.broadcast_id]
    else:
        query = select(Broadcast.id).order_by(Broadcast.id.desc()).limit(RECENT_BROADCASTS)
        ids = list((await session.scalars(query)).all())
        if not ids:
            print("no broadcasts yet")
            return 0
    for broadcast_id in ids:
        progress = await broadcast_progress(session, broadcast_id=broadcast_id, now=now)
        if progress is None:
            print(f"no broadcast #{broadcast_id}", file=sys.stderr)
            return 1
        print(progress_line(progress))
    return 0


async def _export(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    """The shell is an administrator's: personal data is in unless ``--no-personal``."""
    try:
        period = parse_period(args.first, args.last)
    except ValueError as error:
        print(f"export: {error}", file=sys.stderr)
        return 2
    result = await export_csv(
        session,
        kind=ExportKind(args.kind),
        period=period,
        zone=settings.zone,
        personal=not args.no_personal,
    )
    audit.record(
        session,
        actor="cli",
        action=f"export.{args.kind}",
        now=system_clock(),
        details={**result.audit_details(), "file": args.out},
    )
    if args.out:
        await asyncio.to_thread(Path(args.out).write_bytes, result.data)
    else:
        sys.stdout.buffer.write(result.data)
        sys.stdout.flush()
    print(f"exported {result.rows} rows to {args.out or 'stdout'}", file=sys.stderr)
    return 0


async def _keywords(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    await keyword_store.ensure_seeded(session, now=system_clock())
    if args.action == "report":
        return await _keyword_report(session, args, settings)
    return await _KEYWORD_ACTIONS[args.action](session, args)


async def _keyword_list(session: AsyncSession, args: argparse.Namespace) -> int:
    for term in await keyword_store.list_terms(session, category=args.category):
        print(f"{term.category}\t{term.phrase}\t{term.weight:g}\t{term.created_by}")
    return 0


async def _keyword_test(session: AsyncSession, args: argparse.Namespace) -> int:
    """The ranking the suggester would show for ``args.text``, with what matched."""
    suggestion = await classifier.suggest(session, args.text)
    for place, item in enumerate(suggestion.ranked, 1):
        found = ", ".join(
            f"{match.phrase} ({match.found}{' ~typo' if match.fuzzy else ''})"
            for match in item.matches
        )
        print(f"{place}. {item.category:<16} {item.score:6.2f}  {found}".rstrip())
    if not suggestion.matched:
        print("no keyword matched: 'other' by default")
    return 0


async def _keyword_add(session: AsyncSession, args: argparse.Namespace) -> int:
    now = system_clock()
    try:
        result = await keyword_store.add_terms(
            session,
            category=args.category,
            phrases=args.phrases,
            actor="cli",
            now=now,
            weight=args.weight,
        )
    except ValueError as error:
        print(f"keywords: {error}", file=sys.stderr)
        return 2
    for phrase in result.already:
        print(f"already in {args.category}: {phrase}")
    if not result.added:
        return 0
    audit.record(
        session,
        actor="cli",
        action="keywords.add",
        subject=f"category:{args.category}",
        details={"phrases": result.added, "weight": args.weight},
        now=now,
    )
    print(f"added to {args.category}: {', '.join(result.added)}")
    return 0


async def _keyword_remove(session: AsyncSession, args: argparse.Namespace) -> int:
    try:
        removed = await keyword_store.remove_term(
            session, category=args.category, phrase=args.phrase
        )
    except ValueError as error:
        print(f"keywords: {error}", file=sys.stderr)
        return 2
    if not removed:
        hint = f"see: citybot keywords list {args.category}"
        print(f"{args.phrase!r} is not in {args.category}; {hint}", file=sys.stderr)
        return 1
    phrase = keyword_store.normalize(args.phrase)
    audit.record(
        session,
        actor="cli",
        action="keywords.remove",
        subject=f"category:{args.category}",
        details={"phrase": phrase},
        now=system_clock(),
    )
    print(f"removed from {args.category}: {phrase}")
    return 0


_KEYWORD_ACTIONS: dict[str, Callable[[AsyncSession, argparse.Namespace], Awaitable[int]]] = {
    "list": _keyword_list,
    "test": _keyword_test,
    "add": _keyword_add,
    "remove": _keyword_remove,
}


async def _keyword_report(
    session: AsyncSession, args: argparse.Namespace, settings: Settings
) -> int:
    """Suggested (rows) against final (columns) category of real tickets, then the changes
    staff made, which are where the lists most need work."""
    since = datetime.combine(args.since, time(), tzinfo=settings.zone) if args.since else None
    accuracy = await keyword_store.confusion(session, since=since)
    if not accuracy.final.total:
        print("no tickets with a suggestion yet")
    for title, label, table in (
        ("the resident's choice", "chosen", accuracy.chosen),
        ("the final category (after staff changes)", "final", accuracy.final),
    ):
        if not table.total:
            continue
        print(
            f"suggested = {title}: {table.agreed} of {table.total} "
            f"({table.agreed / table.total:.0%})"
        )
        columns = sorted({column for _, column in table.cells})
        print(f"  suggested \\ {label}\t" + "\t".join(columns))
        for suggested in sorted({suggested for suggested, _ in table.cells}):
            row = [str(table.cells.get((suggested, column), 0)) for column in columns]
            print(f"  {suggested}\t" + "\t".join(row))
    changes = await recategorize.recent_changes(session, since=since)
    if changes:
        print(f"category changes by staff: {len(changes)}")
        for change in changes:
            print(
                f"{change.number}\t{change.old or '—'} -> {change.new}\t"
                f"suggested {change.suggested or '—'}"
            )
    return 0


_HANDLERS: dict[str, Action] = {
    "staff": admin_staff.run,
    "queue": _queue,
    "holiday": _holiday,
    "martial-law": _martial_law,
    "broadcast": _broadcast,
    "export": _export,
    "keywords": _keywords,
    "open311": admin_open311.run,
    "media": admin_media.run,
}
