"""Resolving an incident with 1,000 linked feedback tickets (issue 17) through the web desk,
with the Telegram chat desk on, and how the desk answers while the resolve's background work
runs.

    python -m bench.incident_resolve [--tickets 1000] [--others 100] [--pause 0.1]
        [--idle 100] [--latency 0.05] [--timeout 900] [--dump CSV] [--profile OUT] [--freeze]

PostgreSQL only (a throwaway database on 127.0.0.1). Three processes, so that none of them
charges its CPU to another: the bot as ``citybot run`` runs it (``tests.harness.running_bot``:
the web desk, the Telegram chat desk on a forum operator chat, the delivery engine, the outbox),
the fake Telegram (``bot.sandbox.fakes.telegram``: 30 calls a second for the token, as
Telegram's limit, each answered after ``--latency``), and this one, which seeds, measures and
plays the staff member's browser.

Seeded: ``--tickets`` residents (Telegram, private chats open), one feedback ticket each
(housing), all linked to one open incident; ``--others`` open housing tickets of the day before,
not linked (they lead the queue page, so it shows the same rows before and after the resolve);
every ticket's card posted to the forum chat by the chat desk (a topic and a card each) before
anything is measured.

Measured, in order:

1. idle: the queue page (``GET /desk/``), an unlinked ticket's page and the incident's page
   (``GET /desk/incidents/ID``, which lists every linked ticket), in turn, ``--idle`` rounds,
   one request at a time with ``--pause`` between requests;
2. the resolve: the incident page's form posted (``POST /desk/incidents/ID/resolve``, the 303
   not followed), timed from sending to the answer;
3. busy: the same pages again until the bot's outbox has drained (the closed tickets' answers
   posted into their threads and their cards edited, through the token's 30 calls a second;
   meanwhile the delivery engine sends the final update to every resident through the same
   budget). The bot's process reports when its outbox drained (the monotonic clock is the
   machine's, so both processes read the same one), and its event loop's stalls over 50 ms
   (a 10 ms sleep that overslept) from the idle phase on.

Reported: the resolve request's time, the background's time (from sending the resolve), the
p50 / p99 / max of each page idle and busy and the busy / idle ratios, the fake Telegram's calls
by method, the bot process's CPU seconds during the background work, and the loop's stalls.
The incident page is not like for like: open before the resolve (with the matcher's
suggestions), resolved after. ``--dump`` writes every request and stall with its time from the
POST; ``--profile`` the bot's CPU profile (process time) from the resolve to the drain.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import multiprocessing
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.child import served_in_child
from bench.desk_live import cpu_seconds
from bot.migrate import upgrade_to_head
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.staff.desk import Desk
from storage import incidents, staff_auth, staff_desk
from storage.db import create_engine, create_sessionmaker
from storage.deadlines import TicketKind
from storage.filing import FilingPolicy, TicketForm, file_ticket
from storage.incidents import LinkedBy
from storage.models import Resident
from storage.staff import add_account
from storage.vocabulary import Role
from tests.conftest import pg_database
from tests.harness import TELEGRAM_TOKEN
from tests.staff_world import FORUM_CHAT

ZONE = ZoneInfo("Europe/Kyiv")
FIRST_USER = 8_100_000
STAFF_TELEGRAM = 5001
ANSWER = "Воду подали о 17:40. Дякуємо за терпіння."
# Seeding: tickets filed per transaction.
BATCH = 200
# The chat desk's catch-up rounds before giving up on posting the cards.
CATCH_UP_ROUNDS = 200
# Tickets whose cards are posted at once while seeding.
CARDS_AT_ONCE = 8
# An event loop stall worth recording (seconds late).
LAG = 0.05
COOKIE = "citybot_desk"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_ONCE = re.compile(r'name="once" value="([^"]+)"')


# -- the fake Telegram, in a child process -------------------------------------------------


def _serve_fake(latency: float, users: int, conn: Connection) -> None:
    async def serve() -> None:
        async with FakeTelegram(TELEGRAM_TOKEN, global_rate=30, latency=latency) as fake:
            fake.user(STAFF_TELEGRAM, first_name="Марія")
            fake.add_group(FORUM_CHAT, "Звернення", is_forum=True, members=(STAFF_TELEGRAM,))
            for index in range(users):
                fake.user(FIRST_USER + index)
                fake.open_private_chat(FIRST_USER + index)
            conn.send(fake.base_url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            methods = Counter(call.method for call in fake.calls)
            conn.send(
                (
                    fake.rate_limited_count,
                    methods["createForumTopic"],
                    methods["sendMessage"],
                    methods["editMessageText"],
                    len(fake.calls),
                )
            )

    asyncio.run(serve())


# -- the bot, in a child process -----------------------------------------------------------


async def post_cards(desk: Desk, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Every open ticket's card, a few tickets at a time (the catch-up posts one at a time:
    minutes for a thousand, only to seed), then the catch-up itself for anything left."""
    async with sessionmaker() as session:
        waiting = await staff_desk.tickets_without_card(session, limit=100_000)
    gate = asyncio.Semaphore(CARDS_AT_ONCE)

    async def one(ticket_id: int) -> None:
        async with gate:
            await desk.post_ticket(ticket_id)

    await asyncio.gather(*(one(ticket.id) for ticket in waiting))
    for _ in range(CATCH_UP_ROUNDS):
        if not await desk.post_pending():
            return


