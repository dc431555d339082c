"""A press of a poll's button in storage (``storage.poll_votes``), on both databases: what it
writes and audits, and — on PostgreSQL, where presses run side by side — that two presses of
one resident apply one after the other.

Regression: the vote was read in the same statement that locked the resident's row. A
statement that waited for that lock still read the votes committed when it began, so a second
press made while the first was in flight saw no vote and kept both options of a single-choice
poll."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.migrate import upgrade_to_head
from storage import poll_votes, polls
from storage.db import create_engine, create_sessionmaker
from storage.models import AuditEntry, Delivery, PollVote, Resident

Maker = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
_WAITING_FOR_A_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


async def _poll_for(maker: Maker, *, multiple: bool) -> tuple[int, int]:
    """A poll with three options sent to one resident: (poll id, resident id)."""
    async with maker() as session, session.begin():
        resident = Resident(
            channel="telegram",
            external_id="7001",
            language="uk",
            district="pokrovskyi",
            digest="instant",
            subscribed=True,
            is_active=True,
            created_at=NOW,
            last_seen_at=NOW,
        )
        session.add(resident)
        poll = await polls.create_poll(
            session,
            question="Що відремонтувати першим?",
            options=["Дорогу", "Сквер", "Школу"],
            closes_at=NOW + timedelta(days=1),
            now=NOW,
            multiple=multiple,
        )
        await session.flush()
        session.add(
            Delivery(
                broadcast_id=poll.broadcast_id,
                resident_id=resident.id,
                channel="telegram",
                external_id="7001",
                state="sent",
                next_attempt_at=NOW,
            )
        )
        return poll.id, resident.id


async def _press(
    maker: Maker,
    poll_id: int,
    resident_id: int,
    option: int,
    *,
    selected: bool = True,
    channel: str = "telegram",
) -> poll_votes.Pressed:
    async with maker() as session, session.begin():
        found = await poll_votes.poll_for_vote(session, poll_id=poll_id, resident_id=resident_id)
        assert found is not None and found[1]
        return await poll_votes.press(
            session,
            poll=found[0],
            resident_id=resident_id,
            option=option,
            selected=selected,
            district="pokrovskyi",
            channel=channel,
            now=NOW,
            actor=f"resident:{resident_id}",
        )


async def _votes(maker: Maker, poll_id: int) -> list[tuple[int, str]]:
    async with maker() as session:
        rows = await session.execute(
            select(PollVote.option, PollVote.channel)
            .where(PollVote.poll_id == poll_id)
            .order_by(PollVote.option)
        )
        return [(int(option), str(channel)) for option, channel in rows.all()]


async def _audited(maker: Maker) -> list[dict[str, object]]:
    async with maker() as session:
        found = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "poll.voted").order_by(AuditEntry.id)
        )
        return [entry.details for entry in found.all()]


async def test_single_choice_press_moves_the_vote_and_audits_changes_only(
    sessionmaker: Maker,
) -> None:
    poll_id, resident_id = await _poll_for(sessionmaker, multiple=False)
    first = await _press(sessionmaker, poll_id, resident_id, 0)
    assert (first.before, first.after) == (frozenset(), frozenset({0}))
    again = await _press(sessionmaker, poll_id, resident_id, 0)
    assert again.before == again.after == frozenset({0})
    moved = await _press(sessionmaker, poll_id, resident_id, 2)
    assert (moved.before, moved.after) == (frozenset({0}), frozenset({2}))
    assert await _votes(sessionmaker, poll_id) == [(2, "telegram")]
    # The press that changed nothing wrote no audit entry.
    assert await _audited(sessionmaker) == [{"options": [0]}, {"options": [2]}]


async def test_multiple_choice_press_adds_and_unselect_removes(sessionmaker: Maker) -> None:
    poll_id, resident_id = await _poll_for(sessionmaker, multiple=True)
    await _press(sessionmaker, poll_id, resident_id, 0)
    both = await _press(sessionmaker, poll_id, resident_id, 2, channel="viber")
    assert both.after == frozenset({0, 2})
    # The kept vote moved to the channel the voter pressed in: one channel per voter.
    assert await _votes(sessionmaker, poll_id) == [(0, "viber"), (2, "viber")]
    left = await _press(sessionmaker, poll_id, resident_id, 0, selected=False)
    assert (left.before, left.after) == (frozenset({0, 2}), frozenset({2}))
    gone = await _press(sessionmaker, poll_id, resident_id, 1, selected=False)
    assert gone.before == gone.after == frozenset({2})
    assert await _audited(sessionmaker) == [
        {"options": [0]},
        {"options": [0, 2]},
        {"options": [2]},
    ]


async def test_a_press_waits_for_the_residents_press_in_flight(pg_url: str) -> None:
    """Two presses of one resident at once in a single-choice poll: the second waits for the
    first's lock and then sees its vote, so the resident ends with one option."""
    engine = create_engine(pg_url)
    try:
        await upgrade_to_head(engine)
        maker = create_sessionmaker(engine)
        poll_id, resident_id = await _poll_for(maker, multiple=False)
        first_locked = asyncio.Event()
        release_first = asyncio.Event()

        async def first() -> poll_votes.Pressed:
            async with maker() as session, session.begin():
                found = await poll_votes.poll_for_vote(
                    session, poll_id=poll_id, resident_id=resident_id
                )
                assert found is not None
                first_locked.set()
                pressed = await poll_votes.press(
                    session,
                    poll=found[0],
                    resident_id=resident_id,
                    option=0,
                    selected=True,
                    district="pokrovskyi",
                    channel="telegram",
                    now=NOW,
                    actor="resident:first",
                )
                await release_first.wait()  # committed only once the second press waits
                return pressed

        async def second() -> poll_votes.Pressed:
            await first_locked.wait()
            return await _press(maker, poll_id, resident_id, 1)

        async def release_when_waiting() -> None:
            for _ in range(1000):  # up to 20 s on a busy machine
                # A transaction of its own each time: PostgreSQL reads pg_stat_activity once
                # per transaction, so one kept open would never see the second press wait.
                async with maker() as session:
                    waiting = await session.scalar(_WAITING_FOR_A_LOCK)
                if waiting:
                    break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the second press never waited for the first's lock")
            release_first.set()

        one, two, _ = await asyncio.gather(first(), second(), release_when_waiting())
        assert one.after == frozenset({0})
        assert (two.before, two.after) == (frozenset({0}), frozenset({1}))
        assert await _votes(maker, poll_id) == [(1, "telegram")]
    finally:
        await engine.dispose()
