"""De-duplication of incoming updates (Telegram ``update_id``, Viber ``message_token``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, null, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import raw
from storage.models import ConversationState, ProcessedUpdate

JSONDict = dict[str, Any]
# Claims are kept this long (pruned nightly): Telegram redelivers for up to 24 h, Viber for
# about an hour, so a week is plenty. A Viber callback older than this is refused as a replay
# (bot.viber.shape), since its claim may be gone.
DEDUP_RETENTION = timedelta(days=7)


async def claim_update(
    session: AsyncSession,
    *,
    channel: str,
    update_key: str,
    now: datetime,
    owed: JSONDict | None = None,
    drop_state_of: int | None = None,
) -> bool:
    """Record the update as processed in the caller's transaction; False if it already was.
    ``owed``: the replies kept on the claim until they are sent (``handlers.owed``);
    ``drop_state_of``: a resident whose conversation state goes with the claim (the turn ended
    their flow), in the same statement on PostgreSQL.

    The row commits together with everything the update changed, so a crash before the commit
    leaves the update unclaimed and its redelivery is processed in full. One statement: a
    concurrent duplicate waits on the primary key until the first transaction ends, then
    inserts nothing (committed) or claims it itself (rolled back).
    """
    pg = await raw.driver(session)
    if pg is not None:
        if drop_state_of is None:
            claimed = await pg.fetchval(_CLAIM, channel, update_key, now, _json(owed))
        else:
            claimed = await pg.fetchval(
                _CLAIM_ENDING, channel, update_key, now, _json(owed), drop_state_of
            )
        return claimed is not None
    if drop_state_of is not None:
        await session.execute(
            delete(ConversationState).where(ConversationState.resident_id == drop_state_of)
        )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(ProcessedUpdate)
        .values(channel=channel, update_key=update_key, processed_at=now, owed=owed)
        .on_conflict_do_nothing(index_elements=["channel", "update_key"])
        .returning(ProcessedUpdate.update_key)
    )
    result = await session.execute(statement)
    return result.first() is not None


async def highest_claimed(session: AsyncSession, *, channel: str, prefix: str) -> int | None:
    """The largest N among this channel's claim keys ``prefix`` + N (digits), if any.

    Numbers of one prefix compare as text once their lengths are equal: the longest key first,
    then the greatest, finds the largest number without a cast either database would spell
    differently."""
    key = ProcessedUpdate.update_key
    found = await session.scalar(
        select(key)
        .where(ProcessedUpdate.channel == channel, key.startswith(prefix, autoescape=True))
        .order_by(func.length(key).desc(), key.desc())
        .limit(1)
    )
    number = found[len(prefix) :] if found is not None else ""
    return int(number) if number.isdigit() else None


_CLAIM = (
    "INSERT INTO processed_updates (channel, update_key, processed_at, owed) "
    "VALUES ($1, $2, $3, $4::json) ON CONFLICT (channel, update_key) DO NOTHING RETURNING 1"
)


# The same, deleting the resident's conversation state ($5) in the same statement.
_CLAIM_ENDING = "WITH ended AS (DELETE FROM conversation_states WHERE resident_id = $5) " + _CLAIM


def _json(owed: JSONDict | None) -> str | None:
    return None if owed is None else json.dumps(owed, ensure_ascii=False, separators=(",", ":"))


async def prune_processed(session: AsyncSession, *, older_than: timedelta, now: datetime) -> int:
    """Forget claims older than any messenger redelivers (Telegram: 24 h; Viber: about 1 h)."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < now - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- replies owed for a processed update (handlers.owed) ----------------------------------------


async def owe(session: AsyncSession, *, channel: str, update_key: str, owed: JSONDict) -> None:
    """Keep the replies for this update on its claim, in the caller's transaction."""
    await session.execute(
        update(ProcessedUpdate)
        .where(ProcessedUpdate.channel == channel, ProcessedUpdate.update_key == update_key)
        .values(owed=owed)
        .execution_options(synchronize_session=False)
    )


async def settle(session: AsyncSession, *, keys: Sequence[tuple[str, str]]) -> None:
    """The replies of these updates went out (or never can): nothing is owed for them."""
    if not keys:
        return
    await session.execute(
        update(ProcessedUpdate)
        .where(tuple_(ProcessedUpdate.channel, ProcessedUpdate.update_key).in_(list(keys)))
        .values(owed=null())
        .execution_options(synchronize_session=False)
    )


async def owed_since_before(
    session: AsyncSession, *, before: datetime, limit: int
) -> list[tuple[str, str, datetime, JSONDict]]:
    """Replies still owed for updates processed before ``before``, oldest first."""
    result = await session.execute(
        select(
            ProcessedUpdate.channel,
            ProcessedUpdate.update_key,
            ProcessedUpdate.processed_at,
            ProcessedUpdate.owed,
        )
        .where(ProcessedUpdate.owed.is_not(None), ProcessedUpdate.processed_at < before)
        .order_by(ProcessedUpdate.processed_at)
        .limit(limit)
    )
    return [(channel, key, at, owed) for channel, key, at, owed in result.all() if owed is not None]
