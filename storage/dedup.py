"""De-duplication of incoming updates (Telegram ``update_id``, Viber ``message_token``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


async def claim_update(
    session: AsyncSession, *, channel: str, update_key: str, now: datetime
) -> bool:
    """Record the update as processed in the caller's transaction; False if it already was.

    The row commits together with everything the update changed, so a crash before the commit
    leaves the update unclaimed and its redelivery is processed in full. A concurrent duplicate
    blocks on the primary key and fails at flush; the caller treats that as "already processed".
    """
    existing = await session.execute(
        select(ProcessedUpdate.update_key).where(
            ProcessedUpdate.channel == channel, ProcessedUpdate.update_key == update_key
        )
    )
    if existing.first() is not None:
        return False
    session.add(ProcessedUpdate(channel=channel, update_key=update_key, processed_at=now))
    await session.flush()
    return True


async def prune_processed(session: AsyncSession, *, older_than: timedelta, now: datetime) -> int:
    """Forget claims older than any messenger redelivers (Telegram: 24 h; Viber: about 1 h)."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
