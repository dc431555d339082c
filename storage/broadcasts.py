"""Broadcast repository: the deliveries queue the engine claims from and records into.

Keyword-only functions over an ``AsyncSession``; the caller commits. The same statements run on
SQLite and PostgreSQL; on PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` so several processes
share a broadcast without sending a delivery twice (SQLite ignores the clause: one writer at a
time, and the claiming UPDATE is atomic there anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import BigInteger, Table, and_, any_, bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast, Delivery, Resident, UTCDateTime
from storage.residents import mark_blocked


class BroadcastKind(StrEnum):
    NEWS = "news"
    DIGEST = "digest"
    POLL = "poll"
    # A closed poll's results, sent to its voters.
    POLL_RESULTS = "poll_results"
    # An incident's status update, to its reporters and followers (storage.incidents).
    INCIDENT = "incident"


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    # Under the two-person rule: waiting for a second editor's approval.
    PENDING_APPROVAL = "pending_approval"
    # Approved (or no approval needed), to be planned at ``scheduled_at``.
    SCHEDULED = "scheduled"
    SENDING = "sending"
    # A digest run writing its deliveries batch by batch: the engine does not claim from it
    # until the run marks it ``sending`` (a crashed run's is released by the next run).
    PLANNING = "planning"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


# Broadcasts whose deliveries the engine still works on (a cancelled one may have some in flight).
LIVE_STATUSES = (BroadcastStatus.SENDING.value, BroadcastStatus.CANCELLED.value)
OPEN_STATES = (DeliveryState.PENDING.value, DeliveryState.SENDING.value)
# Everything not yet over: from the shell and the operator chat alike.
CANCELLABLE_STATUSES = (
    BroadcastStatus.DRAFT.value,
    BroadcastStatus.PENDING_APPROVAL.value,
    BroadcastStatus.SCHEDULED.value,
    BroadcastStatus.SENDING.value,
)
ERROR_MAX = 500
_ID_ARRAY = ARRAY(BigInteger)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this process leased: it may send it until ``lease_until``."""

    id: int
    broadcast_id: int
    resident_id: int | None
    external_id: str
    attempts: int
    deferrals: int
    lease_until: datetime
    # This recipient's own text (a digest); None: the broadcast's text.
    body: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed delivery. ``state`` pending means "try again at retry_at";
    ``attempt``/``deferral`` say whether the try counts as a failure or as a 429 deferral."""

    delivery_id: int
    state: DeliveryState
    resident_id: int | None = None
    message_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    attempt: bool = False
    deferral: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    broadcast_id: int
    status: str
    total: int
    sent: int
    blocked: int
    failed: int
    pending: int  # pending and in flight
    cancelled: int
    rate: float  # messages per second: recent for a running broadcast, average for a finished one

    @property
    def done(self) -> bool:
        return self.pending == 0


async def create_broadcast(
    session: AsyncSession,
    *,
    text: str,
    now: datetime,
    title: str | None = None,
    media_kind: str | None = None,
    media_ref: str | None = None,
    media_name: str | None = None,
    topics: Sequence[str] = (),
    districts: Sequence[str] = (),
    channels: Sequence[str] = (),
    urgent: bool = False,
    created_by: int | None = None,
) -> Broadcast:
    broadcast = Broadcast(
        title=title,
        text=text,
        media_kind=media_kind,
        media_ref=media_ref,
        media_name=media_name,
        topics=list(topics),
        districts=list(districts),
        channels=list(channels),
        urgent=urgent,
        created_by=created_by,
        status=BroadcastStatus.DRAFT.value,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def live_broadcast_ids(session: AsyncSession, *, urgent_only: bool = False) -> list[int]:
    """Broadcasts being delivered, urgent ones first, then oldest first. ``urgent_only`` (quiet
    hours): only urgent ones; the others' deliveries stay pending until it is no longer quiet."""
    statement = select(Broadcast.id).where(Broadcast.status == BroadcastStatus.SENDING.value)
    if urgent_only:
        statement = statement.where(Broadcast.urgent.is_(True))
    result = await session.execute(statement.order_by(Broadcast.urgent.desc(), Broadcast.id))
    return list(result.scalars())


async def cancelled_broadcast_ids(session: AsyncSession) -> list[int]:
    """Cancelled broadcasts that may still have deliveries in flight."""
    result = await session.execute(
        select(Broadcast.id).where(
            Broadcast.status == BroadcastStatus.CANCELLED.value, Broadcast.finished_at.is_(None)
        )
    )
    return list(result.scalars())


