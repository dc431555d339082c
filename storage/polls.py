"""Polls repository: polls and their broadcasts, residents' votes, results, closing, the
composer's prompts, and the publication of results to the voters.

Keyword-only functions over an ``AsyncSession``; the caller commits. Writes are idempotent: a vote
is a row keyed by (poll, resident, option) inserted with ON CONFLICT DO NOTHING, so the same press
written twice is one vote; closing is one conditional UPDATE (``WHERE status = 'open'``), so a
poll is closed once however many processes run the job.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import prompts
from storage.broadcasts import BroadcastKind, BroadcastStatus, DeliveryState
from storage.models import Broadcast, Delivery, Poll, PollPrompt, PollVote, Resident
from storage.planning import insert_deliveries

OPTIONS_MIN = 2
OPTIONS_MAX = 10
# A resident may vote once the poll was sent to them (or is being sent: a fast press may beat
# the recording of the outcome).
RECEIVED_STATES = (DeliveryState.SENT.value, DeliveryState.SENDING.value)
# A summary lists at most this many closed polls.
CLOSED_LISTED = 20


class PollStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class PollPromptAction(StrEnum):
    COMPOSE = "compose"  # the question and options of a new poll
    CLOSES = "closes"  # when the poll closes
    TIME = "time"  # when to send it


def insert_for(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def create_poll(
    session: AsyncSession,
    *,
    question: str,
    options: Sequence[str],
    closes_at: datetime,
    now: datetime,
    created_by: int | None = None,
    chat_id: int | None = None,
    multiple: bool = False,
) -> Poll:
    """A draft poll and its draft broadcast (kind ``poll``; its text and buttons are set by the
    caller, which renders them from the catalog)."""
    if not OPTIONS_MIN <= len(options) <= OPTIONS_MAX:
        raise ValueError(f"a poll has {OPTIONS_MIN}-{OPTIONS_MAX} options, not {len(options)}")
    broadcast = Broadcast(
        kind=BroadcastKind.POLL.value,
        text=question,
        topics=[],
        districts=[],
        channels=[],
        urgent=False,
        created_by=created_by,
        status=BroadcastStatus.DRAFT.value,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    poll = Poll(
        broadcast_id=broadcast.id,
        question=question,
        options=list(options),
        multiple=multiple,
        results_after_vote=True,
        results_after_close=True,
        publish_results=False,
        status=PollStatus.OPEN.value,
        closes_at=closes_at,
        chat_id=chat_id,
        created_by=created_by,
        created_at=now,
    )
    session.add(poll)
    await session.flush()
    return poll


async def get_poll(session: AsyncSession, *, poll_id: int) -> Poll | None:
    return await session.get(Poll, poll_id, populate_existing=True)


async def lock_poll(session: AsyncSession, *, poll_id: int) -> Poll | None:
    """The poll with its row locked for this transaction (PostgreSQL)."""
    result = await session.execute(
        select(Poll)
        .where(Poll.id == poll_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def poll_broadcast(session: AsyncSession, poll: Poll) -> Broadcast:
    broadcast = await session.get(Broadcast, poll.broadcast_id, populate_existing=True)
    assert broadcast is not None
    return broadcast


async def poll_id_of(session: AsyncSession, *, broadcast_id: int) -> int | None:
    """The poll a broadcast (kind ``poll``) sends, if any."""
    result = await session.execute(select(Poll.id).where(Poll.broadcast_id == broadcast_id))
    return result.scalar_one_or_none()


def is_closed(poll: Poll, now: datetime) -> bool:
    """Closed, or past its closing time (the job may not have run yet)."""
    return poll.status != PollStatus.OPEN.value or poll.closes_at <= now


# -- votes ------------------------------------------------------------------------------------


async def received(session: AsyncSession, *, poll: Poll, resident_id: int) -> bool:
    """Whether the poll was sent to this resident (only they may vote in it)."""
    result = await session.execute(
        select(Delivery.id).where(
            Delivery.broadcast_id == poll.broadcast_id,
            Delivery.resident_id == resident_id,
            Delivery.state.in_(RECEIVED_STATES),
        )
    )
    return result.first() is not None


async def chosen(session: AsyncSession, *, poll_id: int, resident_id: int) -> frozenset[int]:
    result = await session.execute(
        select(PollVote.option).where(
            PollVote.poll_id == poll_id, PollVote.resident_id == resident_id
        )
    )
    return frozenset(int(option) for option in result.scalars())


async def choose(
    session: AsyncSession,
    *,
    poll: Poll,
    resident: Resident,
    option: int,
    selected: bool,
    now: datetime,
    channel: str | None = None,
) -> frozenset[int]:
    """Set one option of the resident's vote on (``selected``) or off; returns their options.
    ``channel``: the messenger the vote came from, when not the resident's own (a person
    linked in both messengers, ``storage.linking``).

    Idempotent: choosing what is already chosen (the same press delivered twice) changes nothing.
    A single-choice vote replaces the previous option. The resident's row is locked first, so
    two presses of one resident at once are applied one after the other.
    """
    await session.execute(select(Resident.id).where(Resident.id == resident.id).with_for_update())
    mine = (PollVote.poll_id == poll.id) & (PollVote.resident_id == resident.id)
    if not selected:
        await session.execute(delete(PollVote).where(mine, PollVote.option == option))
    else:
        if not poll.multiple:
            await session.execute(delete(PollVote).where(mine, PollVote.option != option))
        await session.execute(
            insert_for(session)(PollVote)
            .values(
                poll_id=poll.id,
                resident_id=resident.id,
                option=option,
                channel=channel or resident.channel,
                district=resident.district,
                voted_at=now,
            )
            .on_conflict_do_nothing(index_elements=["poll_id", "resident_id", "option"])
        )
        # One district and channel per voter: the breakdowns count each voter once.
        await session.execute(
            update(PollVote)
            .where(mine)
            .values(channel=channel or resident.channel, district=resident.district)
            .execution_options(synchronize_session=False)
        )
    return await chosen(session, poll_id=poll.id, resident_id=resident.id)


@dataclass(frozen=True, slots=True)
class OwnVote:
    """One poll a resident voted in, for /mydata."""

    poll_id: int
    question: str
    chosen: tuple[str, ...]
    voted_at: datetime


async def resident_votes(session: AsyncSession, *, resident_id: int) -> list[OwnVote]:
    rows = (
        await session.execute(
            select(Poll.id, Poll.question, Poll.options, PollVote.option, PollVote.voted_at)
            .join(Poll, Poll.id == PollVote.poll_id)
            .where(PollVote.resident_id == resident_id)
            .order_by(Poll.id, PollVote.option)
        )
    ).all()
    grouped: dict[int, OwnVote] = {}
    for poll_id, question, options, option, voted_at in rows:
        label = options[option] if 0 <= option < len(options) else str(option)
        previous = grouped.get(poll_id)
        grouped[poll_id] = OwnVote(
            poll_id=poll_id,
            question=question,
            chosen=(*previous.chosen, label) if previous else (label,),
            voted_at=max(previous.voted_at, voted_at) if previous else voted_at,
        )
    return list(grouped.values())


async def unlink_votes(session: AsyncSession, *, resident_id: int, now: datetime) -> int:
    """/forget: a vote in a poll still open is withdrawn (the resident may vote again); a vote
    in a closed poll stays in its published totals under a random negative id that nothing
    links back to the resident. Returns how many polls were touched."""
    polls = (
        await session.execute(
            select(Poll.id, Poll.status, Poll.closes_at)
            .join(PollVote, PollVote.poll_id == Poll.id)
            .where(PollVote.resident_id == resident_id)
            .distinct()
        )
    ).all()
    for poll_id, status, closes_at in polls:
        mine = (PollVote.poll_id == poll_id) & (PollVote.resident_id == resident_id)
        if status == PollStatus.OPEN.value and closes_at > now:
            await session.execute(delete(PollVote).where(mine))
        else:
            await session.execute(
                update(PollVote)
                .where(mine)
                .values(resident_id=-(secrets.randbits(62) + 1))
                .execution_options(synchronize_session=False)
            )
    return len(polls)


# -- results ----------------------------------------------------------------------------------


def percentages(votes: Sequence[int], base: int) -> list[int]:
    """Whole percentages of ``base`` that add up as the exact ones do (largest remainder).

    Each share is the exact ``100 * votes / base`` rounded down or up (so within 1 of it), and
    together they add up to the exact total rounded half up: 100 when every voter chose one
    option (single choice), more for multiple choice, where a voter counts in several options.
    The points left after rounding down go to the largest remainders; of equal remainders, to
    the option listed later (1/3, 1/3, 1/3 → 33, 33, 34). Nobody voted: all 0. Integers only,
    so the result does not depend on floating point."""
    if base <= 0:
        return [0] * len(votes)
    floors = [100 * count // base for count in votes]
    target = (200 * sum(votes) + base) // (2 * base)
    left = max(0, target - sum(floors))
    order = sorted(
        range(len(votes)), key=lambda index: (100 * votes[index] % base, index), reverse=True
    )
    for index in order[:left]:
        floors[index] += 1
    return floors


@dataclass
class Tally:
    """Votes per option and the number of voters, in one group (a district, a channel, all)."""

    votes: list[int]
    voters: int = 0

    def share(self, option: int) -> float:
        """The option's exact share of the voters, in percent (multiple choice: shares add up to
        more than 100)."""
        return 100.0 * self.votes[option] / self.voters if self.voters else 0.0

    def percents(self) -> list[int]:
        """The shares as every report, chart and export shows them (``percentages``)."""
        return percentages(self.votes, self.voters)


@dataclass
class Results:
    poll_id: int
    question: str
    options: list[str]
    multiple: bool
    status: str
    closes_at: datetime
    # Residents the poll reached (deliveries sent).
    reached: int
    total: Tally
    by_district: dict[str, Tally] = field(default_factory=dict)
    by_channel: dict[str, Tally] = field(default_factory=dict)


NO_DISTRICT = "-"


async def results(session: AsyncSession, *, poll_id: int) -> Results | None:
    """Totals, shares, breakdowns by district and channel, and reach: three grouped queries."""
    poll = await get_poll(session, poll_id=poll_id)
    if poll is None:
        return None
    width = len(poll.options)
    found = Results(
        poll_id=poll.id,
        question=poll.question,
        options=list(poll.options),
        multiple=poll.multiple,
        status=poll.status,
        closes_at=poll.closes_at,
        reached=0,
        total=Tally([0] * width),
    )
    votes = await session.execute(
        select(PollVote.option, PollVote.district, PollVote.channel, func.count())
        .where(PollVote.poll_id == poll_id)
        .group_by(PollVote.option, PollVote.district, PollVote.channel)
    )
    for option, district, channel, count in votes.all():
        if not 0 <= option < width:
            continue
        for group in (
            found.total,
            found.by_district.setdefault(district or NO_DISTRICT, Tally([0] * width)),
            found.by_channel.setdefault(channel, Tally([0] * width)),
        ):
            group.votes[option] += int(count)
    voters = await session.execute(
        select(PollVote.district, PollVote.channel, func.count(func.distinct(PollVote.resident_id)))
        .where(PollVote.poll_id == poll_id)
        .group_by(PollVote.district, PollVote.channel)
    )
    for district, channel, count in voters.all():
        found.total.voters += int(count)
        found.by_district.setdefault(district or NO_DISTRICT, Tally([0] * width)).voters += int(
            count
        )
        found.by_channel.setdefault(channel, Tally([0] * width)).voters += int(count)
    reached = await session.execute(
        select(func.count()).where(
            Delivery.broadcast_id == poll.broadcast_id,
            Delivery.state == DeliveryState.SENT.value,
        )
    )
    found.reached = int(reached.scalar_one())
    return found


# -- closing and publication ------------------------------------------------------------------


async def closed_between(session: AsyncSession, *, start: datetime, end: datetime) -> list[int]:
    """Ids of the polls closed in [start, end), oldest first (for the officials' summary)."""
    result = await session.execute(
        select(Poll.id)
        .where(Poll.closed_at >= start, Poll.closed_at < end)
        .order_by(Poll.closed_at)
        .limit(CLOSED_LISTED)
    )
    return [int(poll_id) for poll_id in result.scalars()]


async def close_due(session: AsyncSession, *, now: datetime) -> list[int]:
    """Close every open poll whose time has come, in one conditional UPDATE; returns the ids
    this call closed (another process running it at the same time gets the others, or none)."""
    result = await session.execute(
        update(Poll)
        .where(Poll.status == PollStatus.OPEN.value, Poll.closes_at <= now)
        .values(status=PollStatus.CLOSED.value, closed_at=now)
        .returning(Poll.id)
        .execution_options(synchronize_session=False)
    )
    closed = sorted(int(poll_id) for poll_id in result.scalars())
    await _cancel_unsent(session, closed)
    return closed


async def _cancel_unsent(session: AsyncSession, poll_ids: Sequence[int]) -> None:
    """A closed poll is no longer sent: deliveries still pending (held back by quiet hours, or
    a big audience) are cancelled, so nobody gets a question they can no longer answer."""
    if not poll_ids:
        return
    await session.execute(
        update(Delivery)
        .where(
            Delivery.broadcast_id.in_(select(Poll.broadcast_id).where(Poll.id.in_(poll_ids))),
            Delivery.state == DeliveryState.PENDING.value,
        )
        .values(state=DeliveryState.CANCELLED.value, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def close_poll(session: AsyncSession, *, poll_id: int, now: datetime) -> bool:
    """Close one poll now (staff cancelled it); False if it was closed already."""
    result = await session.execute(
        update(Poll)
        .where(Poll.id == poll_id, Poll.status == PollStatus.OPEN.value)
        .values(status=PollStatus.CLOSED.value, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    await _cancel_unsent(session, [poll_id])
    return True


async def publish_to_voters(
    session: AsyncSession, *, poll: Poll, text: str, now: datetime
) -> tuple[int, int] | None:
    """A broadcast (kind ``poll_results``) of ``text`` to the poll's voters who can still be
    reached, planned with one INSERT … SELECT; returns (broadcast id, recipients), or None if
    the poll's results were published already (the poll row's ``results_broadcast_id`` is set
    by a conditional UPDATE, so twice is once)."""
    broadcast = Broadcast(
        kind=BroadcastKind.POLL_RESULTS.value,
        title=f"poll:{poll.id}",
        text=text,
        topics=[],
        districts=[],
        channels=[],
        urgent=False,
        created_by=poll.created_by,
        status=BroadcastStatus.SENDING.value,
        created_at=now,
        started_at=now,
    )
    session.add(broadcast)
    await session.flush()
    claimed = await session.execute(
        update(Poll)
        .where(Poll.id == poll.id, Poll.results_broadcast_id.is_(None))
        .values(results_broadcast_id=broadcast.id)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        await session.delete(broadcast)
        return None
    voters = select(PollVote.resident_id).where(PollVote.poll_id == poll.id).distinct()
    count = await insert_deliveries(
        session,
        broadcast_id=broadcast.id,
        now=now,
        recipient=(Resident.id, Resident.channel, Resident.external_id),
        where=and_(
            Resident.id.in_(voters),
            Resident.is_active.is_(True),
            Resident.erased_at.is_(None),
            Resident.consent_at.is_not(None),
        ),
    )
    broadcast.recipients = count
    return broadcast.id, count


# -- prompts ----------------------------------------------------------------------------------


def add_prompt(
    session: AsyncSession,
    *,
    chat_id: int,
    message_id: int,
    action: PollPromptAction,
    staff_id: int,
    poll_id: int | None,
    now: datetime,
) -> PollPrompt:
    prompt = PollPrompt(
        chat_id=chat_id,
        message_id=message_id,
        action=action.value,
        poll_id=poll_id,
        staff_id=staff_id,
        created_at=now,
    )
    session.add(prompt)
    return prompt


async def get_prompt(session: AsyncSession, *, chat_id: int, message_id: int) -> PollPrompt | None:
    return await prompts.find(session, PollPrompt, chat_id=chat_id, message_id=message_id)


async def close_prompt(
    session: AsyncSession, *, chat_id: int, message_id: int, now: datetime
) -> bool:
    """Mark the prompt answered; False if it already was."""
    return await prompts.close(session, PollPrompt, chat_id=chat_id, message_id=message_id, now=now)
