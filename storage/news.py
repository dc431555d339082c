"""News repository: drafts, approval, scheduling and listing of news broadcasts, the composer's
prompts, the live progress reports, and the RSS items already seen.

Keyword-only functions over an ``AsyncSession``; the caller commits. Every status change is a
conditional UPDATE (``WHERE status IN …``), so a button pressed twice, or in two processes, changes
a news item once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import case, exists, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import broadcast_lifecycle as lifecycle
from storage import prompts
from storage.broadcasts import BroadcastKind, BroadcastStatus
from storage.models import Broadcast, FeedItem, NewsPreview, NewsPrompt, NewsReport

# What the composer can still change, list, send or cancel (``storage.broadcast_lifecycle``).
OPEN_STATUSES = tuple(sorted(lifecycle.OPEN))
LIVE_STATUSES = (BroadcastStatus.SENDING.value,)
DONE_STATUSES = (BroadcastStatus.FINISHED.value, BroadcastStatus.CANCELLED.value)


class PromptAction(StrEnum):
    COMPOSE = "compose"  # the text of a new news item
    TEXT = "text"  # a new text for a draft
    TIME = "time"  # when to send it


def insert_for(session: AsyncSession) -> Any:
    """The INSERT of the session's database, with its ON CONFLICT clause (PostgreSQL or SQLite)."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def get_news(session: AsyncSession, *, broadcast_id: int) -> Broadcast | None:
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    if broadcast is None or broadcast.kind != BroadcastKind.NEWS.value:
        return None
    return broadcast