async def watch_lag(lags: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """The event loop's stalls: when a 10 ms sleep overslept by more than ``LAG`` seconds."""
    while not stop.is_set():
        began = time.monotonic()
        await asyncio.sleep(0.01)
        late = time.monotonic() - began - 0.01
        if late > LAG:
            lags.append((began, late))


class GcWatch:
    """Full collections (generation 2) of the bot's garbage collector: when and how long."""

    def __init__(self) -> None:
        self.full: list[tuple[float, float]] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began = time.monotonic()
        else:
            self.full.append((self._began, time.monotonic() - self._began))


def _serve_bot(
    database_url: str,
    telegram_url: str,
    patience: float,
    profile: str,
    freeze: bool,
    conn: Connection,
) -> None:
    """The bot until the parent says stop: posts every card first, then reports its address;
    told "drain" (the resolve has answered, so its work is in the outbox), the monotonic time
    its outbox drained and the event loop's stalls since the cards were posted. ``profile``:
    a file for the CPU profile (process time) from "go" (just before the resolve) to the
    drained outbox. ``freeze``: ``gc.freeze()`` once the cards are posted (what the bot keeps
    from its start is not scanned by full collections any more)."""
    from tests.harness import bot_settings, running_bot

    async def main() -> None:
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=telegram_url,
            telegram_mode="webhook",
            operator_chat_id=str(FORUM_CHAT),
        )
        async with running_bot(settings, settle=False) as runtime:
            assert runtime.desk is not None
            await post_cards(runtime.desk, runtime.sessionmaker)
            if freeze:
                gc.collect()
                gc.freeze()
            tracked = len(gc.get_objects())
            collections = GcWatch()
            gc.callbacks.append(collections)
            lags: list[tuple[float, float]] = []
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch_lag(lags, stop))
            conn.send((f"http://127.0.0.1:{settings.http_port}", os.getpid()))
            loop = asyncio.get_running_loop()
            profiler = cProfile.Profile(time.process_time)
            assert await loop.run_in_executor(None, conn.recv) == "go"
            if profile:
                profiler.enable()
            assert await loop.run_in_executor(None, conn.recv) == "drain"
            await asyncio.wait_for(runtime.outbox.drain(), patience)
            drained = time.monotonic()
            if profile:
                profiler.disable()
                profiler.dump_stats(profile)
            stop.set()
            await watcher
            gc.callbacks.remove(collections)
            conn.send((drained, lags, collections.full, tracked))
            await loop.run_in_executor(None, conn.recv)

    asyncio.run(main())


