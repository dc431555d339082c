"""De-duplication of incoming updates (Telegram ``update_id``, Viber ``message_token``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


async def claim_update(
    session: AsyncSession, *, channel: str, update_key: str, now: datetime
) -> bool:
    """Record the update as processed in the caller's transaction; False if it already was.

    The row commits together with everything the update changed, so a crash before the commit
    leaves the update unclaimed and its redelivery is processed in full. One statement: a
    concurrent duplicate waits on the primary key until the first transaction ends, then
    inserts nothing (committed) or claims it itself (rolled back).
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ProcessedUpdate)
        .values(channel=channel, update_key=update_key, processed_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "update_key"])
        .returning(ProcessedUpdate.update_key)
    )
    result = await session.execute(statement)
    return result.first() is not None


async def prune_processed(session: AsyncSession, *, older_than: timedelta, now: datetime) -> int:
    """Forget claims older than any messenger redelivers (Telegram: 24 h; Viber: about 1 h)."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
