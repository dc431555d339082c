"""Polls' results: the chart, the closing job, and the publication of results to the voters.

The closing job closes every due poll with one conditional UPDATE (``… WHERE status = 'open' AND
closes_at <= now``, see ``storage.polls.close_due``): whichever process runs it, each poll is
closed once, and only the process that closed it posts its results and chart to the operator
chat (and, if the poll asks for it, publishes them to its voters through the delivery engine).
It is registered with ``OnceJobs`` (one run per fire time across processes) and logs its
failures; a poll whose results could not be posted is still closed (``/pollresults ID`` shows
them again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.charts import bar_chart
from broadcasts.poll_results import resident_results, staff_results
from messaging.contract import ChannelError
from messaging.i18n import Catalog, Markup
from messaging.text import markup_to_plain
from storage import audit, polls
from storage.errors import TRY_AGAIN_LATER
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

JOB_NAME: Final = "polls-close"
# The closing job runs every minute at this second (council time).
CLOSE_SECOND: Final = 45


class ResultsPoster(Protocol):
    """Posts a results text and its chart to a staff chat (the Telegram side implements it)."""

    async def post_results(self, chat_id: int, text: str, chart: bytes, file_name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Report:
    text: Markup
    chart: bytes
    file_name: str


def chart_label(text: str) -> str:
    """``text`` without what the chart font (DejaVu Sans) cannot draw: emoji (outside the Basic
    Multilingual Plane), variation selectors and joiners; options often carry an emoji."""
    kept = "".join(
        char
        for char in text
        if ord(char) <= 0xFFFF and not 0xFE00 <= ord(char) <= 0xFE0F and char != "\u200d"
    )
    return " ".join(kept.split()) or "?"


def chart_png(catalog: Catalog, found: polls.Results) -> bytes:
    """The bar chart of the shares of voters per option (PNG bytes; CPU work, run in a thread)."""
    title = catalog.text(catalog.default, "poll.results.caption", id=found.poll_id)
    shares = found.total.percents()
    labels = [chart_label(option) for option in found.options]
    return bar_chart(chart_label(markup_to_plain(title)), labels, shares, unit="%")


async def build_report(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    catalog: Catalog,
    zone: ZoneInfo,
    poll_id: int,
) -> Report | None:
    async with sessionmaker() as session:
        found = await polls.results(session, poll_id=poll_id)
    if found is None:
        return None
    text = staff_results(catalog, found, zone)
    chart = await asyncio.to_thread(chart_png, catalog, found)
    return Report(text=text, chart=chart, file_name=f"poll-{poll_id}.png")


class PollCloser:
    """The closing job and the publication of results."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        zone: ZoneInfo,
        clock: Clock,
        poster: ResultsPoster,
        operator_chat_id: int | None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.catalog = catalog
        self.zone = zone
        self.clock = clock
        self.poster = poster
        self.operator_chat_id = operator_chat_id
        self.wake = wake

    async def run(self, _fire_at: datetime | None = None) -> list[int]:
        """Close the due polls; post each one's results; publish where asked. Returns the ids
        closed by this call."""
        try:
            async with self.sessionmaker() as session, session.begin():
                now = self.clock()
                closed = await polls.close_due(session, now=now)
                for poll_id in closed:
                    audit.record(
                        session,
                        actor="scheduler",
                        action="poll.closed",
                        now=now,
                        subject=f"poll:{poll_id}",
                    )
        except TRY_AGAIN_LATER as error:
            log.warning("polls not closed, retrying at the next run: %s", error)
            return []
        for poll_id in closed:
            await self.after_close(poll_id)
        return closed

    async def after_close(self, poll_id: int) -> None:
        """Post the final results and chart, and publish them to the voters if asked."""
        try:
            await self.publish(poll_id)
        except TRY_AGAIN_LATER as error:
            log.warning("poll %d: results not published: %s", poll_id, error)
        try:
            await self.post(poll_id, closing=True)
        except (*TRY_AGAIN_LATER, ChannelError) as error:
            log.warning("poll %d: results not posted: %s", poll_id, error)

    async def _chat(self, poll_id: int) -> int | None:
        async with self.sessionmaker() as session:
            poll = await polls.get_poll(session, poll_id=poll_id)
        if poll is None:
            return None
        return self.operator_chat_id if self.operator_chat_id is not None else poll.chat_id

    async def post(
        self, poll_id: int, *, closing: bool = False, chat_id: int | None = None
    ) -> bool:
        """Post the results and the chart to ``chat_id`` (default: the operator chat)."""
        target = chat_id if chat_id is not None else await self._chat(poll_id)
        if target is None:
            return False
        report = await build_report(
            self.sessionmaker, catalog=self.catalog, zone=self.zone, poll_id=poll_id
        )
        if report is None:
            return False
        text = report.text
        if closing:
            head = self.catalog.text(self.catalog.default, "poll.results.closed_notice", id=poll_id)
            text = Markup(head + "\n\n" + text)
        await self.poster.post_results(target, text, report.chart, report.file_name)
        return True

    async def publish(self, poll_id: int) -> int | None:
        """Send the results to the poll's voters (once) if the poll asks for it; returns the
        recipients planned, or None when nothing was published."""
        async with self.sessionmaker() as session, session.begin():
            poll = await polls.lock_poll(session, poll_id=poll_id)
            if poll is None or not poll.publish_results or poll.results_broadcast_id is not None:
                return None
            found = await polls.results(session, poll_id=poll_id)
            assert found is not None
            lang = self.catalog.default
            text = self.catalog.text(
                lang,
                "poll.results.published",
                question=poll.question,
                results=resident_results(self.catalog, lang, found),
            )
            now = self.clock()
            published = await polls.publish_to_voters(session, poll=poll, text=text, now=now)
            if published is None:
                return None
            broadcast_id, count = published
            audit.record(
                session,
                actor="scheduler",
                action="poll.results_published",
                now=now,
                subject=f"poll:{poll_id}",
                details={"broadcast": broadcast_id, "recipients": count},
            )
        if self.wake is not None:
            self.wake()
        return count
