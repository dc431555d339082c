"""The figures ``GET /metrics`` reads from the database at scrape time, in as few statements as
possible: the delivery queue and the replies still owed in one (``live_figures``); the open
tickets of each department come from the desk's own counting (``storage.desk.queue``).

Deliveries are counted for the broadcasts still in progress only (sending, being planned, or
cancelled with deliveries in flight): that is the queue the engine works through, found through
the deliveries' ``(broadcast_id, state, …)`` index, never a walk over every delivery ever made.
A finished broadcast's totals are kept on its own row (``Broadcast.sent_count`` …).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcasts import BroadcastStatus
from storage.desk.queue import count_where
from storage.models import Broadcast, Delivery, ProcessedUpdate

# Deliveries sent within this window make the engine's current rate.
RATE_WINDOW = timedelta(minutes=1)
PENDING = "pending"
SENT = "sent"
_LIVE = (BroadcastStatus.SENDING.value, BroadcastStatus.PLANNING.value)


@dataclass(frozen=True, slots=True)
class LiveFigures:
    # (channel, state) -> deliveries of the broadcasts in progress.
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)
    # channel -> pending deliveries whose next attempt is due: what waits for the engine.
    due: dict[str, int] = field(default_factory=dict)
    # channel -> deliveries sent within ``RATE_WINDOW``.
    sent_recently: dict[str, int] = field(default_factory=dict)
    # channel -> updates whose replies are still owed (handlers.owed).
    owed: dict[str, int] = field(default_factory=dict)


async def live_figures(session: AsyncSession, *, now: datetime) -> LiveFigures:
    """The delivery queue by channel and state, what is due, what went out in the last minute,
    and the owed replies by channel: one statement."""
    live = select(Broadcast.id).where(
        or_(
            Broadcast.status.in_(_LIVE),
            and_(
                Broadcast.status == BroadcastStatus.CANCELLED.value,
                Broadcast.finished_at.is_(None),
            ),
        )
    )
    deliveries = (
        select(
            literal("delivery").label("what"),
            Delivery.channel,
            Delivery.state,
            func.count().label("total"),
            count_where(and_(Delivery.state == PENDING, Delivery.next_attempt_at <= now)),
            count_where(and_(Delivery.state == SENT, Delivery.sent_at >= now - RATE_WINDOW)),
        )
        .where(Delivery.broadcast_id.in_(live))
        .group_by(Delivery.channel, Delivery.state)
    )
    owed = (
        select(
            literal("owed"),
            ProcessedUpdate.channel,
            literal(""),
            func.count(),
            literal(0),
            literal(0),
        )
        .where(ProcessedUpdate.owed.is_not(None))
        .group_by(ProcessedUpdate.channel)
    )
    figures = LiveFigures()
    for what, channel, state, total, due, recent in await session.execute(
        union_all(deliveries, owed)
    ):
        if what == "owed":
            figures.owed[channel] = int(total)
            continue
        figures.deliveries[(channel, state)] = int(total)
        figures.due[channel] = figures.due.get(channel, 0) + int(due)
        figures.sent_recently[channel] = figures.sent_recently.get(channel, 0) + int(recent)
    return figures
