"""What linking costs broadcast planning (PostgreSQL): the planning statement of
``storage.planning`` (persons, each through their preferred messenger: alias rows left out,
the address a ``CASE`` that reads the alias only for linked rows that need it) against the same
``INSERT … SELECT`` without linking (every messenger account a recipient), on the same residents
in the same run.

    python -m bench.link_planning [--residents 300000] [--linked-every 30]

Residents are seeded as in ``bench/broadcast_planning.py`` (both channels, eight district
values, two topics each, 2 % inactive); then every ``--linked-every``-th resident (a Viber one)
becomes the alias of the Telegram resident before it, half of those people preferring Viber.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import and_, exists, insert, literal, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.broadcast_planning import DISTRICTS, SEED, SEED_TOPICS
from bot.migrate import upgrade_to_head
from storage.broadcasts import create_broadcast
from storage.db import create_engine, create_sessionmaker
from storage.models import Delivery, Resident, ResidentTopic, UTCDateTime
from storage.planning import plan_broadcast
from tests.conftest import pg_database

LINK = """
UPDATE residents AS alias SET linked_to = alias.id - 1
WHERE alias.id % :every = 0 AND alias.channel = 'viber'
"""
PREFER = """
UPDATE residents SET preferred_channel = 'viber'
WHERE id IN (SELECT linked_to FROM residents WHERE linked_to IS NOT NULL AND id % 2 = 0)
"""


async def _unlinked_plan(sessionmaker: async_sessionmaker[AsyncSession], topic: str) -> float:
    """The statement as it was before linking (every account a recipient); rolled back."""
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        broadcast = await create_broadcast(session, text="old", now=now, topics=[topic])
        started = time.perf_counter()
        recipients = select(
            literal(broadcast.id),
            Resident.id,
            Resident.channel,
            Resident.external_id,
            literal("pending"),
            literal(0),
            literal(0),
            literal(now, UTCDateTime()),
        ).where(
            and_(
                true(),
                Resident.is_active.is_(True),
                Resident.subscribed.is_(True),
                Resident.consent_at.is_not(None),
                Resident.erased_at.is_(None),
                exists().where(
                    ResidentTopic.resident_id == Resident.id, ResidentTopic.topic == topic
                ),
                Resident.digest == "instant",
            )
        )
        await session.execute(
            insert(Delivery).from_select(
                [
                    Delivery.broadcast_id,
                    Delivery.resident_id,
                    Delivery.channel,
                    Delivery.external_id,
                    Delivery.state,
                    Delivery.attempts,
                    Delivery.deferrals,
                    Delivery.next_attempt_at,
                ],
                recipients,
            )
        )
        elapsed = time.perf_counter() - started
        await session.rollback()
    return elapsed


async def main(args: argparse.Namespace) -> None:
    async with pg_database() as url:
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
            sessionmaker = create_sessionmaker(engine)
            async with engine.begin() as connection:
                districts = ", ".join(f"'{d}'" for d in DISTRICTS)
                await connection.execute(
                    text(SEED.format(districts=districts)), {"count": args.residents}
                )
                await connection.execute(text(SEED_TOPICS))
                await connection.execute(text(LINK), {"every": args.linked_every})
                await connection.execute(text(PREFER))
                await connection.execute(text("ANALYZE"))
                linked = (
                    await connection.execute(
                        text("SELECT count(*) FROM residents WHERE linked_to IS NOT NULL")
                    )
                ).scalar_one()
            print(f"seeded {args.residents:,} residents, {linked:,} of them linked as aliases")
            old = await _unlinked_plan(sessionmaker, "outages")
            async with sessionmaker() as session, session.begin():
                broadcast = await create_broadcast(
                    session, text="new", now=datetime.now(UTC), topics=["outages"]
                )
            started = time.perf_counter()
            async with sessionmaker() as session, session.begin():
                planned = await plan_broadcast(
                    session, broadcast_id=broadcast.id, now=datetime.now(UTC)
                )
            new = time.perf_counter() - started
            old_again = await _unlinked_plan(sessionmaker, "outages")
        finally:
            await engine.dispose()
    print(f"without linking (every account): {old:.2f} s, again {old_again:.2f} s")
    print(f"with linking (persons, preferred messenger): {new:.2f} s for {planned:,} recipients")
    print(f"ratio: {new / min(old, old_again):.2f}x")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Planning cost of linked residents")
    parser.add_argument("--residents", type=int, default=300_000)
    parser.add_argument("--linked-every", type=int, default=30)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
