"""The figures ``GET /metrics`` reads from the database at scrape time: the delivery queue, the
owed replies, and the open, due-soon and overdue tickets of each department.

prometheus-client collects synchronously; the database is asynchronous. So the route first
``refresh``es this collector (two grouped statements: ``storage.watch.live_figures`` and
``storage.desk.queue.queue_counts``), then renders the registry, whose ``collect`` yields what
the refresh read. The refresh is shared: a scrape within ``fresh_for`` of the last one, or
while another is reading, reuses its figures. A slow or absent database costs a scrape at most
``timeout``: the database figures are then left out (they go stale in Prometheus rather than
showing old numbers as new) and ``citybot_metrics_database_up`` is 0. The calendar and the list
of departments change rarely: they are read again every ``static_for`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.limits import Pacer
from storage.calendar import WorkCalendar
from storage.calendar_store import load_calendar
from storage.desk.queue import QueueCounts, queue_counts
from storage.errors import TRY_AGAIN_LATER
from storage.tickets import list_queues
from storage.vocabulary import Clock
from storage.watch import RATE_WINDOW, LiveFigures, live_figures

log = logging.getLogger(__name__)

# The states a delivery goes through (storage.models.Delivery.state): each is shown, zeros too.
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "blocked", "cancelled")
# A scrape waits this long for the database at most.
TIMEOUT = 3.0
# Scrapes closer together than this share one read (a burst of scrapes, several servers).
FRESH_FOR = 1.0
# The calendar and the departments are read again after this long.
STATIC_FOR = 300.0

_P = "citybot_"


@dataclass(frozen=True, slots=True)
class _Static:
    calendar: WorkCalendar
    departments: frozenset[str]
    read_at: float


@dataclass(frozen=True, slots=True)
class _Snapshot:
    live: LiveFigures
    tickets: dict[str, QueueCounts]


class DatabaseFigures(Collector):
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        zone: ZoneInfo,
        clock: Clock,
        channels: Sequence[str],
        pacer: Pacer | None = None,
        timeout: float = TIMEOUT,
        fresh_for: float = FRESH_FOR,
        static_for: float = STATIC_FOR,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``channels``: the configured ones (each gets its zeros); ``pacer``: the bot token's
        budget the engine paces Telegram broadcasts with in this process (None: none)."""
        self._sessionmaker = sessionmaker
        self._zone = zone
        self._clock = clock
        self._channels = tuple(channels)
        self._pacer = pacer
        self._timeout = timeout
        self._fresh_for = fresh_for
        self._static_for = static_for
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._static: _Static | None = None
        self._snapshot: _Snapshot | None = None
        self._read_at = -fresh_for
        self._read_seconds = 0.0
        self._tried = False

    async def refresh(self) -> None:
        """Read the figures unless a recent read (or one in progress) serves."""
        if self._monotonic() - self._read_at < self._fresh_for:
            return
        async with self._lock:
            started = self._monotonic()
            if started - self._read_at < self._fresh_for:
                return  # read by the scrape this one waited for
            try:
                self._snapshot = await asyncio.wait_for(self._read(), self._timeout)
            except TRY_AGAIN_LATER as error:  # TimeoutError is an OSError
                log.warning("metrics: database figures unavailable: %r", error)
                self._snapshot = None
            self._tried = True
            self._read_at = self._monotonic()
            self._read_seconds = self._read_at - started

    async def _read(self) -> _Snapshot:
        now = self._clock()
        async with self._sessionmaker() as session:
            static = self._static
            if static is None or self._monotonic() - static.read_at >= self._static_for:
                calendar = await load_calendar(session)
                codes = frozenset(queue.code for queue in await list_queues(session))
                static = self._static = _Static(calendar, codes, self._monotonic())
            live = await live_figures(session, now=now)
            tickets = await queue_counts(
                session,
                departments=static.departments,
                now=now,
                calendar=static.calendar,
                zone=self._zone,
            )
        return _Snapshot(live=live, tickets=tickets)

    # -- the Collector protocol ------------------------------------------------------------

    def describe(self) -> Iterator[Metric]:
        # The families without samples: registering does not read the database.
        yield from self._families(None)

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._snapshot)

    def _families(self, snapshot: _Snapshot | None) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            _P + "metrics_database_up",
            "1 if this scrape read the database figures, 0 if it failed or timed out.",
        )
        took = GaugeMetricFamily(
            _P + "metrics_database_read_seconds",
            "How long the last read of the database figures took.",
        )
        if self._tried:
            up.add_metric([], 1.0 if snapshot is not None else 0.0)
            took.add_metric([], self._read_seconds)
        yield up
        yield took
        yield self._pace()
        yield from self._deliveries(snapshot.live if snapshot else None)
        yield from self._tickets(snapshot.tickets if snapshot else None)

    def _pace(self) -> Metric:
        pace = GaugeMetricFamily(
            _P + "delivery_pace_per_second",
            "Messages a second the delivery engine of this process allows itself now "
            "(Telegram's free limit, lowered after a 429 and climbing back).",
            labels=["channel"],
        )
        if self._pacer is not None:
            pace.add_metric(["telegram"], self._pacer.rate)
        return pace

    def _deliveries(self, live: LiveFigures | None) -> Iterator[Metric]:
        deliveries = GaugeMetricFamily(
            _P + "deliveries",
            "Deliveries of the broadcasts in progress, by channel and state.",
            labels=["channel", "state"],
        )
        due = GaugeMetricFamily(
            _P + "deliveries_due",
            "Pending deliveries whose time has come: the delivery engine's queue depth.",
            labels=["channel"],
        )
        rate = GaugeMetricFamily(
            _P + "delivery_rate_per_second",
            "Deliveries sent in the last minute, per second (all processes).",
            labels=["channel"],
        )
        owed = GaugeMetricFamily(
            _P + "owed_replies",
            "Updates whose replies are still owed (sent by the owed-replies job).",
            labels=["channel"],
        )
        if live is not None:
            channels = sorted({*self._channels, *(c for c, _ in live.deliveries), *live.owed})
            states = sorted({*DELIVERY_STATES, *(s for _, s in live.deliveries)})
            window = RATE_WINDOW.total_seconds()
            for channel in channels:
                for state in states:
                    count = live.deliveries.get((channel, state), 0)
                    deliveries.add_metric([channel, state], count)
                due.add_metric([channel], live.due.get(channel, 0))
                rate.add_metric([channel], live.sent_recently.get(channel, 0) / window)
                owed.add_metric([channel], live.owed.get(channel, 0))
        yield from (deliveries, due, rate, owed)

    def _tickets(self, tickets: dict[str, QueueCounts] | None) -> Iterator[Metric]:
        families = {
            "open": GaugeMetricFamily(
                _P + "tickets_open", "Open tickets, by department.", labels=["department"]
            ),
            "due_soon": GaugeMetricFamily(
                _P + "tickets_due_soon",
                "Open tickets due by the end of the next working day, not overdue yet.",
                labels=["department"],
            ),
            "overdue": GaugeMetricFamily(
                _P + "tickets_overdue",
                "Open tickets past their deadline, by department.",
                labels=["department"],
            ),
        }
        for code, counts in sorted((tickets or {}).items()):
            families["open"].add_metric([code], counts.open)
            families["due_soon"].add_metric([code], counts.due_soon)
            families["overdue"].add_metric([code], counts.overdue)
        yield from families.values()
