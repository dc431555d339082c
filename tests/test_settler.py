"""Regression: a reply recorded as sent while the Settler was writing its previous batch stayed
owed (the batch had already been taken), so the owed-replies job would have sent it again. Seen
as a flaky ``test_blocked_once`` under load. The first batch's write is held here by a row lock
of another transaction (PostgreSQL), so the second key surely arrives mid-write."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from bot.migrate import upgrade_to_head
from handlers.owed import SETTLE_DELAY, Settler
from storage.db import create_engine, create_sessionmaker
from storage.dedup import claim_update, owe
from storage.models import ProcessedUpdate
from storage.vocabulary import system_clock

pytestmark = pytest.mark.migrated_database

FIRST, SECOND = ("viber", "u-1"), ("viber", "u-2")


async def test_a_key_arriving_while_a_batch_is_written_is_settled_too(pg_url: str) -> None:
    engine = create_engine(pg_url)
    await upgrade_to_head(engine)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            for channel, key in (FIRST, SECOND):
                assert await claim_update(
                    session, channel=channel, update_key=key, now=system_clock()
                )
                await owe(session, channel=channel, update_key=key, owed={"replies": []})
        settler = Settler(sessionmaker)
        async with sessionmaker() as blocker, blocker.begin():
            # Hold the first key's row: the Settler's UPDATE waits on it.
            await blocker.execute(
                text("SELECT 1 FROM processed_updates WHERE update_key = 'u-1' FOR UPDATE")
            )
            settler.done(FIRST)
            await asyncio.sleep(SETTLE_DELAY * 3)  # the batch [FIRST] is now being written
            settler.done(SECOND)
        # No close() before looking: closing flushes what is left and would hide the bug.
        await asyncio.sleep(SETTLE_DELAY * 5)
        async with sessionmaker() as session:
            owed = await session.scalars(
                select(ProcessedUpdate.update_key).where(ProcessedUpdate.owed.is_not(None))
            )
            assert owed.all() == []
        await asyncio.wait_for(settler.close(), timeout=10)
    finally:
        await engine.dispose()
