"""A resident's vote, in as few statements as it takes: the hot path of a poll sent to many.

- ``poll_for_vote``: the poll and whether it was sent to the resident, in one query (on
  PostgreSQL with the resident's row locked: two presses of one resident apply one after the
  other);
- ``press``: the resident's options read, only the writes the press needs (none for a press
  that changes nothing) and its audit entry, in one statement on PostgreSQL (on SQLite:
  ``lock_choice`` then ``set_choice``);
- ``totals``: what a resident sees of the results (votes per option, voters), in one.

Votes are rows keyed by (poll, resident, option), inserted with ON CONFLICT DO NOTHING, as in
``storage.polls``: the same press written twice is one vote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, raw
from storage.models import Delivery, Poll, PollVote, Resident
from storage.polls import RECEIVED_STATES, insert_for


@dataclass(frozen=True, slots=True)
class Choice:
    """A resident's options in a poll, and whether a row of theirs carries a district or channel
    other than the vote's (a moved resident, the other messenger of a linked person)."""

    options: frozenset[int]
    stale: bool


# Built once: every press runs it (building it cost more CPU than running it). SQLite.
_POLL_FOR_VOTE = (
    select(
        Poll,
        exists()
        .where(
            Delivery.broadcast_id == Poll.broadcast_id,
            Delivery.resident_id == bindparam("resident_id"),
            Delivery.state.in_(RECEIVED_STATES),
        )
        .label("received"),
    )
    .where(Poll.id == bindparam("poll_id"))
    .execution_options(populate_existing=True)
)
_POLL_COLUMNS = tuple(column.key for column in Poll.__table__.columns)


async def poll_for_vote(
    session: AsyncSession, *, poll_id: int, resident_id: int
) -> tuple[Poll, bool] | None:
    """The poll and whether it was sent to the resident (only they may vote in it).

    On PostgreSQL the resident's row is locked in the same statement, until the transaction
    ends: two presses of one resident apply one after the other, and ``press``, a statement of
    its own, reads the votes as the other press left them. (Locking and reading the votes in
    one statement would not: a statement that waited for a lock still reads what was committed
    when it began.) The poll comes back as a transient object: the press only reads it."""
    pg = await raw.started(session)
    if pg is not None:
        found = await pg.fetchrow(_POLL_AND_LOCK, poll_id, resident_id, list(RECEIVED_STATES))
        if found is None:
            return None
        values = {key: found[key] for key in _POLL_COLUMNS}
        if isinstance(values["options"], str):
            values["options"] = json.loads(values["options"])
        return Poll(**values), bool(found["received"])
    row = (
        await session.execute(_POLL_FOR_VOTE, {"poll_id": poll_id, "resident_id": resident_id})
    ).one_or_none()
    return None if row is None else (row[0], bool(row[1]))


_POLL_AND_LOCK = f"""
WITH me AS (SELECT id FROM residents WHERE id = $2 FOR UPDATE)
SELECT {", ".join(f"p.{key}" for key in _POLL_COLUMNS)},
    EXISTS (
        SELECT 1 FROM deliveries d
        WHERE d.broadcast_id = p.broadcast_id AND d.resident_id = $2 AND d.state = ANY($3::text[])
    ) AS received,
    (SELECT count(*) FROM me) AS locked
FROM polls p WHERE p.id = $1
"""


@dataclass(frozen=True, slots=True)
class Pressed:
    """A resident's options in a poll before and after a press."""

    before: frozenset[int]
    after: frozenset[int]


async def press(
    session: AsyncSession,
    *,
    poll: Poll,
    resident_id: int,
    option: int,
    selected: bool,
    district: str | None,
    channel: str,
    now: datetime,
    actor: str,
) -> Pressed:
    """Apply a press of ``option`` (``selected``: choose it, else unchoose it) after
    ``poll_for_vote``: only what changes is written, and a change is audited (``poll.voted``
    with the options after it). The resident's votes move to their current district and channel
    (one of each per voter: the breakdowns count each voter once).

    On PostgreSQL one statement reads, writes and audits; on SQLite (one writer at a time) the
    resident's row is locked, read and written in turn."""
    if selected:
        drop = [] if poll.multiple else [i for i in range(len(poll.options)) if i != option]
        add = [option]
    else:
        drop, add = [option], []
    pg = await raw.driver(session)
    if pg is not None:
        row = await pg.fetchrow(
            _PRESS,
            poll.id,
            resident_id,
            drop,
            add,
            channel,
            district,
            now,
            actor,
            f"poll:{poll.id}",
        )
        return Pressed(before=frozenset(row[0]), after=frozenset(row[1]))
    before = await lock_choice(
        session, poll_id=poll.id, resident_id=resident_id, district=district, channel=channel
    )
    after = chosen_after(before.options, option, selected=selected, multiple=poll.multiple)
    await set_choice(
        session,
        poll=poll,
        resident_id=resident_id,
        before=before,
        after=after,
        district=district,
        channel=channel,
        now=now,
    )
    if after != before.options:
        audit.record(
            session,
            actor=actor,
            action="poll.voted",
            now=now,
            subject=f"poll:{poll.id}",
            details={"options": sorted(after)},
        )
    return Pressed(before=before.options, after=after)


# A press in one statement: the options before it, the ones dropped, the kept ones moved to the
# voter's district and channel, the new ones added, the audit entry when anything changed, and
# the options before and after. $3: options to drop, $4: options to add.
_PRESS = """
WITH before AS (
    SELECT option FROM poll_votes WHERE poll_id = $1 AND resident_id = $2
), dropped AS (
    DELETE FROM poll_votes WHERE poll_id = $1 AND resident_id = $2 AND option = ANY($3::int[])
    RETURNING option
), moved AS (
    UPDATE poll_votes SET channel = $5, district = $6
    WHERE poll_id = $1 AND resident_id = $2 AND NOT option = ANY($3::int[])
        AND (channel IS DISTINCT FROM $5 OR district IS DISTINCT FROM $6)
), added AS (
    INSERT INTO poll_votes (poll_id, resident_id, option, channel, district, voted_at)
    SELECT $1, $2, o, $5, $6, $7 FROM unnest($4::int[]) AS o
    WHERE o NOT IN (SELECT option FROM before)
    ON CONFLICT (poll_id, resident_id, option) DO NOTHING
    RETURNING option
), after AS (
    SELECT option FROM before WHERE NOT option = ANY($3::int[])
    UNION SELECT option FROM added
), audited AS (
    INSERT INTO audit_log (at, actor, action, subject, details)
    SELECT $7, $8, 'poll.voted', $9,
        json_build_object('options', (SELECT coalesce(json_agg(option ORDER BY option), '[]')
                                      FROM after))
    WHERE EXISTS (SELECT 1 FROM dropped) OR EXISTS (SELECT 1 FROM added)
)
SELECT (SELECT coalesce(array_agg(option), '{}') FROM before),
       (SELECT coalesce(array_agg(option), '{}') FROM after)
"""


async def lock_choice(
    session: AsyncSession, *, poll_id: int, resident_id: int, district: str | None, channel: str
) -> Choice:
    """Lock the resident's row for this transaction and read their vote (SQLite, where one
    writer at a time means the read sees the last press committed)."""
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
    dropped = before.options - after
    added = after - before.options
    stale = before.stale and bool(after - added)
    if not (dropped or added or stale):
        return
    mine = (PollVote.poll_id == poll.id) & (PollVote.resident_id == resident_id)
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
