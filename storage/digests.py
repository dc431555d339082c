"""News as residents read it: the latest items for ``/news`` and the digest runs' queries.

Keyword-only functions over an ``AsyncSession``; the caller commits.

Which news a resident "matches" follows the targeting rules of ``storage.planning.audience``
(topics, district, channel), leaving out the digest preference and reachability: ``/news`` shows
a resident what was published for them whether they get pushes or not. The rules are written
once more here as a Python predicate because a digest run matches a batch of residents against a
week of news in memory (one query per batch, not one per resident and item).

A digest run writes its deliveries batch by batch into a broadcast of kind ``digest`` in status
``planning`` (the engine ignores it), advancing each processed resident's ``last_digest_at`` in
the same transaction as their delivery; at the end the broadcast becomes ``sending``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import linking
from storage.broadcasts import BroadcastKind, BroadcastStatus, DeliveryState
from storage.models import Broadcast, Delivery, Resident, ResidentTopic
from storage.vocabulary import District, parse_aware

# Published news: being delivered or delivered (not drafts, scheduled or cancelled ones).
PUBLISHED = (BroadcastStatus.SENDING.value, BroadcastStatus.FINISHED.value)
# A digest broadcast's ``source``: "digest:daily" / "digest:weekly"; ``source_ref``: fire time.
DIGEST_SOURCE = "digest:{frequency}"


@dataclass(frozen=True, slots=True)
class NewsItem:
    id: int
    title: str | None
    # Markup as stored in ``Broadcast.text`` (b, i; values from people escaped).
    text: str
    topics: frozenset[str]
    districts: frozenset[str]
    channels: frozenset[str]
    urgent: bool
    published_at: datetime
    media_kind: str | None = None


@dataclass(frozen=True, slots=True)
class Reader:
    """What decides which news a resident gets."""

    channel: str
    district: str | None
    topics: frozenset[str]


@dataclass(frozen=True, slots=True)
class DigestReader:
    """A digest resident to write a digest for, and where their news window starts."""

    id: int
    channel: str
    external_id: str
    language: str
    reader: Reader
    # News published after this (and up to the fire time) is theirs.
    since: datetime


def matches(item: NewsItem, reader: Reader) -> bool:
    """The targeting part of ``planning.audience``: channel, topics, district."""
    if item.channels and reader.channel not in item.channels:
        return False
    if item.topics and not (item.topics & reader.topics):
        return False
    return not item.districts or (
        reader.district is not None
        and (reader.district in item.districts or reader.district == District.WHOLE_CITY.value)
    )


def _news_item(broadcast: Any) -> NewsItem:
    assert broadcast.started_at is not None
    return NewsItem(
        id=broadcast.id,
        title=broadcast.title,
        text=broadcast.text,
        topics=frozenset(broadcast.topics or ()),
        districts=frozenset(broadcast.districts or ()),
        channels=frozenset(broadcast.channels or ()),
        urgent=bool(broadcast.urgent),
        published_at=broadcast.started_at,
        media_kind=broadcast.media_kind,
    )


_NEWS_COLUMNS = (
    Broadcast.id,
    Broadcast.title,
    Broadcast.text,
    Broadcast.topics,
    Broadcast.districts,
    Broadcast.channels,
    Broadcast.urgent,
    Broadcast.started_at,
    Broadcast.media_kind,
)


def _published() -> Any:
    return select(*_NEWS_COLUMNS).where(
        Broadcast.kind == BroadcastKind.NEWS.value,
        Broadcast.status.in_(PUBLISHED),
        Broadcast.started_at.is_not(None),
    )


async def latest_news(
    session: AsyncSession, *, reader: Reader, limit: int = 5, scan: int = 200
) -> list[NewsItem]:
    """The newest published news items this reader matches, newest first (looking at the
    ``scan`` most recent items at most, in pages)."""
    found: list[NewsItem] = []
    page = 50
    for offset in range(0, scan, page):
        result = await session.execute(
            _published()
            .order_by(Broadcast.started_at.desc(), Broadcast.id.desc())
            .offset(offset)
            .limit(page)
        )
        rows = result.all()
        found.extend(item for item in map(_news_item, rows) if matches(item, reader))
        if len(found) >= limit or len(rows) < page:
            break
    return found[:limit]


async def digest_news(
    session: AsyncSession, *, after: datetime, until: datetime, limit: int = 5000
) -> list[NewsItem]:
    """Non-urgent news published in (after, until], oldest first: the candidates of a digest
    run (urgent news reached digest residents at once)."""
    result = await session.execute(
        _published()
        .where(
            Broadcast.urgent.is_(False),
            Broadcast.started_at > after,
            Broadcast.started_at <= until,
        )
        .order_by(Broadcast.started_at, Broadcast.id)
        .limit(limit)
    )
    return [_news_item(row) for row in result.all()]


async def digest_readers(
    session: AsyncSession,
    *,
    frequency: str,
    fire_at: datetime,
    after_id: int,
    limit: int,
) -> list[DigestReader]:
    """The next batch (by id) of reachable residents on ``frequency`` whose news is not yet
    covered up to ``fire_at``. Locked until the caller commits (on PostgreSQL), so two runs for
    the same fire time cannot write a digest for the same resident twice."""
    result = await session.execute(
        select(
            Resident.id,
            linking.delivery_channel().label("channel"),
            linking.delivery_external_id().label("external_id"),
            Resident.language,
            Resident.district,
            func.coalesce(
                Resident.last_digest_at, Resident.onboarded_at, Resident.created_at
            ).label("since"),
        )
        .where(
            Resident.id > after_id,
            Resident.digest == frequency,
            # One digest per person, through the messenger they prefer (storage.linking).
            linking.reachable(),
            Resident.subscribed.is_(True),
            Resident.consent_at.is_not(None),
            Resident.erased_at.is_(None),
            or_(Resident.last_digest_at.is_(None), Resident.last_digest_at < fire_at),
        )
        .select_from(linking.persons())
        .order_by(Resident.id)
        .limit(limit)
        # The residents' rows only (the linked accounts are on the outer join's nullable side).
        .with_for_update(of=Resident)
    )
    rows = result.all()
    if not rows:
        return []
    topics: dict[int, set[str]] = {}
    topic_rows = await session.execute(
        select(ResidentTopic.resident_id, ResidentTopic.topic).where(
            ResidentTopic.resident_id.in_([row.id for row in rows])
        )
    )
    for resident_id, topic in topic_rows.all():
        topics.setdefault(resident_id, set()).add(topic)
    return [
        DigestReader(
            id=row.id,
            channel=row.channel,
            external_id=row.external_id,
            language=row.language,
            reader=Reader(
                channel=row.channel,
                district=row.district,
                topics=frozenset(topics.get(row.id, ())),
            ),
            since=_aware(row.since),
        )
        for row in rows
    ]


def _aware(value: Any) -> datetime:
    # COALESCE loses the column type on SQLite: a string or a naive datetime comes back.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def delivered(
    session: AsyncSession, *, resident_ids: Sequence[int], broadcast_ids: Sequence[int]
) -> set[tuple[int, int]]:
    """(broadcast, resident) pairs that already have a delivery: news a resident got at once
    (urgent, or while they were on instant) is not repeated in their digest."""
    if not resident_ids or not broadcast_ids:
        return set()
    result = await session.execute(
        select(Delivery.broadcast_id, Delivery.resident_id).where(
            Delivery.resident_id.in_(resident_ids), Delivery.broadcast_id.in_(broadcast_ids)
        )
    )
    return {(int(b), int(r)) for b, r in result.all() if r is not None}


async def planning_digest(
    session: AsyncSession, *, frequency: str, fire_at: datetime
) -> Broadcast | None:
    """This run's digest broadcast if an earlier attempt of it started planning."""
    result = await session.execute(
        select(Broadcast).where(
            Broadcast.kind == BroadcastKind.DIGEST.value,
            Broadcast.source == DIGEST_SOURCE.format(frequency=frequency),
            Broadcast.source_ref == fire_at.isoformat(),
            Broadcast.status == BroadcastStatus.PLANNING.value,
        )
    )
    return result.scalars().first()