async def claim_due(
    session: AsyncSession,
    *,
    channel: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    urgent_only: bool = False,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of ``channel``: mark them ``sending`` until
    ``now + lease`` and return them. Deliveries whose lease expired (their process died while
    sending) become claimable again first. ``urgent_only`` (quiet hours): only deliveries of
    urgent broadcasts."""
    lease_until = now + lease
    claimed: list[Claimed] = []
    # Core statements on the table: the ORM's handling of 1,500 returned rows per claim cost
    # more than the rows' own Claimed objects.
    table = cast(Table, Delivery.__table__)
    for broadcast_id in await live_broadcast_ids(session, urgent_only=urgent_only):
        if len(claimed) >= limit:
            break
        await session.execute(
            update(table)
            .where(
                table.c.broadcast_id == broadcast_id,
                table.c.state == DeliveryState.SENDING.value,
                table.c.lease_until < now,
            )
            .values(state=DeliveryState.PENDING.value, lease_until=None)
        )
        due = (
            select(table.c.id)
            .where(
                table.c.broadcast_id == broadcast_id,
                table.c.state == DeliveryState.PENDING.value,
                table.c.next_attempt_at <= now,
                table.c.channel == channel,
            )
            # next_attempt_at follows the index, so the scan stops at the limit.
            .order_by(table.c.next_attempt_at)
            .limit(limit - len(claimed))
            .with_for_update(skip_locked=True)
        )
        result = await session.execute(
            update(table)
            .where(table.c.id.in_(due.scalar_subquery()))
            .values(state=DeliveryState.SENDING.value, lease_until=lease_until)
            .returning(
                table.c.id,
                table.c.broadcast_id,
                table.c.resident_id,
                table.c.external_id,
                table.c.attempts,
                table.c.deferrals,
                table.c.body,
            )
        )
        claimed.extend(
            Claimed(
                id=row[0],
                broadcast_id=row[1],
                resident_id=row[2],
                external_id=row[3],
                attempts=row[4],
                deferrals=row[5],
                lease_until=lease_until,
                body=row[6],
            )
            for row in result
        )
    return claimed


async def record_outcomes(
    session: AsyncSession, *, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Write the outcomes of sent deliveries in one statement (executemany), and mark residents
    who blocked the bot inactive. Only deliveries still ``sending`` are touched: a delivery whose
    lease expired and was claimed again belongs to its new owner."""
    if not outcomes:
        return
    # A Viber broadcast call gives one token to its 300 receivers: those become one UPDATE … IN
    # instead of 300 rows of an executemany.
    shared: dict[str, list[int]] = {}
    for item in outcomes:
        if item.state is DeliveryState.SENT and item.message_id and not item.error:
            shared.setdefault(item.message_id, []).append(item.delivery_id)
    grouped = {message_id: ids for message_id, ids in shared.items() if len(ids) > 1}
    postgres = session.get_bind().dialect.name == "postgresql"
    for message_id, ids in grouped.items():
        # On PostgreSQL the ids go as one array parameter: ``IN`` renders a parameter per id
        # (compiled for every call, and a new statement for PostgreSQL to parse and plan for
        # every list length): a large share of the engine's CPU per Viber recipient.
        chosen = (
            Delivery.id == any_(bindparam("ids", ids, type_=_ID_ARRAY))
            if postgres
            else Delivery.id.in_(ids)
        )
        await session.execute(
            update(Delivery)
            .where(chosen, Delivery.state == DeliveryState.SENDING.value)
            .values(
                state=DeliveryState.SENT.value,
                message_id=message_id,
                last_error=None,
                sent_at=now,
                next_attempt_at=now,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
    done = {delivery_id for ids in grouped.values() for delivery_id in ids}
    await _record_each(session, [item for item in outcomes if item.delivery_id not in done], now)
    blocked = sorted({item.delivery_id for item in outcomes if item.state is DeliveryState.BLOCKED})
    if blocked:
        # The messenger account the delivery went to, found by its address: for a person
        # linked in both messengers that is not always the row ``resident_id`` names.
        result = await session.execute(
            select(Resident)
            .join(
                Delivery,
                and_(
                    Delivery.channel == Resident.channel,
                    Delivery.external_id == Resident.external_id,
                ),
            )
            .where(Delivery.id.in_(blocked), Resident.is_active.is_(True))
        )
        for resident in result.scalars().unique():
            mark_blocked(resident, now=now)


async def _record_each(session: AsyncSession, outcomes: Sequence[Outcome], now: datetime) -> None:
    if not outcomes:
        return
    table = cast(Table, Delivery.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("_id"), table.c.state == DeliveryState.SENDING.value)
        .values(
            state=bindparam("_state"),
            message_id=bindparam("_message_id"),
            last_error=bindparam("_error"),
            sent_at=bindparam("_sent_at", type_=UTCDateTime()),
            next_attempt_at=bindparam("_next", type_=UTCDateTime()),
            attempts=table.c.attempts + bindparam("_attempt"),
            deferrals=table.c.deferrals + bindparam("_deferral"),
            lease_until=None,
        )
    )
    rows = [
        {
            "_id": item.delivery_id,
            "_state": item.state.value,
            "_message_id": item.message_id,
            "_error": item.error[:ERROR_MAX] if item.error else None,
            "_sent_at": now if item.state is DeliveryState.SENT else None,
            "_next": item.retry_at or now,
            "_attempt": int(item.attempt),
            "_deferral": int(item.deferral),
        }
        for item in outcomes
    ]
    await session.execute(statement, rows)


async def state_counts(session: AsyncSession, *, broadcast_id: int) -> dict[str, int]:
    result = await session.execute(
        select(Delivery.state, func.count())
        .where(Delivery.broadcast_id == broadcast_id)
        .group_by(Delivery.state)
    )
    return {state: int(count) for state, count in result.all()}


async def finish_done(session: AsyncSession, *, now: datetime) -> list[int]:
    """Close every live broadcast with nothing pending or in flight: record finished_at and the
    final counts. Returns the ids closed now (idempotent across processes)."""
    result = await session.execute(
        select(Broadcast.id, Broadcast.status).where(
            Broadcast.status.in_(LIVE_STATUSES), Broadcast.finished_at.is_(None)
        )
    )
    closed: list[int] = []
    for broadcast_id, status in result.all():
        # An index probe, not a count: a broadcast held back overnight by quiet hours is looked
        # at every idle poll, and counting its 100,000 pending deliveries each time is waste.
        still_open = await session.scalar(
            select(
                exists().where(
                    Delivery.broadcast_id == broadcast_id, Delivery.state.in_(OPEN_STATES)
                )
            )
        )
        if still_open:
            continue
        counts = await state_counts(session, broadcast_id=broadcast_id)
        final = (
            BroadcastStatus.CANCELLED.value
            if status == BroadcastStatus.CANCELLED.value
            else BroadcastStatus.FINISHED.value
        )
        changed = await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.finished_at.is_(None))
            .values(
                status=final,
                finished_at=now,
                recipients=sum(counts.values()),
                sent_count=counts.get(DeliveryState.SENT.value, 0),
                blocked_count=counts.get(DeliveryState.BLOCKED.value, 0),
                failed_count=counts.get(DeliveryState.FAILED.value, 0),
                cancelled_count=counts.get(DeliveryState.CANCELLED.value, 0),
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0):
            closed.append(broadcast_id)
    return closed


async def cancel_broadcast(session: AsyncSession, *, broadcast_id: int, now: datetime) -> int:
    """Cancel what is still pending (in-flight deliveries finish); returns how many."""
    await session.execute(
        update(Broadcast)
        .where(
            Broadcast.id == broadcast_id,
            Broadcast.status.in_(CANCELLABLE_STATUSES),
        )
        .values(status=BroadcastStatus.CANCELLED.value, cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.broadcast_id == broadcast_id,
            Delivery.state == DeliveryState.PENDING.value,
        )
        .values(state=DeliveryState.CANCELLED.value, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# How far back "the current rate" looks.
RATE_WINDOW = timedelta(seconds=10)


async def broadcast_progress(
    session: AsyncSession, *, broadcast_id: int, now: datetime
) -> Progress | None:
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    if broadcast is None:
        return None
    counts = await state_counts(session, broadcast_id=broadcast_id)
    sent = counts.get(DeliveryState.SENT.value, 0)
    if broadcast.finished_at is not None and broadcast.started_at is not None:
        elapsed = (broadcast.finished_at - broadcast.started_at).total_seconds()
        rate = sent / elapsed if elapsed > 0 else float(sent)
    else:
        recent = await session.execute(
            select(func.count()).where(
                Delivery.broadcast_id == broadcast_id,
                Delivery.state == DeliveryState.SENT.value,
                Delivery.sent_at >= now - RATE_WINDOW,
            )
        )
        rate = int(recent.scalar_one()) / RATE_WINDOW.total_seconds()
    return Progress(
        broadcast_id=broadcast_id,
        status=broadcast.status,
        total=sum(counts.values()),
        sent=sent,
        blocked=counts.get(DeliveryState.BLOCKED.value, 0),
        failed=counts.get(DeliveryState.FAILED.value, 0),
        pending=sum(counts.get(state, 0) for state in OPEN_STATES),
        cancelled=counts.get(DeliveryState.CANCELLED.value, 0),
        rate=rate,
    )
