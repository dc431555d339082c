"""The web desk's Queues and Dashboard reads (``storage.desk``) at 100,000 tickets and 200,000
residents, on PostgreSQL and SQLite, against a primary-key lookup in the same run.

    python -m bench.desk_queue [--db postgresql|sqlite|both] [--tickets 100000]
        [--residents 200000] [--repeat 30]

Seeded through Core ``executemany`` (the same rows on both databases, the folded search columns
made by ``storage.textfold`` as the mapper events make them): residents over two channels and
eight district values with Ukrainian names; tickets over the last year in the eight seeded
departments, four kinds, 15 % open (new, in progress, answered), 5 % without a deadline, some
overdue and some due tomorrow, a quarter of the open ones assigned, twelve kinds of text with
the number appended, a name on 70 %.

Each measure is the data-layer call as the desk makes it (a session from the pool, the
statements, the rows into dataclasses), ``--repeat`` times after one warm-up; p50 and p95 in
milliseconds, and p95 as a multiple of the baseline's: ``SELECT … FROM tickets WHERE id = ?``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.migrate import upgrade_to_head
from storage.calendar import WorkCalendar
from storage.db import create_engine, create_sessionmaker
from storage.desk.dashboard import department_dashboard, new_tickets_per_day
from storage.desk.queue import QueueFilters, encode_cursor, list_queue, queue_counts
from storage.models import Resident, Ticket
from storage.textfold import fold_fields
from storage.vocabulary import NUMBER_PREFIXES, District, Queue
from tests.conftest import pg_database

KYIV = ZoneInfo("Europe/Kyiv")
CALENDAR = WorkCalendar(holidays=frozenset(), martial_law=True)
DEPARTMENTS = [queue.value for queue in Queue]
KINDS = list(NUMBER_PREFIXES)
CATEGORIES = ["housing", "roads_transport", "improvement", "social", "council_work", "other"]
FIRST = ["Оксана", "Іван", "Марія", "Петро", "Ганна", "Юрій", "Ірина", "Олег", "Євгенія", "Тарас"]
LAST = ["Петренко", "Коваленко", "Шевчук", "Бондар", "Ткаченко", "Кравець", "Олійник", "Лисенко"]
TEXTS = [
    "Не працює ліфт у підʼїзді вже тиждень",
    "Яма на дорозі біля школи",
    "Немає гарячої води в будинку",
    "Прошу відремонтувати дах, протікає",
    "Не вивозять сміття з контейнерного майданчика",
    "Коли відновлять вуличне освітлення на вулиці",
    "Прошу надати копію рішення виконкому",
    "Шумні сусіди вночі, прошу вжити заходів",
    "Зламана лавка у сквері",
    "Потрібна консультація щодо субсидії",
    "Затримують автобус маршруту 12",
    "Не працює світлофор на перехресті",
]
OPEN = ["new", "in_progress", "answered"]
BATCH = 10_000

Measure = Callable[[AsyncSession], Awaitable[object]]


def _resident_rows(count: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    districts = [district.value for district in District]
    rows = []
    for n in range(1, count + 1):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if n % 10 else None
        rows.append(
            {
                "channel": "viber" if n % 3 == 0 else "telegram",
                "external_id": f"r{n}",
                "name": name,
                "search_name": fold_fields([name]) or None,
                "language": "uk",
                "district": districts[n % len(districts)],
                "digest": "instant",
                "subscribed": True,
                "is_active": True,
                "created_at": now - timedelta(days=n % 365),
                "last_seen_at": now,
            }
        )
    return rows


def _ticket_row(n: int, now: datetime, residents: int, rng: random.Random) -> dict[str, Any]:
    kind = KINDS[n % len(KINDS)]
    received = now - timedelta(days=n % 365, minutes=n % 1440)
    is_open = n % 20 < 3  # 15 %
    status = OPEN[n % 3] if is_open else ("refused" if n % 50 == 0 else "closed")
    if n % 20 == 19:
        deadline = None
    elif is_open and n % 7 == 0:
        deadline = now + timedelta(hours=20)  # due tomorrow
    elif is_open:
        deadline = now + timedelta(days=(n % 30) - 5)  # some overdue
    else:
        deadline = received + timedelta(days=15)
    number = f"{NUMBER_PREFIXES[kind]}-{received.year}-{n:06d}"
    full_name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if n % 10 < 7 else None
    body = f"{TEXTS[n % len(TEXTS)]} {n}"
    subject = TEXTS[(n * 7) % len(TEXTS)][:40] if n % 4 == 0 else None
    answered = received + timedelta(hours=1 + n % 48)
    return {
        "number": number,
        "kind": kind,
        "status": status,
        "resident_id": 1 + (n * 7919) % residents,
        "channel": "viber" if n % 3 == 0 else "telegram",
        "queue_code": DEPARTMENTS[n % len(DEPARTMENTS)],
        "category": CATEGORIES[n % len(CATEGORIES)],
        "urgent": False,
        "anonymous": n % 97 == 0,
        "full_name": full_name,
        "subject": subject,
        "body": body,
        "search_text": fold_fields([number, full_name, subject, body]),
        "received_at": received,
        "deadline_at": deadline,
        "assignee_id": 100 + n % 5 if (not is_open or n % 4 == 0) else None,
        "first_answer_at": None if is_open and status == "new" else answered,
        "closed_at": None if is_open else answered + timedelta(days=n % 20),
        "rating": 1 + n % 5 if n % 9 == 0 and not is_open else None,
        "created_at": received,
        "updated_at": received,
    }


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession], *, residents: int, tickets: int, now: datetime
) -> float:
    rng = random.Random(15)
    started = time.perf_counter()
    async with sessionmaker() as session, session.begin():
        rows = _resident_rows(residents, now, rng)
        for start in range(0, len(rows), BATCH):
            await session.execute(insert(Resident.__table__), rows[start : start + BATCH])
        for start in range(1, tickets + 1, BATCH):
            batch = [
                _ticket_row(n, now, residents, rng)
                for n in range(start, min(start + BATCH, tickets + 1))
            ]
            await session.execute(insert(Ticket.__table__), batch)
    async with sessionmaker() as session, session.begin():
        await session.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _filters(**kwargs: Any) -> QueueFilters:
    return QueueFilters(**kwargs)


async def _cursor_at(session: AsyncSession, position: int, filters: QueueFilters) -> str:
    """The cursor of the page starting at ``position`` (found once with OFFSET, for setup)."""
    query = select(Ticket.deadline_at, Ticket.id).where(Ticket.deadline_at.is_not(None))
    if filters.statuses:
        query = query.where(Ticket.status.in_(sorted(filters.statuses)))
    row = (
        await session.execute(
            query.order_by(Ticket.deadline_at, Ticket.id).offset(position).limit(1)
        )
    ).one()
    return encode_cursor(row[0], row[1], forward=True)


def _queue(
    now: datetime,
    filters: QueueFilters,
    *,
    departments: list[str] = DEPARTMENTS,
    page: str | None = None,
) -> Measure:
    async def run(session: AsyncSession) -> object:
        result = await list_queue(
            session,
            departments=departments,
            filters=filters,
            now=now,
            calendar=CALENDAR,
            zone=KYIV,
            page=page,
        )
        return result.rows

    return run


async def measures(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, tickets: int
) -> dict[str, Measure]:
    everything = _filters(statuses=frozenset())
    async with sessionmaker() as session:
        deep_open = await _cursor_at(session, int(tickets * 0.13), QueueFilters())
        deep_all = await _cursor_at(session, int(tickets * 0.9), everything)
        some = (
            await session.execute(select(Ticket.id, Ticket.number).where(Ticket.id == tickets // 2))
        ).one()

    async def by_id(session: AsyncSession) -> object:
        return (
            await session.execute(select(Ticket.id, Ticket.number).where(Ticket.id == some[0]))
        ).one()

    async def counts(session: AsyncSession) -> object:
        return await queue_counts(
            session, departments=DEPARTMENTS, now=now, calendar=CALENDAR, zone=KYIV
        )

    async def dashboard(session: AsyncSession) -> object:
        return await department_dashboard(
            session, departments=DEPARTMENTS, now=now, calendar=CALENDAR, zone=KYIV
        )

    async def chart(session: AsyncSession) -> object:
        return await new_tickets_per_day(session, departments=DEPARTMENTS, now=now, zone=KYIV)

    return {
        "baseline: ticket by primary key": by_id,
        "first page, one department": _queue(now, QueueFilters(), departments=["housing"]),
        "first page, all 8 departments": _queue(now, QueueFilters()),
        "deep page (open, row ~13% in) by cursor": _queue(now, QueueFilters(), page=deep_open),
        "deep page (all statuses, row 90,000) by cursor": _queue(now, everything, page=deep_all),
        "filter kind": _queue(now, _filters(kinds=frozenset({"info_request"}))),
        "filter status closed": _queue(now, _filters(statuses=frozenset({"closed"}))),
        "filter category": _queue(now, _filters(categories=frozenset({"social"}))),
        "filter district": _queue(now, _filters(districts=frozenset({"pokrovskyi"}))),
        "filter channel": _queue(now, _filters(channels=frozenset({"viber"}))),
        "filter assignee": _queue(now, _filters(assignee=101)),
        "filter unassigned": _queue(now, _filters(assignee="unassigned")),
        "filter overdue": _queue(now, _filters(overdue=True)),
        "filter due within a working day": _queue(now, _filters(due_soon=True)),
        "search number (exact)": _queue(now, _filters(search=some[1], statuses=frozenset())),
        "search number (serial)": _queue(now, _filters(search=some[1][-6:], statuses=frozenset())),
        "search text (common)": _queue(now, _filters(search="ліфт", statuses=frozenset())),
        "search text (rare)": _queue(now, _filters(search="світлофор 9", statuses=frozenset())),
        "search text, open only": _queue(now, _filters(search="ВОДИ")),
        "search name": _queue(now, _filters(search="євгенія шевчук", statuses=frozenset())),
        "queue counts": counts,
        "dashboard": dashboard,
        "new tickets per day (30)": chart,
    }


async def timings(
    sessionmaker: async_sessionmaker[AsyncSession], run: Measure, repeat: int
) -> list[float]:
    async with sessionmaker() as session:
        await run(session)  # warm-up (plans, caches)
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        async with sessionmaker() as session:
            await run(session)
        found.append((time.perf_counter() - started) * 1000)
    return found


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


async def bench(url: str, args: argparse.Namespace, label: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        now = datetime.now(UTC)
        took = await seed(sessionmaker, residents=args.residents, tickets=args.tickets, now=now)
        print(
            f"\n{label}: seeded {args.residents:,} residents, {args.tickets:,} tickets in "
            f"{took:.1f} s"
        )
        baseline: float | None = None
        print(f"| {label} | p50 ms | p95 ms | p95 / baseline |")
        print("| --- | --- | --- | --- |")
        for name, run in (await measures(sessionmaker, now, args.tickets)).items():
            found = await timings(sessionmaker, run, args.repeat)
            p50, p95 = statistics.median(found), _p95(found)
            baseline = baseline or p95
            print(f"| {name} | {p50:.1f} | {p95:.1f} | {p95 / baseline:.1f}× |")
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    if args.url:
        await bench(args.url, args, args.url.split(":", 1)[0])
        return
    if args.db in ("postgresql", "both"):
        async with pg_database() as url:
            await bench(url, args, "PostgreSQL")
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            await bench(f"sqlite+aiosqlite:///{Path(folder) / 'desk.db'}", args, "SQLite")
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="desk queue, search and dashboard benchmark")
    parser.add_argument("--db", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--url", help="an existing, empty database to seed and keep (to EXPLAIN)")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
