"""Plain asyncpg statements inside a session's transaction, for the few statements every
resident update runs on PostgreSQL: the claim, the follow-up's append, the staff copy's record.

Through SQLAlchemy each of them cost more of the server's CPU (statement cache keys, parameter
processing, result rows, a greenlet switch) than the work PostgreSQL does for it. Elsewhere, and
on SQLite, the callers keep their SQLAlchemy statements (``driver`` returns None).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


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
