"""``/stats`` and the weekly summary on PostgreSQL with 200,000 residents and 100,000 tickets,
against the naive approach (load the rows into Python and count there) in the same run.

    python -m bench.stats [--residents 200000] [--tickets 100000] [--repeat 3]

Seeded with SQL (generate_series): residents over two channels, eight districts, two topics
each, created over the last year; tickets over the last year across six categories and queues,
five statuses, answers, closings, ratings and a handful of texts; two broadcasts of 100,000
deliveries. Reports the best of ``--repeat`` runs of each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.migrate import upgrade_to_head
from broadcasts.summary import collect
from broadcasts.textfreq import frequent_terms
from storage.db import create_engine, create_sessionmaker
from storage.models import Resident, ResidentTopic, Ticket
from storage.stats import stats_report
from tests.conftest import pg_database

RESIDENTS = """
INSERT INTO residents (channel, external_id, name, language, consent_at, district, digest,
    subscribed, is_active, created_at, last_seen_at, blocked_at)
SELECT CASE WHEN n % 3 = 0 THEN 'viber' ELSE 'telegram' END, 'r' || n, 'Resident ' || n, 'uk',
    now(), (ARRAY['dovhyntsivskyi', 'inhuletskyi', 'metalurhiinyi', 'pokrovskyi', 'saksahanskyi',
    'ternivskyi', 'tsentralno_miskyi', 'city'])[1 + n % 8], 'instant', true, n % 50 <> 0,
    now() - (n % 365) * interval '1 day', now(),
    CASE WHEN n % 50 = 0 THEN now() - (n % 30) * interval '1 day' END
FROM generate_series(1, :count) AS n
"""
TOPICS = """
INSERT INTO resident_topics (resident_id, topic)
SELECT id, (ARRAY['city_news', 'outages', 'decisions', 'events'])[1 + (id + k) % 4]
FROM residents, generate_series(0, 1) AS k
"""
TICKETS = """
INSERT INTO tickets (number, kind, status, resident_id, channel, queue_code, category, urgent,
    anonymous, full_name, body, received_at, deadline_at, first_answer_at, closed_at, rating,
    created_at, updated_at)
SELECT 'B-' || n,
    (ARRAY['appeal', 'feedback', 'info_request', 'legal_aid'])[1 + n % 4],
    (ARRAY['new', 'in_progress', 'answered', 'closed', 'closed', 'refused'])[1 + n % 6],
    1 + (n * 7) % :residents, 'telegram',
    (ARRAY['housing', 'transport', 'improvement', 'social', 'information_policy', 'other'])
        [1 + n % 6],
    (ARRAY['housing', 'roads_transport', 'improvement', 'social', 'council_work', 'other'])
        [1 + n % 6],
    false, false, 'Resident ' || n,
    (ARRAY['Не працює ліфт у під''їзді вже тиждень', 'Яма на дорозі біля школи',
           'Немає гарячої води в будинку', 'Прошу відремонтувати дах, протікає',
           'Не вивозять сміття з контейнерного майданчика',
           'Коли відновлять вуличне освітлення на вулиці'])[1 + n % 6] || ' ' || n,
    t.received, t.received + interval '15 days',
    CASE WHEN n % 6 >= 2 THEN t.received + (1 + n % 48) * interval '1 hour' END,
    CASE WHEN n % 6 IN (3, 4) THEN t.received + (1 + n % 20) * interval '1 day' END,
    CASE WHEN n % 6 = 3 THEN 1 + n % 5 END,
    t.received, t.received
FROM generate_series(1, :count) AS n,
    LATERAL (SELECT now() - (n % 365) * interval '1 day' - (n % 1440) * interval '1 minute'
        AS received) AS t
"""
BROADCASTS = """
INSERT INTO broadcasts (kind, text, topics, districts, channels, urgent, status, created_at,
    started_at, finished_at, recipients, sent_count, blocked_count, failed_count, cancelled_count)
SELECT 'news', 'Новина ' || b, '[]', '[]', '[]', false, 'finished', now() - b * interval '2 days',
    now() - b * interval '2 days', now() - b * interval '2 days', 0, 0, 0, 0, 0
FROM generate_series(1, 2) AS b
"""
DELIVERIES = """
INSERT INTO deliveries (broadcast_id, resident_id, channel, external_id, state, attempts,
    deferrals, next_attempt_at)