@contextlib.asynccontextmanager
async def bot_process(
    database_url: str, telegram_url: str, patience: float, profile: str, freeze: bool
) -> AsyncIterator[tuple[str, int, Connection]]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=_serve_bot,
        args=(database_url, telegram_url, patience, profile, freeze, child),
        daemon=True,
    )
    process.start()
    loop = asyncio.get_running_loop()
    try:
        base, pid = await loop.run_in_executor(None, parent.recv)
        yield base, pid, parent
        parent.send("stop")
    finally:
        await loop.run_in_executor(None, process.join, 60)
        if process.is_alive():
            process.terminate()


# -- seeding -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    incident_id: int
    # A ticket of the same department not linked to the incident: its page is read throughout.
    other_ticket: int
    token: str


async def _file(session: AsyncSession, index: int, received: datetime, policy: FilingPolicy) -> int:
    """One resident (Telegram, as ``FIRST_USER + index``) and their feedback ticket."""
    resident = Resident(
        channel="telegram",
        external_id=str(FIRST_USER + index),
        language="uk",
        consent_at=received,
        district="pokrovskyi",
        digest="instant",
        subscribed=True,
        is_active=True,
        created_at=received,
        last_seen_at=received,
    )
    session.add(resident)
    await session.flush()
    form = TicketForm(
        kind=TicketKind.FEEDBACK,
        channel="telegram",
        body=f"Немає води в будинку {index}",
        category="housing",
        anonymous=True,
    )
    ticket = await file_ticket(session, resident=resident, form=form, now=received, policy=policy)
    return ticket.id


async def seed(database_url: str, tickets: int, others: int) -> Seeded:
    """A signed-in operator of the housing department; ``others`` open tickets of the day
    before (they lead the queue page, before and after the resolve alike); ``tickets`` linked
    to one open incident."""
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    sessionmaker = create_sessionmaker(engine)
    now = datetime.now(UTC)
    policy = FilingPolicy(zone=ZONE)
    try:
        async with sessionmaker() as session, session.begin():
            staff = await add_account(
                session,
                login="maria",
                role=Role.OPERATOR,
                now=now,
                name="Марія Коваль",
                telegram_id=STAFF_TELEGRAM,
                departments=("housing",),
            )
            await session.flush()
            opened = await staff_auth.open_session(session, staff, now=now, address="127.0.0.1")
            incident = incidents.create_incident(
                session,
                title="Немає води в Покровському районі",
                category="housing",
                districts=("pokrovskyi",),
                description="Аварія на магістральному водогоні.",
                expected_at=None,
                now=now,
                created_by=staff.id,
            )
            await session.flush()
            staff_id, incident_id = staff.id, incident.id
            other_ticket = await _file(session, 0, now - timedelta(days=1), policy)
            for index in range(1, others):
                await _file(session, index, now - timedelta(days=1), policy)
        for start in range(others, others + tickets, BATCH):
            async with sessionmaker() as session, session.begin():
                for index in range(start, min(others + tickets, start + BATCH)):
                    ticket_id = await _file(session, index, now, policy)
                    await incidents.link_ticket(
                        session,
                        incident_id=incident_id,
                        ticket_id=ticket_id,
                        linked_by=LinkedBy.STAFF,
                        now=now,
                        staff_id=staff_id,
                    )
        return Seeded(incident_id, other_ticket, opened.token)
    finally:
        await engine.dispose()


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Latencies:
    pages: dict[str, list[float]] = field(default_factory=dict)
    # (page, monotonic time sent, seconds) in order: for ``--dump``.
    series: list[tuple[str, float, float]] = field(default_factory=list)

    def add(self, page: str, sent: float, seconds: float) -> None:
        self.pages.setdefault(page, []).append(seconds)
        self.series.append((page, sent, seconds))


async def _timed_get(http: aiohttp.ClientSession, url: str) -> tuple[float, str]:
    began = time.perf_counter()
    async with http.get(url, allow_redirects=False) as response:
        body = await response.text()
        assert response.status == 200, (url, response.status, body[:300])
    return time.perf_counter() - began, body


