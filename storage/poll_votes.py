"""A resident's vote, in as few statements as it takes: the hot path of a poll sent to many.

- ``poll_for_vote``: the poll and whether it was sent to the resident, in one query;
- ``lock_choice``: the resident's row locked (two presses of one resident apply one after the
  other) with their options and whether their rows carry another district or channel, in one;
- ``set_choice``: only the writes the press needs (none for a press that changes nothing);
- ``totals``: what a resident sees of the results (votes per option, voters), in one.

Votes are rows keyed by (poll, resident, option), inserted with ON CONFLICT DO NOTHING, as in
``storage.polls``: the same press written twice is one vote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import raw
from storage.models import Delivery, Poll, PollVote, Resident
from storage.polls import RECEIVED_STATES, insert_for


@dataclass(frozen=True, slots=True)
class Choice:
    """A resident's options in a poll, and whether a row of theirs carries a district or channel
    other than the vote's (a moved resident, the other messenger of a linked person)."""

    options: frozenset[int]
    stale: bool


async def poll_for_vote(
    session: AsyncSession, *, poll_id: int, resident_id: int
) -> tuple[Poll, bool] | None:
    """The poll and whether it was sent to the resident (only they may vote in it)."""
    received = (
        exists()
        .where(
            Delivery.broadcast_id == Poll.broadcast_id,
            Delivery.resident_id == resident_id,
            Delivery.state.in_(RECEIVED_STATES),
        )
        .label("received")
    )
    row = (
        await session.execute(
            select(Poll, received)
            .where(Poll.id == poll_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return None if row is None else (row[0], bool(row[1]))


async def lock_choice(
    session: AsyncSession, *, poll_id: int, resident_id: int, district: str | None, channel: str
) -> Choice:
    """Lock the resident's row for this transaction and read their vote."""
    pg = await raw.driver(session)
    if pg is not None:
        found = await pg.fetch(_LOCK, resident_id, poll_id)
        return _choice([(row[0], row[1], row[2]) for row in found], district, channel)
    rows = (
        await session.execute(
            select(Resident.id, PollVote.option, PollVote.district, PollVote.channel)
            .outerjoin(
                PollVote, (PollVote.resident_id == Resident.id) & (PollVote.poll_id == poll_id)
            )
            .where(Resident.id == resident_id)
            .with_for_update(of=Resident)
        )
    ).all()
    return _choice([(option, d, c) for _, option, d, c in rows], district, channel)


def _choice(
    rows: list[tuple[int | None, str | None, str | None]], district: str | None, channel: str
) -> Choice:
    options = frozenset(int(option) for option, _, _ in rows if option is not None)
    stale = any(
        option is not None and (row_district != district or row_channel != channel)
        for option, row_district, row_channel in rows
    )
    return Choice(options=options, stale=stale)


_LOCK = (
    "SELECT v.option, v.district, v.channel FROM residents r LEFT JOIN poll_votes v "
    "ON v.resident_id = r.id AND v.poll_id = $2 WHERE r.id = $1 FOR UPDATE OF r"
)
# Every write of a press in one statement: drop the options left, move the kept ones to the
# voter's district and channel (when ``stale``), add the new ones.
_WRITE = """
WITH dropped AS (
    DELETE FROM poll_votes WHERE poll_id = $1 AND resident_id = $2 AND option = ANY($3::int[])
), moved AS (
    UPDATE poll_votes SET channel = $5, district = $6
    WHERE $8 AND poll_id = $1 AND resident_id = $2 AND NOT option = ANY($3::int[])
)
INSERT INTO poll_votes (poll_id, resident_id, option, channel, district, voted_at)
SELECT $1, $2, added, $5, $6, $7 FROM unnest($4::int[]) AS added
ON CONFLICT (poll_id, resident_id, option) DO NOTHING
"""


def chosen_after(
    before: frozenset[int], option: int, *, selected: bool, multiple: bool
) -> frozenset[int]:
    """The resident's options once the press is applied."""
    if not selected:
        return before - {option}
    return before | {option} if multiple else frozenset({option})


async def set_choice(
    session: AsyncSession,
    *,
    poll: Poll,
    resident_id: int,
    before: Choice,
    after: frozenset[int],
    district: str | None,
    channel: str,
    now: datetime,
) -> None:
    """Write ``after`` over ``before`` (as locked by ``lock_choice``): only what changes."""
    mine = (PollVote.poll_id == poll.id) & (PollVote.resident_id == resident_id)
    dropped = before.options - after
    added = after - before.options
    stale = before.stale and bool(after - added)
    if not (dropped or added or stale):
        return
    pg = await raw.driver(session)
    if pg is not None:
        await pg.execute(
            _WRITE,
            poll.id,
            resident_id,
            sorted(dropped),
            sorted(added),
            channel,
            district,
            now,
            stale,
        )
        return
    if dropped:
        await session.execute(delete(PollVote).where(mine, PollVote.option.in_(sorted(dropped))))
    if added:
        insert = insert_for(session)
        await session.execute(
            insert(PollVote)
            .values(
                [
                    {
                        "poll_id": poll.id,
                        "resident_id": resident_id,
                        "option": option,
                        "channel": channel,
                        "district": district,
                        "voted_at": now,
                    }
                    for option in sorted(added)
                ]
            )
            .on_conflict_do_nothing(index_elements=["poll_id", "resident_id", "option"])
        )
    if stale:
        # One district and channel per voter: the breakdowns count each voter once.
        await session.execute(
            update(PollVote)
            .where(mine)
            .values(channel=channel, district=district)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """Votes per option and voters: the results a resident sees."""

    votes: tuple[int, ...]
    voters: int


async def totals(session: AsyncSession, *, poll_id: int, width: int) -> Totals:
    voters = (
        select(func.count(func.distinct(PollVote.resident_id)))
        .where(PollVote.poll_id == poll_id)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(PollVote.option, func.count(), voters)
            .where(PollVote.poll_id == poll_id)
            .group_by(PollVote.option)
        )
    ).all()
    votes = [0] * width
    count = 0
    for option, number, distinct in rows:
        count = int(distinct)
        if 0 <= option < width:
            votes[option] = int(number)
    return Totals(votes=tuple(votes), voters=count)
