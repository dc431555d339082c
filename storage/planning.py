"""Planning: a broadcast's recipients written into ``deliveries`` by one set-based
``INSERT … SELECT`` (the same SQL on SQLite and PostgreSQL), never a Python loop over residents.

Who gets a broadcast:
- persons, not messenger accounts: a resident linked in both messengers is one recipient, reached
  through the messenger they prefer (``storage.linking``); reachable (``is_active``, or their
  other account is) residents who want pushes (``subscribed``), gave consent and were not
  erased, on one of the broadcast's channels (no channels: every channel);
- with at least one of its topics (``resident_topics``; no topics: everyone);
- whose district is one of its districts, or "city" (they asked for everything); no districts:
  city-wide news for everyone;
- instant-digest residents only, unless the broadcast is urgent: digest residents get ordinary
  news in their next digest, urgent news at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    exists,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import SQLCoreOperations

from storage import linking
from storage.broadcast_lifecycle import may_start_from
from storage.broadcasts import BroadcastStatus, DeliveryState
from storage.models import Broadcast, Delivery, Resident, ResidentTopic, UTCDateTime
from storage.vocabulary import Digest, District


def audience(broadcast: Broadcast) -> ColumnElement[bool]:
    """The WHERE clause selecting a broadcast's recipients from ``recipients_from()``."""
    conditions: list[ColumnElement[bool]] = [
        linking.reachable(),
        Resident.subscribed.is_(True),
        Resident.consent_at.is_not(None),
        Resident.erased_at.is_(None),
    ]
    if broadcast.channels:
        conditions.append(linking.delivery_channel().in_(broadcast.channels))
    if broadcast.topics:
        conditions.append(
            exists().where(
                ResidentTopic.resident_id == Resident.id,
                ResidentTopic.topic.in_(broadcast.topics),
            )
        )
    if broadcast.districts:
        conditions.append(
            or_(
                Resident.district.in_(broadcast.districts),
                Resident.district == District.WHOLE_CITY.value,
            )
        )
    if not broadcast.urgent:
        conditions.append(Resident.digest == Digest.INSTANT.value)
    return and_(true(), *conditions)


def recipients_from() -> FromClause:
    """What ``audience`` selects from: residents with their linked accounts."""
    return linking.persons()


async def plan_broadcast(
    session: AsyncSession,
    *,
    broadcast_id: int,
    now: datetime,
    statuses: Sequence[str] = (BroadcastStatus.DRAFT.value,),
) -> int | None:
    """Start a draft broadcast: queue one pending delivery per recipient. Returns how many, or
    None when the broadcast is not a draft (already planned, cancelled, unknown) — planning twice
    is a no-op, even from two processes (the status change is the guard). ``statuses``: what it
    may be started from (the news scheduler starts ``scheduled`` broadcasts)."""
    started = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status.in_(may_start_from(statuses)))
        .values(status=BroadcastStatus.SENDING.value, started_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(started, "rowcount", 0):
        return None
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    assert broadcast is not None
    count = await insert_deliveries(
        session,
        broadcast_id=broadcast_id,
        now=now,
        recipient=(Resident.id, linking.delivery_channel(), linking.delivery_external_id()),
        where=audience(broadcast),
        source=recipients_from(),
    )
    broadcast.recipients = count
    return count


async def insert_deliveries(
    session: AsyncSession,
    *,
    broadcast_id: int,
    now: datetime,
    recipient: tuple[SQLCoreOperations[int], SQLCoreOperations[str], SQLCoreOperations[str]],
    where: ColumnElement[bool],
    source: FromClause | None = None,
) -> int:
    """One pending delivery per row that ``where`` selects (from ``source``), due ``now``: the
    one ``INSERT … SELECT`` every planner uses (news, polls, a poll's results). ``recipient``:
    the resident's id, the channel and the address the delivery goes to. Returns how many."""
    resident_id, channel, external_id = recipient
    rows = select(
        literal(broadcast_id),
        resident_id,
        channel,
        external_id,
        literal(DeliveryState.PENDING.value),
        literal(0),
        literal(0),
        literal(now, UTCDateTime()),
    )
    if source is not None:
        rows = rows.select_from(source)
    result = await session.execute(
        insert(Delivery).from_select(
            [
                Delivery.broadcast_id,
                Delivery.resident_id,
                Delivery.channel,
                Delivery.external_id,
                Delivery.state,
                Delivery.attempts,
                Delivery.deferrals,
                Delivery.next_attempt_at,
            ],
            rows.where(where),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# A broadcast's buttons as stored (``broadcasts.buttons``): rows of [label, action].
ButtonsJson = list[list[list[str]]]
TITLE_MAX = 256


@dataclass(frozen=True, slots=True)
class Planned:
    """What ``plan_by_language`` queued: its broadcasts (one per language) and recipients."""

    broadcast_ids: tuple[int, ...]
    recipients: int


async def plan_by_language(
    session: AsyncSession,
    *,
    kind: str,
    source: str,
    source_ref: str,
    title: str,
    texts: Mapping[str, str],
    buttons: Mapping[str, ButtonsJson] | None,
    audience: ColumnElement[bool],
    default_language: str,
    created_by: int | None,
    now: datetime,
) -> Planned:
    """Queue ``texts`` (by language, with ``buttons``) for every reachable, not erased person
    ``audience`` selects from ``recipients_from()``; residents of a language not in ``texts``
    get ``default_language``'s. ``title`` names the broadcasts where staff see them
    (``/stats``). One ``INSERT … SELECT`` per language; each person once. The broadcasts
    start at once (``sending``): what they answer (an incident update, a consultation's
    announcement) has no draft of its own to approve."""
    ids: list[int] = []
    total = 0
    others = [language for language in texts if language != default_language]
    for language, text in texts.items():
        broadcast = Broadcast(
            kind=kind,
            title=title[:TITLE_MAX],
            text=text,
            topics=[],
            districts=[],
            channels=[],
            urgent=False,
            created_by=created_by,
            status=BroadcastStatus.SENDING.value,
            created_at=now,
            started_at=now,
            source=source,
            source_ref=source_ref,
            buttons=(buttons or {}).get(language),
        )
        session.add(broadcast)
        await session.flush()
        speaks = (
            Resident.language == language
            if language != default_language
            else or_(Resident.language.is_(None), Resident.language.not_in(others))
        )
        count = await insert_deliveries(
            session,
            broadcast_id=broadcast.id,
            now=now,
            recipient=(Resident.id, linking.delivery_channel(), linking.delivery_external_id()),
            where=and_(linking.reachable(), Resident.erased_at.is_(None), audience, speaks),
            source=recipients_from(),
        )
        broadcast.recipients = count
        ids.append(broadcast.id)
        total += count
    return Planned(tuple(ids), total)