async def sample(
    http: aiohttp.ClientSession,
    pages: dict[str, str],
    latencies: Latencies,
    *,
    pause: float,
    rounds: int | None = None,
    until: asyncio.Future[Any] | None = None,
    limit: float = 900.0,
) -> None:
    """The pages one after the other, ``rounds`` times or until ``until`` is done (bounded by
    ``limit`` seconds either way)."""
    end = time.monotonic() + limit
    done = 0
    while time.monotonic() < end:
        if rounds is not None and done >= rounds:
            return
        if until is not None and until.done():
            return
        for name, url in pages.items():
            sent = time.monotonic()
            seconds, _body = await _timed_get(http, url)
            latencies.add(name, sent, seconds)
            await asyncio.sleep(pause)
        done += 1


async def resolve(http: aiohttp.ClientSession, base: str, incident_id: int) -> float:
    """The incident page's resolve form, posted: the seconds until its answer (a 303)."""
    _seconds, page = await _timed_get(http, f"{base}/desk/incidents/{incident_id}")
    form = page.split(f'action="/desk/incidents/{incident_id}/resolve"', 1)[1]
    csrf, once = _CSRF.search(form), _ONCE.search(form)
    assert csrf is not None and once is not None, "no resolve form on the incident's page"
    fields = {"csrf": csrf.group(1), "once": once.group(1), "answer": ANSWER}
    began = time.perf_counter()
    async with http.post(
        f"{base}/desk/incidents/{incident_id}/resolve", data=fields, allow_redirects=False
    ) as response:
        await response.read()
        assert response.status == 303, response.status
    return time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _row(name: str, idle: list[float], busy: list[float]) -> str:
    def ms(values: list[float], share: float) -> str:
        return f"{percentile(values, share) * 1000:.0f}"

    ratio50 = percentile(busy, 0.5) / percentile(idle, 0.5)
    ratio99 = percentile(busy, 0.99) / percentile(idle, 0.99)
    return (
        f"  {name}: idle p50/p99/max {ms(idle, 0.5)}/{ms(idle, 0.99)}/{max(idle) * 1000:.0f} ms "
        f"({len(idle)}), busy {ms(busy, 0.5)}/{ms(busy, 0.99)}/{max(busy) * 1000:.0f} ms "
        f"({len(busy)}); ratio p50 {ratio50:.2f}, p99 {ratio99:.2f}"
    )


@dataclass
class Outcome:
    request: float
    background: float
    cpu: float
    idle: Latencies
    busy: Latencies
    # Event loop stalls of the bot (monotonic time, seconds late) and when the POST was sent.
    lags: list[tuple[float, float]]
    # The bot's full garbage collections (monotonic time, seconds), and the objects its
    # collector tracked when the measuring began.
    collections: list[tuple[float, float]]
    tracked: int
    sent_at: float
    idle_from: float


async def measure(
    base: str, pid: int, conn: Connection, seeded: Seeded, args: argparse.Namespace
) -> tuple[dict[str, str], Outcome]:
    pages = {
        "queue page": f"{base}/desk/",
        "unrelated ticket's page": f"{base}/desk/tickets/{seeded.other_ticket}",
        "incident page": f"{base}/desk/incidents/{seeded.incident_id}",
    }
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(cookies={COOKIE: seeded.token}) as http:
        # Warmed up first (templates compiled, connections in the pool).
        await sample(http, pages, Latencies(), pause=args.pause, rounds=3)
        idle_from = time.monotonic()
        idle = Latencies()
        await sample(http, pages, idle, pause=args.pause, rounds=args.idle)
        conn.send("go")
        cpu_before = cpu_seconds(pid)
        sent_at = time.monotonic()
        request = await resolve(http, base, seeded.incident_id)
        conn.send("drain")
        drained: asyncio.Future[Any] = loop.run_in_executor(None, conn.recv)
        busy = Latencies()
        await sample(http, pages, busy, pause=args.pause, until=drained, limit=args.timeout)
        finished, lags, collections, tracked = await drained
        cpu = cpu_seconds(pid) - cpu_before
    return pages, Outcome(
        request=request,
        background=finished - sent_at,
        cpu=cpu,
        idle=idle,
        busy=busy,
        lags=lags,
        collections=collections,
        tracked=tracked,
        sent_at=sent_at,
        idle_from=idle_from,
    )


