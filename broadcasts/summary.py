"""The summary for officials (duty 12): a weekly (and optionally daily) report to a chat.

New tickets by category and by the resident's district with the change from the previous period
of the same length, overdue tickets now, the most frequent words and phrases of the period's
tickets (``broadcasts.textfreq``: no personal data), polls closed in the period, and the reach
of the period's broadcasts; then a bar chart (PNG) of the new tickets by category.

Poll results come from a ``ClosedPolls`` function (``polls_closed_between`` unless a test passes
its own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.charts import bar_chart
from broadcasts.digest import JobRegistry, parse_daily_at, parse_weekly_at
from broadcasts.spikes import SpikeJob
from broadcasts.stats_text import StatsTexts
from broadcasts.textfreq import Term, frequent_terms
from messaging.i18n import Catalog, Markup
from storage import polls
from storage.models import Resident, Ticket
from storage.stats import (
    BroadcastReach,
    PeriodRow,
    broadcast_reach,
    count_overdue,
    new_tickets_by,
    ticket_texts,
)
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

WEEKLY = timedelta(days=7)
DAILY = timedelta(days=1)
LISTED = 12
TERMS = 10
REACH_LIMIT = 200  # broadcasts of one period counted at most


@dataclass(frozen=True, slots=True)
class PollLine:
    question: str
    votes: int
    leader: str


ClosedPolls = Callable[[AsyncSession, datetime, datetime], Awaitable[list[PollLine]]]


async def polls_closed_between(
    session: AsyncSession, start: datetime, end: datetime
) -> list[PollLine]:
    """Polls closed in [start, end): the question, how many voted, the leading option."""
    lines: list[PollLine] = []
    for poll_id in await polls.closed_between(session, start=start, end=end):
        found = await polls.results(session, poll_id=poll_id)
        if found is None:
            continue
        votes = found.total.votes
        leader = found.options[votes.index(max(votes))] if votes and max(votes) > 0 else "—"
        lines.append(PollLine(question=found.question, votes=found.total.voters, leader=leader))
    return lines


class ReportPoster(Protocol):
    async def post(
        self, chat_id: int, text: str, *, button: tuple[str, str] | None = None
    ) -> None: ...

    async def post_photo(
        self, chat_id: int, png: bytes, *, filename: str, caption: str
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Summary:
    start: datetime
    end: datetime
    by_category: list[PeriodRow]
    by_district: list[PeriodRow]
    overdue: int
    words: list[Term]
    phrases: list[Term]
    polls: list[PollLine]
    reach: list[BroadcastReach]

    @property
    def current(self) -> int:
        return sum(r.current for r in self.by_category)

    @property
    def previous(self) -> int:
        return sum(r.previous for r in self.by_category)


async def collect(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    closed_polls: ClosedPolls = polls_closed_between,
) -> Summary:
    previous_start = start - (end - start)
    texts = await ticket_texts(session, start=start, end=end)
    words, phrases = frequent_terms(texts, limit=TERMS)
    return Summary(
        start=start,
        end=end,
        by_category=await new_tickets_by(
            session, Ticket.category, start=start, end=end, previous_start=previous_start
        ),
        by_district=await new_tickets_by(
            session, Resident.district, start=start, end=end, previous_start=previous_start
        ),
        overdue=await count_overdue(session, now=end),
        words=words,
        phrases=phrases,
        polls=await closed_polls(session, start, end),
        reach=await broadcast_reach(session, limit=REACH_LIMIT, started_from=start, started_to=end),
    )


def change_text(current: int, previous: int) -> str:
    delta = current - previous
    if previous == 0:
        return f"{delta:+d}"
    return f"{delta:+d}, {delta / previous:+.0%}"


class SummaryTexts(StatsTexts):
    def day(self, value: datetime) -> str:
        return value.astimezone(self.zone).strftime("%d.%m.%Y")

    def _rows(self, rows: list[PeriodRow], name: Callable[[str], str]) -> list[str]:
        return [
            self.t(
                "summary.line",
                name=name(r.key),
                current=r.current,
                change=change_text(r.current, r.previous),
            )
            for r in rows[:LISTED]
        ]

    def _terms(self, key: str, terms: list[Term]) -> Markup:
        listed = ", ".join(self.t("summary.term", text=t.text, count=t.tickets) for t in terms)
        return self.t(key, terms=Markup(listed))

    def summary(self, summary: Summary, *, daily: bool) -> Markup:
        # The period ends at the fire time: the last day shown is the one before it.
        last = summary.end - timedelta(seconds=1)
        parts: list[str] = [
            self.t(
                "summary.title.daily" if daily else "summary.title.weekly",
                start=self.day(summary.start),
                end=self.day(last),
            ),
            self.t(
                "summary.total",
                current=summary.current,
                previous=summary.previous,
                change=change_text(summary.current, summary.previous),
            ),
        ]
        if summary.by_category:
            parts.append(
                "\n".join(
                    [self.t("summary.by_category"), *self._rows(summary.by_category, self.category)]
                )
            )
        if summary.by_district:
            parts.append(
                "\n".join(
                    [self.t("summary.by_district"), *self._rows(summary.by_district, self.district)]
                )
            )
        parts.append(self.t("summary.overdue", count=summary.overdue))
        if summary.words:
            parts.append(self._terms("summary.words", summary.words))
            if summary.phrases:
                parts.append(self._terms("summary.phrases", summary.phrases))
        else:
            parts.append(self.t("summary.words.none"))
        if summary.polls:
            lines = [self.t("summary.polls")]
            lines += [
                self.t("summary.poll.line", question=p.question, count=p.votes, leader=p.leader)
                for p in summary.polls
            ]
            parts.append("\n".join(lines))
        if summary.reach:
            total = {"sent": 0, "blocked": 0, "failed": 0}
            for reach in summary.reach:
                for state in total:
                    total[state] += reach.states.get(state, 0)
            parts.append(
                self.t(
                    "summary.reach",
                    count=len(summary.reach),
                    total=sum(r.total for r in summary.reach),
                    **total,
                )
            )
        else:
            parts.append(self.t("summary.reach.none"))
        return Markup("\n\n".join(parts))

    def chart(self, summary: Summary) -> bytes | None:
        rows = [r for r in summary.by_category if r.current]
        if not rows:
            return None
        return bar_chart(
            self.t("summary.chart"), [self.category(r.key) for r in rows], [r.current for r in rows]
        )


@dataclass
class SummaryJob:
    sessionmaker: async_sessionmaker[AsyncSession]
    poster: ReportPoster
    catalog: Catalog
    zone: ZoneInfo
    chat_id: int
    clock: Clock
    closed_polls: ClosedPolls = polls_closed_between
    texts: SummaryTexts = field(init=False)

    def __post_init__(self) -> None:
        self.texts = SummaryTexts(self.catalog, zone=self.zone)

    async def run(self, end: datetime, *, daily: bool = False) -> Summary:
        """Report the period that ends at ``end`` (a week, or a day) and post it."""
        start = end - (DAILY if daily else WEEKLY)
        async with self.sessionmaker() as session:
            summary = await collect(session, start=start, end=end, closed_polls=self.closed_polls)
        await self.poster.post(self.chat_id, self.texts.summary(summary, daily=daily))
        png = await asyncio.to_thread(self.texts.chart, summary)
        if png is not None:
            caption = self.texts.t(
                "summary.chart.caption",
                start=self.texts.day(start),
                end=self.texts.day(end - timedelta(seconds=1)),
            )
            await self.poster.post_photo(self.chat_id, png, filename="summary.png", caption=caption)
        log.info("summary %s..%s posted to %s", start, end, self.chat_id)
        return summary


# Spike detection runs this often (minutes) over a sliding hour.
SPIKE_EVERY_MINUTES = 5


def register_jobs(
    jobs: JobRegistry,
    *,
    summary: SummaryJob,
    spikes: SpikeJob | None,
    weekly_at: str,
    daily_at: str = "",
) -> None:
    """The weekly (and, if ``daily_at`` is set, daily) summary and the spike check, each fire
    time once (council time zone, the registry's)."""
    day, weekly = parse_weekly_at(weekly_at)

    async def run_weekly(fire_at: datetime) -> Any:
        return await summary.run(fire_at)

    jobs.add("summary-weekly", run_weekly, day_of_week=day, hour=weekly.hour, minute=weekly.minute)
    if daily_at:
        daily = parse_daily_at(daily_at)

        async def run_daily(fire_at: datetime) -> Any:
            return await summary.run(fire_at, daily=True)

        jobs.add("summary-daily", run_daily, hour=daily.hour, minute=daily.minute)
    if spikes is not None:
        check = spikes

        async def run_spikes(_fire_at: datetime) -> Any:
            return await check.run()

        jobs.add("spike-alerts", run_spikes, minute=f"*/{SPIKE_EVERY_MINUTES}")


def register_analytics(
    jobs: JobRegistry,
    *,
    poster: ReportPoster,
    sessionmaker: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    zone: ZoneInfo,
    clock: Clock,
    officials_chat_id: int | None,
    operator_chat_id: int | None,
    weekly_at: str,
    daily_at: str,
    spike_multiple: float,
    spike_min_count: int,
    closed_polls: ClosedPolls = polls_closed_between,
) -> None:
    """The composition root's one call: summaries to the officials' chat (default: the operator
    chat), spike alerts to the operator chat; nothing without a chat."""
    chat = officials_chat_id if officials_chat_id is not None else operator_chat_id
    if chat is None:
        log.warning("no officials' or operator chat: summaries and spike alerts are off")
        return
    summary = SummaryJob(
        sessionmaker=sessionmaker,
        poster=poster,
        catalog=catalog,
        zone=zone,
        chat_id=chat,
        clock=clock,
        closed_polls=closed_polls,
    )
    spikes = (
        SpikeJob(
            sessionmaker=sessionmaker,
            poster=poster,
            catalog=catalog,
            zone=zone,
            chat_id=operator_chat_id,
            clock=clock,
            multiple=spike_multiple,
            min_count=spike_min_count,
        )
        if operator_chat_id is not None
        else None
    )
    register_jobs(jobs, summary=summary, spikes=spikes, weekly_at=weekly_at, daily_at=daily_at)
