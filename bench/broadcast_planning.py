"""Planning a broadcast to 1,000,000 residents on PostgreSQL: one INSERT … SELECT, against the
baseline of most bots (load the residents into Python and insert a row per recipient) in the
same run.

    python -m bench.broadcast_planning [--residents 1000000] [--baseline 100000]

Residents are seeded with SQL (generate_series) across both channels, the seven districts and
the four topics. Reports the planning time, the recipients planned, and the process's peak
memory (ru_maxrss) around the planning.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.migrate import upgrade_to_head
from storage.broadcasts import create_broadcast
from storage.db import create_engine, create_sessionmaker
from storage.models import Delivery, Resident
from storage.planning import audience, plan_broadcast, recipients_from
from tests.conftest import pg_database

DISTRICTS = (
    "dovhyntsivskyi",
    "inhuletskyi",
    "metalurhiinyi",
    "pokrovskyi",
    "saksahanskyi",
    "ternivskyi",
    "tsentralno_miskyi",
    "city",
)
SEED = """
INSERT INTO residents (channel, external_id, name, language, consent_at, policy_version,
    district, digest, subscribed, is_active, created_at, last_seen_at)
SELECT CASE WHEN n % 3 = 0 THEN 'viber' ELSE 'telegram' END, 'r' || n, 'Resident ' || n, 'uk',
    now(), 'bench', (ARRAY[{districts}])[1 + n % 8], 'instant', true, n % 50 <> 0, now(), now()
FROM generate_series(1, :count) AS n
"""
SEED_TOPICS = """
INSERT INTO resident_topics (resident_id, topic)
SELECT id, topic FROM residents, unnest(ARRAY['city_news', 'outages']) AS topic
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _baseline(sessionmaker: async_sessionmaker[AsyncSession], limit: int) -> float:
    """Most bots: select the audience into Python, then insert one delivery per resident."""
    async with sessionmaker() as session, session.begin():
        broadcast = await create_broadcast(
            session, text="baseline", now=datetime.now(UTC), topics=["outages"]
        )
        started = time.perf_counter()
        rows = (
            await session.execute(
                select(Resident.id, Resident.channel, Resident.external_id)
                .select_from(recipients_from())
                .where(audience(broadcast))
                .limit(limit)
            )
        ).all()
        session.add_all(
            Delivery(
                broadcast_id=broadcast.id,
                resident_id=row.id,
                channel=row.channel,
                external_id=row.external_id,
                state="pending",
                attempts=0,
                deferrals=0,
                next_attempt_at=datetime.now(UTC),
            )
            for row in rows
        )
        await session.flush()
        elapsed = time.perf_counter() - started
        await session.rollback()
    return len(rows) / elapsed


async def main(args: argparse.Namespace) -> None:
    async with pg_database() as url:
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
            sessionmaker = create_sessionmaker(engine)
            seeded = time.perf_counter()
            async with engine.begin() as connection:
                districts = ", ".join(f"'{d}'" for d in DISTRICTS)
                await connection.execute(
                    text(SEED.format(districts=districts)), {"count": args.residents}
                )
                await connection.execute(text(SEED_TOPICS))
                await connection.execute(text("ANALYZE"))
            print(f"seeded {args.residents:,} residents in {time.perf_counter() - seeded:.1f} s")
            before = _peak_mb()
            async with sessionmaker() as session, session.begin():
                broadcast = await create_broadcast(
                    session, text="Відключення води", now=datetime.now(UTC), topics=["outages"]
                )
            started = time.perf_counter()
            async with sessionmaker() as session, session.begin():
                planned = await plan_broadcast(
                    session, broadcast_id=broadcast.id, now=datetime.now(UTC)
                )
            elapsed = time.perf_counter() - started
            during = _peak_mb()
            # The baseline runs after the planning, so its objects do not inflate the peak above.
            baseline_rate = await _baseline(sessionmaker, args.baseline)
            async with sessionmaker() as session:
                stored = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.broadcast_id == broadcast.id)
                )
        finally:
            await engine.dispose()
    if planned is None or planned != stored:
        raise RuntimeError(f"planned {planned}, stored {stored}")
    print(f"planned {planned:,} recipients in {elapsed:.2f} s ({planned / elapsed:,.0f}/s)")
    print(f"baseline (row per recipient from Python, {args.baseline:,}): {baseline_rate:,.0f}/s")
    print(f"ratio: {planned / elapsed / baseline_rate:.1f}x")
    print(f"peak memory of this process: {before:.0f} MB before planning, {during:.0f} MB after it")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Broadcast planning benchmark")
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=100_000)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