def report(pages: dict[str, str], outcome: Outcome, calls: list[int], dump: str) -> None:
    limited, topics, sends, edits, total = calls
    print(f"resolve request (POST → 303): {outcome.request * 1000:.0f} ms")
    print(
        f"background (outbox drained) {outcome.background:.1f} s after the POST was sent; "
        f"bot CPU meanwhile {outcome.cpu:.1f} s"
    )
    print(
        f"fake Telegram, whole run: {total} calls ({topics} createForumTopic, {sends} "
        f"sendMessage, {edits} editMessageText), {limited} answered 429"
    )
    for name in pages:
        print(_row(name, outcome.idle.pages[name], outcome.busy.pages[name]))
    idle_lags = [late for at, late in outcome.lags if at < outcome.sent_at]
    busy_lags = [(at - outcome.sent_at, late) for at, late in outcome.lags if at >= outcome.sent_at]
    print(
        f"  bot event loop stalls over {LAG * 1000:.0f} ms: idle {len(idle_lags)} (max "
        f"{max(idle_lags, default=0) * 1000:.0f} ms), busy {len(busy_lags)} (max "
        f"{max((late for _, late in busy_lags), default=0) * 1000:.0f} ms); longest busy: "
        + ", ".join(
            f"{late * 1000:.0f} ms at +{at:.1f} s"
            for at, late in sorted(busy_lags, key=lambda item: -item[1])[:5]
        )
    )
    full = [seconds for _, seconds in outcome.collections]
    print(
        f"  bot full garbage collections: {len(full)}, max {max(full, default=0) * 1000:.0f} ms, "
        f"total {sum(full):.1f} s ({outcome.tracked} objects tracked at the start)"
    )
    if dump:
        with open(dump, "w", encoding="utf-8") as out:
            out.write("phase,page,seconds_from_post,ms\n")
            for phase, latencies in (("idle", outcome.idle), ("busy", outcome.busy)):
                for page, sent, seconds in latencies.series:
                    at = sent - outcome.sent_at
                    out.write(f"{phase},{page},{at:.3f},{seconds * 1000:.1f}\n")
            for at, late in outcome.lags:
                out.write(f"stall,loop,{at - outcome.sent_at:.3f},{late * 1000:.1f}\n")
            for at, seconds in outcome.collections:
                out.write(f"gc,full,{at - outcome.sent_at:.3f},{seconds * 1000:.1f}\n")


async def run(args: argparse.Namespace) -> None:
    async with pg_database() as url:
        began = time.perf_counter()
        seeded = await seed(url, args.tickets, args.others)
        print(
            f"seeded {args.tickets} linked tickets and {args.others} others in "
            f"{time.perf_counter() - began:.1f} s"
        )
        users = args.tickets + args.others
        async with served_in_child(_serve_fake, args.latency, users) as (fake_url, calls):
            began = time.perf_counter()
            bot = bot_process(url, fake_url, args.timeout, args.profile, args.freeze)
            async with bot as (base, pid, conn):
                print(f"bot up, cards posted, in {time.perf_counter() - began:.1f} s")
                pages, outcome = await measure(base, pid, conn, seeded, args)
        report(pages, outcome, calls, args.dump)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--pause", type=float, default=0.1)
    parser.add_argument("--idle", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--others", type=int, default=100)
    parser.add_argument("--dump", default="", help="a CSV of every request and loop stall")
    parser.add_argument("--profile", default="", help="the bot's CPU profile while busy")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() in the bot first")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
