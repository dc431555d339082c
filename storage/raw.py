"""Plain asyncpg statements inside a session's transaction, for the few statements every
resident update runs on PostgreSQL: the claim, the follow-up's append, the vote; and outside
any transaction (``outside_transaction``) for the staff copy of a follow-up.

Through SQLAlchemy each of them cost more of the server's CPU (statement cache keys, parameter
processing, result rows, a greenlet switch) than the work PostgreSQL does for it. Elsewhere, and
on SQLite, the callers keep their SQLAlchemy statements (``driver`` returns None).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


async def driver(session: AsyncSession) -> Any | None:
    """The asyncpg connection of ``session``'s transaction, once that transaction has begun on
    the server (SQLAlchemy begins it with its first statement); None otherwise, or off
    PostgreSQL."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    connection = await (await session.connection()).get_raw_connection()
    found = connection.driver_connection
    if found is None or not found.is_in_transaction():
        return None
    return found


async def started(session: AsyncSession) -> Any | None:
    """As :func:`driver`, beginning the transaction on the server first if it has not begun
    (for a statement whose lock must hold until the transaction ends). None off PostgreSQL."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    found = await driver(session)
    if found is None:
        await session.execute(_BEGIN)
        found = await driver(session)
    return found


_BEGIN = text("SELECT 1")


@contextlib.asynccontextmanager
async def outside_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Any | None]:
    """A pooled asyncpg connection with no transaction open: each statement commits on its
    own, without the BEGIN and COMMIT round trips a session's transaction costs (for a write
    that is one statement, after a read that needs no snapshot with it). None off PostgreSQL.

    SQLAlchemy begins a transaction on the server only with its first statement, and none is
    sent through the session here, so closing it sends nothing either."""
    async with sessionmaker() as session:
        if session.get_bind().dialect.name != "postgresql":
            yield None
            return
        connection = await (await session.connection()).get_raw_connection()
        yield connection.driver_connection
