"""Planning a broadcast: one INSERT … SELECT of its audience, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Delivery
from storage.planning import plan_broadcast
from tests.test_broadcast_helpers import Person, add_residents, new_broadcast

PEOPLE = [
    Person("telegram", "1", district="ternivskyi", topics=("outages",)),
    Person("telegram", "2", district="pokrovskyi", topics=("outages", "events")),
    Person("telegram", "3", district="city", topics=("outages",)),
    Person("telegram", "4", district=None, topics=("outages",)),
    Person("viber", "v1", district="ternivskyi", topics=("outages",)),
    Person("viber", "v2", district="ternivskyi", topics=("events",)),
    # Excluded from everything: unreachable, unsubscribed, no consent.
    Person("telegram", "5", district="ternivskyi", topics=("outages",), active=False),
    Person("telegram", "6", district="ternivskyi", topics=("outages",), subscribed=False),
    Person("viber", "v3", district="ternivskyi", topics=("outages",), consent=False),
    # Digest residents get ordinary news in their digest, urgent news at once.
    Person("telegram", "7", district="ternivskyi", topics=("outages",), digest="daily"),
]


async def recipients(sessionmaker: async_sessionmaker[AsyncSession], broadcast_id: int) -> set[str]:
    async with sessionmaker() as session:
        result = await session.execute(
            select(Delivery.external_id).where(Delivery.broadcast_id == broadcast_id)
        )
        return set(result.scalars())


async def test_targeting_by_topic_district_and_channel(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_residents(sessionmaker, PEOPLE)

    everyone, count = await new_broadcast(sessionmaker)
    assert await recipients(sessionmaker, everyone) == {"1", "2", "3", "4", "v1", "v2"}
    assert count == 6

    outages, _ = await new_broadcast(sessionmaker, topics=["outages"])
    assert await recipients(sessionmaker, outages) == {"1", "2", "3", "4", "v1"}

    # District news: that district and the "whole city" residents, not the undecided.
    ternivskyi, _ = await new_broadcast(sessionmaker, districts=["ternivskyi"])
    assert await recipients(sessionmaker, ternivskyi) == {"1", "3", "v1", "v2"}

    both, _ = await new_broadcast(
        sessionmaker, topics=["outages"], districts=["ternivskyi"], channels=["viber"]
    )
    assert await recipients(sessionmaker, both) == {"v1"}

    events_telegram, _ = await new_broadcast(sessionmaker, topics=["events"], channels=["telegram"])
    assert await recipients(sessionmaker, events_telegram) == {"2"}

    urgent, _ = await new_broadcast(
        sessionmaker, topics=["outages"], districts=["ternivskyi"], urgent=True
    )
    assert await recipients(sessionmaker, urgent) == {"1", "3", "v1", "7"}


async def test_planning_twice_is_a_noop(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await add_residents(sessionmaker, PEOPLE)
    broadcast_id, count = await new_broadcast(sessionmaker)
    assert count == 6
    async with sessionmaker() as session, session.begin():
        again = await plan_broadcast(session, broadcast_id=broadcast_id, now=datetime.now(UTC))
    assert again is None
    assert len(await recipients(sessionmaker, broadcast_id)) == 6


async def test_no_audience_plans_nothing(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await add_residents(sessionmaker, PEOPLE)
    broadcast_id, count = await new_broadcast(sessionmaker, topics=["decisions"])
    assert count == 0
    assert await recipients(sessionmaker, broadcast_id) == set()