SELECT b.id, r.id, r.channel, r.external_id,
    CASE WHEN r.id % 50 = 0 THEN 'blocked' WHEN r.id % 333 = 0 THEN 'failed' ELSE 'sent' END,
    0, 0, now()
FROM broadcasts AS b, residents AS r WHERE r.id <= 100000
"""

Run = Callable[[AsyncSession, datetime], Awaitable[object]]


async def stats_sql(session: AsyncSession, now: datetime) -> object:
    return await stats_report(session, now=now)


async def summary_sql(session: AsyncSession, now: datetime) -> object:
    return await collect(session, start=now - timedelta(days=7), end=now)


async def stats_naive(session: AsyncSession, now: datetime) -> object:
    """What a bot without set-based queries does: every row into Python, counted there."""
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    residents = (await session.execute(select(Resident.__table__))).all()
    topics = (await session.execute(select(ResidentTopic.__table__))).all()
    tickets = (await session.execute(select(Ticket.__table__))).all()
    by: dict[str, Counter[object]] = {}
    for r in residents:
        for key in ("channel", "district"):
            by.setdefault(key, Counter())[getattr(r, key)] += 1
        by.setdefault("new", Counter())[(r.created_at >= week, r.created_at >= month)] += 1
    by["topic"] = Counter(t.topic for t in topics)
    for t in tickets:
        for key in ("kind", "status", "category", "queue_code"):
            by.setdefault(key, Counter())[getattr(t, key)] += 1
    answered = [
        (t.first_answer_at - t.received_at).total_seconds()
        for t in tickets
        if t.first_answer_at is not None and t.first_answer_at >= month
    ]
    closed = [
        (t.closed_at - t.received_at).total_seconds()
        for t in tickets
        if t.closed_at is not None and t.closed_at >= month
    ]
    return by, statistics.median(answered or [0]), statistics.median(closed or [0])


async def summary_naive(session: AsyncSession, now: datetime) -> object:
    start, previous = now - timedelta(days=7), now - timedelta(days=14)
    districts = dict((await session.execute(select(Resident.id, Resident.district))).all())
    tickets = (await session.execute(select(Ticket.__table__))).all()
    counts: Counter[object] = Counter()
    texts = []
    for t in tickets:
        if previous <= t.received_at < now:
            current = t.received_at >= start
            counts[("category", t.category, current)] += 1
            counts[("district", districts.get(t.resident_id), current)] += 1
            if current and t.body:
                texts.append((t.body, [t.full_name or ""]))
    return counts, frequent_terms(texts)


async def best(
    sessionmaker: async_sessionmaker[AsyncSession], run: Run, now: datetime, repeat: int
) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        async with sessionmaker() as session:
            await run(session, now)
        times.append(time.perf_counter() - started)
    return min(times)


async def main(args: argparse.Namespace) -> None:
    async with pg_database() as url:
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
            sessionmaker = create_sessionmaker(engine)
            seeded = time.perf_counter()
            async with engine.begin() as connection:
                await connection.execute(text(RESIDENTS), {"count": args.residents})
                await connection.execute(text(TOPICS))
                await connection.execute(
                    text(TICKETS), {"count": args.tickets, "residents": args.residents}
                )
                await connection.execute(text(BROADCASTS))
                await connection.execute(text(DELIVERIES))
                await connection.execute(text("ANALYZE"))
            print(
                f"seeded {args.residents:,} residents, {args.tickets:,} tickets, 200,000 "
                f"deliveries in {time.perf_counter() - seeded:.1f} s"
            )
            now = datetime.now(UTC)
            results = {}
            for name, run in (
                ("stats", stats_sql),
                ("stats naive", stats_naive),
                ("weekly summary", summary_sql),
                ("weekly summary naive", summary_naive),
            ):
                results[name] = await best(sessionmaker, run, now, args.repeat)
                print(f"{name}: {results[name]:.3f} s (best of {args.repeat})")
        finally:
            await engine.dispose()
    print(f"stats: {results['stats naive'] / results['stats']:.1f}x faster than naive")
    print(
        "weekly summary: "
        f"{results['weekly summary naive'] / results['weekly summary']:.1f}x faster than naive"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="/stats and weekly summary benchmark")
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