async def lock_news(
    session: AsyncSession,
    *,
    broadcast_id: int,
    kinds: Sequence[str] = (BroadcastKind.NEWS.value,),
) -> Broadcast | None:
    """The news item (or a broadcast of another of ``kinds``) with its row locked for this
    transaction (PostgreSQL)."""
    result = await session.execute(
        select(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.kind.in_(kinds))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def list_open_news(session: AsyncSession, *, limit: int) -> Sequence[Broadcast]:
    """Drafts, news waiting for approval and scheduled news, the newest first."""
    result = await session.execute(
        select(Broadcast)
        .where(Broadcast.kind == BroadcastKind.NEWS.value, Broadcast.status.in_(OPEN_STATUSES))
        .order_by(Broadcast.id.desc())
        .limit(limit)
    )
    return result.scalars().all()


async def due_scheduled(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[int]:
    """Scheduled broadcasts whose time has come, the oldest time first."""
    result = await session.execute(
        select(Broadcast.id)
        .where(
            Broadcast.status == BroadcastStatus.SCHEDULED.value,
            Broadcast.scheduled_at <= now,
        )
        .order_by(Broadcast.scheduled_at, Broadcast.id)
        .limit(limit)
    )
    return list(result.scalars())


# -- prompts ----------------------------------------------------------------------------------


def add_prompt(
    session: AsyncSession,
    *,
    chat_id: int,
    message_id: int,
    action: PromptAction,
    staff_id: int,
    now: datetime,
    broadcast_id: int | None = None,
) -> NewsPrompt:
    prompt = NewsPrompt(
        chat_id=chat_id,
        message_id=message_id,
        action=action.value,
        broadcast_id=broadcast_id,
        staff_id=staff_id,
        created_at=now,
    )
    session.add(prompt)
    return prompt


async def get_prompt(session: AsyncSession, *, chat_id: int, message_id: int) -> NewsPrompt | None:
    return await prompts.find(session, NewsPrompt, chat_id=chat_id, message_id=message_id)


async def close_prompt(
    session: AsyncSession, *, chat_id: int, message_id: int, now: datetime
) -> bool:
    """Mark the prompt answered; False if it already was."""
    return await prompts.close(session, NewsPrompt, chat_id=chat_id, message_id=message_id, now=now)


# -- previews ---------------------------------------------------------------------------------

# ``news_previews.shown`` of a preview a newer one replaced.
OUTDATED = "outdated"
# What a preview shows for good: a sent or cancelled item is never replaced nor changed again.
SETTLED = (*DONE_STATUSES, OUTDATED)


async def add_preview(
    session: AsyncSession,
    *,
    chat_id: int,
    message_id: int,
    broadcast_id: int,
    shown: str,
    now: datetime,
) -> None:
    """Record a posted preview; the item's earlier previews are replaced by it (outdated)."""
    await session.execute(
        update(NewsPreview)
        .where(NewsPreview.broadcast_id == broadcast_id, NewsPreview.replaced_at.is_(None))
        .values(replaced_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add(
        NewsPreview(
            chat_id=chat_id,
            message_id=message_id,
            broadcast_id=broadcast_id,
            shown=shown,
            posted_at=now,
        )
    )


async def get_preview(
    session: AsyncSession, *, chat_id: int, message_id: int
) -> NewsPreview | None:
    return await session.get(NewsPreview, (chat_id, message_id), populate_existing=True)


async def stale_previews(
    session: AsyncSession, *, broadcast_id: int | None = None, limit: int = 20
) -> list[tuple[NewsPreview, Broadcast]]:
    """Previews whose text shows another state than their item's (or than ``outdated``)."""
    wanted = case((NewsPreview.replaced_at.is_not(None), literal(OUTDATED)), else_=Broadcast.status)
    query = (
        select(NewsPreview, Broadcast)
        .join(Broadcast, Broadcast.id == NewsPreview.broadcast_id)
        .where(NewsPreview.shown.not_in(SETTLED), NewsPreview.shown != wanted)
        .order_by(NewsPreview.posted_at)
        .limit(limit)
    )
    if broadcast_id is not None:
        query = query.where(NewsPreview.broadcast_id == broadcast_id)
    result = await session.execute(query)
    return [(row[0], row[1]) for row in result.all()]


async def claim_shown(
    session: AsyncSession, *, chat_id: int, message_id: int, was: str, shown: str
) -> bool:
    """Whether this process edits the preview to show ``shown`` (once, whoever asks)."""
    result = await session.execute(
        update(NewsPreview)
        .where(
            NewsPreview.chat_id == chat_id,
            NewsPreview.message_id == message_id,
            NewsPreview.shown == was,
        )
        .values(shown=shown)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


# -- progress reports -------------------------------------------------------------------------

# progress_message_id while one process posts the progress message (nobody else posts it).
POSTING = 0


async def claim_progress_post(session: AsyncSession, *, broadcast_id: int) -> bool:
    """Whether this process posts the broadcast's progress message (once, whoever asks)."""
    result = await session.execute(
        update(Broadcast)
        .where(
            Broadcast.id == broadcast_id,
            Broadcast.progress_chat_id.is_not(None),
            Broadcast.progress_message_id.is_(None),
        )
        .values(progress_message_id=POSTING)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def set_progress_message(
    session: AsyncSession, *, broadcast_id: int, message_id: int | None
) -> None:
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id)
        .values(progress_message_id=message_id)
        .execution_options(synchronize_session=False)
    )


async def unposted_progress(session: AsyncSession, *, limit: int = 50) -> list[int]:
    """Started broadcasts whose progress message was not posted yet (Telegram was down)."""
    result = await session.execute(
        select(Broadcast.id)
        .where(
            Broadcast.progress_chat_id.is_not(None),
            Broadcast.progress_message_id.is_(None),
            Broadcast.started_at.is_not(None),
        )
        .order_by(Broadcast.id)
        .limit(limit)
    )
    return list(result.scalars())


async def reports_to_update(session: AsyncSession, *, limit: int = 50) -> list[Broadcast]:
    """Broadcasts with a posted progress message that has not got its final report yet."""
    final = exists().where(
        NewsReport.broadcast_id == Broadcast.id, NewsReport.final_at.is_not(None)
    )
    result = await session.execute(
        select(Broadcast)
        .where(
            Broadcast.progress_chat_id.is_not(None),
            Broadcast.progress_message_id > POSTING,
            Broadcast.started_at.is_not(None),
            ~final,
        )
        .order_by(Broadcast.id)
        .limit(limit)
    )
    return list(result.scalars())


async def claim_report_edit(
    session: AsyncSession, *, broadcast_id: int, now: datetime, interval: timedelta, final: bool
) -> bool:
    """Whether this process may edit the progress message now: at most once per ``interval``
    (whichever process asks), and never again after the final report."""
    await session.execute(
        insert_for(session)(NewsReport)
        .values(broadcast_id=broadcast_id)
        .on_conflict_do_nothing(index_elements=["broadcast_id"])
    )
    values: dict[str, Any] = {"edited_at": now}
    if final:
        values["final_at"] = now
    conditions = [NewsReport.broadcast_id == broadcast_id, NewsReport.final_at.is_(None)]
    if not final:
        conditions.append(
            (NewsReport.edited_at.is_(None)) | (NewsReport.edited_at <= now - interval)
        )
    result = await session.execute(
        update(NewsReport)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


# -- RSS items --------------------------------------------------------------------------------


async def feed_seen_before(session: AsyncSession, *, feed_key: str) -> bool:
    result = await session.execute(select(exists().where(FeedItem.feed_key == feed_key)))
    return bool(result.scalar())


async def remember_items(
    session: AsyncSession,
    *,
    feed_key: str,
    items: Sequence[tuple[str, str | None]],
    now: datetime,
) -> set[str]:
    """Record ``(item_key, link)`` pairs as seen; returns the keys that were new. One INSERT …
    ON CONFLICT DO NOTHING: of two processes fetching the same feed, one gets each item."""
    if not items:
        return set()
    rows = [
        {"feed_key": feed_key, "item_key": key, "link": link, "seen_at": now} for key, link in items
    ]
    result = await session.execute(
        insert_for(session)(FeedItem)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["feed_key", "item_key"])
        .returning(FeedItem.item_key)
    )
    return set(result.scalars())


async def link_item(
    session: AsyncSession, *, feed_key: str, item_key: str, broadcast_id: int
) -> None:
    await session.execute(
        update(FeedItem)
        .where(FeedItem.feed_key == feed_key, FeedItem.item_key == item_key)
        .values(broadcast_id=broadcast_id)
        .execution_options(synchronize_session=False)
    )
