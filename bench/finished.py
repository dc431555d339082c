"""Waiting for a benchmark's broadcast to finish, cheaply: the broadcast benchmarks charge the
CPU of their process to the engine, so the watch reads one status every 0.2 s (counting every
delivery each time, as they once did, was about a tenth of what they charged)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Broadcast


async def wait_finished(
    sessionmaker: async_sessionmaker[AsyncSession], broadcast_id: int, every: float = 0.2
) -> None:
    while True:
        await asyncio.sleep(every)
        async with sessionmaker() as session:
            status = await session.scalar(
                select(Broadcast.status).where(Broadcast.id == broadcast_id)
            )
        if status == "finished":
            return