async def create_digest(
    session: AsyncSession, *, frequency: str, fire_at: datetime, text: str, now: datetime
) -> Broadcast:
    broadcast = Broadcast(
        kind=BroadcastKind.DIGEST.value,
        title=f"digest {frequency} {fire_at.isoformat()}",
        text=text,
        topics=[],
        districts=[],
        channels=[],
        urgent=False,
        status=BroadcastStatus.PLANNING.value,
        created_at=now,
        source=DIGEST_SOURCE.format(frequency=frequency),
        source_ref=fire_at.isoformat(),
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


@dataclass(frozen=True, slots=True)
class DigestBody:
    resident_id: int
    channel: str
    external_id: str
    body: str


async def add_digest_deliveries(
    session: AsyncSession, *, broadcast_id: int, bodies: Sequence[DigestBody], now: datetime
) -> None:
    if not bodies:
        return
    await session.execute(
        insert(Delivery),
        [
            {
                "broadcast_id": broadcast_id,
                "resident_id": item.resident_id,
                "channel": item.channel,
                "external_id": item.external_id,
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "deferrals": 0,
                "next_attempt_at": now,
                "body": item.body,
            }
            for item in bodies
        ],
    )


async def advance_last_digest(
    session: AsyncSession, *, resident_ids: Sequence[int], fire_at: datetime
) -> None:
    """Their news is covered up to ``fire_at`` (whether or not there was any to send)."""
    if not resident_ids:
        return
    await session.execute(
        update(Resident)
        .where(
            Resident.id.in_(resident_ids),
            or_(Resident.last_digest_at.is_(None), Resident.last_digest_at < fire_at),
        )
        .values(last_digest_at=fire_at)
        .execution_options(synchronize_session=False)
    )


async def release_digests(
    session: AsyncSession, *, frequency: str, up_to: datetime, now: datetime
) -> list[int]:
    """Hand this frequency's planned digests with fire times up to ``up_to`` to the engine:
    ``planning`` -> ``sending`` with their recipient counts. Also releases a crashed earlier
    run's digest (its residents were advanced with their deliveries: they must get it)."""
    result = await session.execute(
        select(Broadcast.id, Broadcast.source_ref).where(
            Broadcast.kind == BroadcastKind.DIGEST.value,
            Broadcast.source == DIGEST_SOURCE.format(frequency=frequency),
            Broadcast.status == BroadcastStatus.PLANNING.value,
        )
    )
    released: list[int] = []
    for broadcast_id, source_ref in result.all():
        if source_ref and parse_aware(source_ref) > up_to:
            continue
        count = await session.execute(
            select(func.count()).where(Delivery.broadcast_id == broadcast_id)
        )
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.PLANNING.value)
            .values(
                status=BroadcastStatus.SENDING.value,
                started_at=now,
                recipients=int(count.scalar_one()),
            )
            .execution_options(synchronize_session=False)
        )
        released.append(int(broadcast_id))
    return released
