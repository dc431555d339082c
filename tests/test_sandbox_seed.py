"""``citybot sandbox --seed``: the demo world, on SQLite and PostgreSQL, read back through the
same repository functions and planner the bot uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.migrate import upgrade_to_head
from bot.sandbox.seed import (
    SEED_ACTION,
    STAFF_BASE,
    TELEGRAM_RESIDENT_BASE,
    SeedIds,
    seed_demo_world,
)
from bot.sandbox.world import DEFAULT_NAMES
from storage import polls
from storage.broadcasts import BroadcastKind, BroadcastStatus, DeliveryState, create_broadcast
from storage.calendar_store import load_calendar
from storage.db import create_engine, create_sessionmaker
from storage.deadlines import TicketKind, initial_deadline, is_overdue
from storage.digests import Reader, latest_news
from storage.models import (
    AuditEntry,
    Broadcast,
    Delivery,
    Poll,
    PollVote,
    Resident,
    ResidentTopic,
    Staff,
    Ticket,
    TicketCounter,
    TicketMessage,
)
from storage.planning import plan_broadcast
from storage.staff_desk import tickets_without_card
from storage.vocabulary import NUMBER_PREFIXES, OPEN_STATUSES, District, Role, TicketStatus

ZONE = ZoneInfo("Europe/Kyiv")
# A Wednesday noon in Kyiv.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CITY_DISTRICTS = {d.value for d in District if d is not District.WHOLE_CITY}
OPEN = {status.value for status in OPEN_STATUSES}


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession], residents: int = 300
) -> SeedIds | None:
    return await seed_demo_world(sessionmaker, now=NOW, zone=ZONE, residents=residents)


async def counts(session: AsyncSession) -> dict[str, int]:
    tables: tuple[Any, ...] = (
        Resident,
        ResidentTopic,
        Staff,
        Ticket,
        TicketMessage,
        TicketCounter,
        Broadcast,
        Delivery,
        Poll,
        PollVote,
        AuditEntry,
    )
    found = {}
    for table in tables:
        found[table.__tablename__] = int(
            await session.scalar(select(func.count()).select_from(table)) or 0
        )
    return found


async def test_seed_builds_the_promised_world(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await seed(sessionmaker)
    assert ids is not None

    # What the sandbox registers in its fake messengers.
    assert len(ids.telegram_residents) == 180
    assert len(ids.viber_residents) == 120
    assert [user for user, _ in ids.telegram_residents] == [
        TELEGRAM_RESIDENT_BASE + n for n in range(180)
    ]
    viber_ids = [user for user, _ in ids.viber_residents]
    assert len(set(viber_ids)) == 120
    assert all(len(user) == 24 and user.endswith("==") for user in viber_ids)
    assert all(name for _, name in ids.telegram_residents + ids.viber_residents)
    # Everyone the page's switcher lists is told apart by name: residents, staff and the people
    # a bare sandbox adds.
    names = [name for _, name in ids.telegram_residents + ids.viber_residents]
    names += [name for _, name, _ in ids.staff] + list(DEFAULT_NAMES)
    assert len(set(names)) == len(names), sorted(n for n in set(names) if names.count(n) > 1)
    assert [user for user, _, _ in ids.staff] == [STAFF_BASE + n for n in range(6)]
    roles = [role for _, _, role in ids.staff]
    assert roles.count(Role.ADMIN.value) == 1
    assert roles.count(Role.EDITOR.value) == 2
    assert roles.count(Role.OPERATOR.value) == 3

    async with sessionmaker() as session:
        residents = list((await session.scalars(select(Resident))).all())
        staff = list((await session.scalars(select(Staff))).all())
        all_tickets = list((await session.scalars(select(Ticket))).all())
        calendar = await load_calendar(session)
        unposted = await tickets_without_card(session, limit=1000)
        news = list(
            (
                await session.scalars(
                    select(Broadcast).where(Broadcast.kind == BroadcastKind.NEWS.value)
                )
            ).all()
        )
        news_states = (
            await session.execute(
                select(Delivery.channel, Delivery.state, func.count())
                .join(Broadcast, Broadcast.id == Delivery.broadcast_id)
                .where(Broadcast.kind == BroadcastKind.NEWS.value)
                .group_by(Delivery.channel, Delivery.state)
            )
        ).all()
        poll = (await session.scalars(select(Poll))).one()
        votes = list((await session.scalars(select(PollVote))).all())
        results = await polls.results(session, poll_id=poll.id)
        reader_of = residents[0]
        shown = await latest_news(
            session,
            reader=Reader(
                channel=reader_of.channel,
                district=reader_of.district,
                topics=reader_of.topic_codes,
            ),
        )

    # Residents: both channels, every district, consent, topics, a language.
    assert len(residents) == 300
    by_channel = {
        channel: [r for r in residents if r.channel == channel] for channel in ("telegram", "viber")
    }
    assert {c: len(rs) for c, rs in by_channel.items()} == {"telegram": 180, "viber": 120}
    for channel, members in by_channel.items():
        assert {r.district for r in members} >= CITY_DISTRICTS, channel
    assert {r.external_id for r in by_channel["viber"]} == set(viber_ids)
    for resident in residents:
        assert resident.is_active and resident.subscribed
        assert resident.consent_at is not None and resident.policy_version
        assert resident.erased_at is None and resident.onboarded_at is not None
        assert resident.district is not None
        assert resident.topic_codes
        assert resident.created_at < NOW
    languages = [r.language for r in residents]
    assert languages.count("uk") > languages.count("en") > 0

    assert {(s.telegram_id, s.name, s.role) for s in staff} == set(ids.staff)

    # Tickets: every kind open, some overdue and some not, with the flows' numbers and deadlines.
    open_tickets = [t for t in all_tickets if t.status in OPEN]
    assert 20 <= len(open_tickets) <= 30
    assert {t.kind for t in open_tickets} == {kind.value for kind in TicketKind}
    seeded_ids = {r.id for r in residents}
    for kind in TicketKind:
        mine = [t for t in open_tickets if t.kind == kind.value]
        assert any(is_overdue(t.deadline_at, NOW) for t in mine if t.deadline_at), kind
        assert any(not is_overdue(t.deadline_at, NOW) for t in mine if t.deadline_at), kind
    today = NOW.astimezone(ZONE).date()
    left = [
        (t.deadline_at.astimezone(ZONE).date() - today).days
        for t in open_tickets
        if t.deadline_at and not is_overdue(t.deadline_at, NOW)
    ]
    assert 0 in left and 1 in left and max(left) >= 14
    for ticket in all_tickets:
        assert ticket.resident_id in seeded_ids
        assert ticket.number.startswith(f"{NUMBER_PREFIXES[ticket.kind]}-2026-")
        assert ticket.received_at < NOW
        assert ticket.deadline_at == initial_deadline(
            ticket.kind, ticket.received_at, calendar=calendar, zone=ZONE, urgent=ticket.urgent
        )
    assert len({t.number for t in all_tickets}) == len(all_tickets)
    assert any(t.status == TicketStatus.NEW.value for t in open_tickets)
    assert any(t.assignee_id is not None for t in open_tickets)
    assert any(t.status == TicketStatus.ANSWERED.value for t in open_tickets)
    operators = {s.id for s in staff if s.role == Role.OPERATOR.value}
    assert {t.assignee_id for t in all_tickets if t.assignee_id} <= operators
    rated = [t for t in all_tickets if t.rating is not None]
    assert rated and all(t.status == TicketStatus.CLOSED.value for t in rated)
    # Nothing was posted to Telegram: the catch-up job finds every open ticket.
    assert {t.id for t in unposted} == {t.id for t in open_tickets}
    assert all(t.card_message_id is None and t.staff_chat_id is None for t in all_tickets)

    # Past news: finished, every delivery sent, on both channels; /news shows it.
    assert len(news) >= 3
    for broadcast in news:
        assert broadcast.status == BroadcastStatus.FINISHED.value
        assert broadcast.started_at is not None and broadcast.started_at < NOW
        assert broadcast.recipients > 0 and broadcast.sent_count == broadcast.recipients
    assert {state for _, state, _ in news_states} == {DeliveryState.SENT.value}
    assert {channel for channel, _, _ in news_states} == {"telegram", "viber"}
    assert shown

    # The poll: open, sent, votes across options, districts and channels.
    assert poll.status == polls.PollStatus.OPEN.value and poll.closes_at > NOW
    assert results is not None and results.reached > 0
    assert len(votes) >= 30 and results.total.voters == len(votes)
    assert len({v.option for v in votes}) >= 3
    assert len({v.district for v in votes}) >= 5
    assert {v.channel for v in votes} == {"telegram", "viber"}


async def test_a_second_seed_changes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await seed(sessionmaker, residents=40) is not None
    async with sessionmaker() as session:
        before = await counts(session)
        markers = await session.scalar(select(func.count()).where(AuditEntry.action == SEED_ACTION))
    assert markers == 1

    assert await seed(sessionmaker, residents=40) is None
    assert await seed_demo_world(sessionmaker, now=NOW, zone=ZONE, rng_seed=99) is None

    async with sessionmaker() as session:
        assert await counts(session) == before


async def test_news_planning_reaches_seeded_residents_on_both_channels(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await seed(sessionmaker, residents=60) is not None
    later = NOW + timedelta(minutes=5)
    async with sessionmaker() as session, session.begin():
        everyone = await create_broadcast(session, text="Новини для всіх", now=later)
        local = await create_broadcast(
            session,
            text="Відключення води в Тернівському районі",
            now=later,
            topics=["outages"],
            districts=[District.TERNIVSKYI.value],
        )
        planned = {}
        for broadcast in (everyone, local):
            planned[broadcast.id] = await plan_broadcast(
                session, broadcast_id=broadcast.id, now=later
            )
        by_channel = dict(
            (
                await session.execute(
                    select(Delivery.channel, func.count())
                    .where(Delivery.broadcast_id == everyone.id)
                    .group_by(Delivery.channel)
                )
            ).all()
        )
    assert by_channel.get("telegram", 0) > 0
    assert by_channel.get("viber", 0) > 0
    assert planned[everyone.id] == sum(by_channel.values())
    assert 0 < (planned[local.id] or 0) < (planned[everyone.id] or 0)


async def _world_of(path: Path) -> tuple[SeedIds | None, list[tuple[Any, ...]], list[int]]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        ids = await seed_demo_world(sessionmaker, now=NOW, zone=ZONE, residents=50, rng_seed=3)
        async with sessionmaker() as session:
            found = (
                await session.execute(
                    select(
                        Ticket.number,
                        Ticket.status,
                        Ticket.received_at,
                        Ticket.deadline_at,
                        Ticket.assignee_id,
                        Ticket.resident_id,
                    ).order_by(Ticket.id)
                )
            ).all()
            votes = (
                await session.scalars(
                    select(PollVote.option).order_by(PollVote.resident_id, PollVote.option)
                )
            ).all()
        return ids, [tuple(row) for row in found], list(votes)
    finally:
        await engine.dispose()


async def test_the_same_seed_gives_the_same_world(tmp_path: Path) -> None:
    first = await _world_of(tmp_path / "one.db")
    second = await _world_of(tmp_path / "two.db")
    assert first[0] is not None
    assert first == second
