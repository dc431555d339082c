"""What a voter sees of a poll's results (votes per option, voters), counted at most once a
second per poll and process.

Counting is a grouped query over every vote of the poll: a poll sent to 300,000 residents can
bring hundreds of presses a second, and counting 300,000 rows at each press would cost far more
than the press. Between two counts, the presses this process applied move the totals they hold
(so a voter always sees their own press in them); presses of other processes show at the next
count. A press whose transaction then fails (rare) stays in the totals until that count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from storage import poll_votes
from storage.poll_votes import Totals

TOTALS_TTL = 1.0
# Polls open at one time are few; past this many, the oldest counts are simply dropped.
MAX_POLLS = 256


@dataclass
class _Counted:
    at: float
    votes: list[int]
    voters: int


class TotalsCache:
    def __init__(
        self, *, ttl: float = TOTALS_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._polls: dict[int, _Counted] = {}

    async def get(self, session: AsyncSession, poll_id: int, width: int) -> Totals:
        counted = self._polls.get(poll_id)
        now = self._clock()
        if counted is None or now - counted.at >= self._ttl or len(counted.votes) != width:
            found = await poll_votes.totals(session, poll_id=poll_id, width=width)
            counted = _Counted(at=now, votes=list(found.votes), voters=found.voters)
            if len(self._polls) >= MAX_POLLS:
                self._polls.pop(next(iter(self._polls)))
            self._polls.pop(poll_id, None)
            self._polls[poll_id] = counted
        return Totals(votes=tuple(counted.votes), voters=counted.voters)

    def moved(self, poll_id: int, before: frozenset[int], after: frozenset[int]) -> None:
        """A press of this process changed a voter's options from ``before`` to ``after``."""
        counted = self._polls.get(poll_id)
        if counted is None:
            return
        for option in after - before:
            if 0 <= option < len(counted.votes):
                counted.votes[option] += 1
        for option in before - after:
            if 0 <= option < len(counted.votes):
                counted.votes[option] = max(0, counted.votes[option] - 1)
        counted.voters += int(bool(after) and not before) - int(bool(before) and not after)
        counted.voters = max(0, counted.voters)
