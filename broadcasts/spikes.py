"""Spike alerts (duty 13): tickets of one category or district in the last hour against their
usual hourly rate.

Every few minutes the last hour is compared with the mean hourly rate of the four weeks before
it (one GROUP BY per dimension gives both). A spike needs at least ``min_count`` tickets in the
hour (so 1 → 3 is not one) and more than ``multiple`` times the usual rate. The operator chat is
told at once, with the latest tickets' numbers and short excerpts.

Each alert offers "open an incident" (issue 17) with the spike's tickets preselected: the alert
carries them (``Spike.ticket_ids``, ``Spike.prefill``), and a desk's button carries
``incident_action`` (fits Telegram's 64 bytes), from which ``prefill_for`` finds the same
tickets again.

Each category or district is alerted at most once an hour: the alert claims a ``job_runs`` row
(``spike:<dimension>:<key>`` at the alert time) after checking there is none within the hour,
in one transaction, so processes and later runs agree without a table of its own.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.stats_text import StatsTexts
from messaging import labels
from messaging.i18n import Catalog, Markup
from messaging.text import markup_to_plain
from storage.incidents import Prefill
from storage.job_runs import claim_run
from storage.models import JobRun, Resident, Ticket
from storage.stats import NONE, Column, new_tickets_by
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
BASELINE = timedelta(days=28)
BASELINE_HOURS = BASELINE / HOUR - 1  # the four weeks before the last hour
EXAMPLES = 3
EXCERPT = 100
JOB_PREFIX = "spike"
# The tickets an "open an incident" preselects at most (the spike's hour).
PRESELECTED = 1000
# The action of an alert's "open an incident" button: incspike:<dimension>:<key>:<unix time>.
INCIDENT_ACTION = "incspike"


class Poster(Protocol):
    async def post(self, chat_id: int, text: str, *, button: tuple[str, str] | None = None) -> None:
        """Post ``text``; ``button``: (label, data) of one button under it."""


@dataclass(frozen=True, slots=True)
class Example:
    number: str
    excerpt: str


@dataclass(frozen=True, slots=True)
class Spike:
    dimension: str  # "category" | "district"
    key: str
    count: int
    usual: float  # tickets an hour
    examples: tuple[Example, ...] = ()
    # The spike's tickets of the last hour, newest first: preselected for an incident.
    ticket_ids: tuple[int, ...] = ()

    @property
    def job(self) -> str:
        return f"{JOB_PREFIX}:{self.dimension}:{self.key}"[:64]

    @property
    def prefill(self) -> Prefill:
        """An incident about this spike: its category or district, its tickets."""
        if self.dimension == "category":
            return Prefill(category=self.key, ticket_ids=self.ticket_ids)
        return Prefill(districts=(self.key,), ticket_ids=self.ticket_ids)


def incident_action(spike: Spike, *, at: datetime) -> str:
    """The data of an alert's "open an incident" button: the spike and its hour's end (the
    next whole second, so the tickets of the alert's last second are in)."""
    return f"{INCIDENT_ACTION}:{spike.dimension}:{spike.key}:{math.ceil(at.timestamp())}"


def parse_incident_action(action: str) -> tuple[str, str, datetime] | None:
    """(dimension, key, the hour's end) of ``incident_action``'s data; None if malformed."""
    verb, dimension, key, stamp = [*action.split(":"), "", "", ""][:4]
    if verb != INCIDENT_ACTION or dimension not in DIMENSIONS or not key or not stamp.isdigit():
        return None
    return dimension, key, datetime.fromtimestamp(int(stamp), UTC)


async def prefill_for(session: AsyncSession, dimension: str, key: str, at: datetime) -> Prefill:
    """The prefill of the spike of ``dimension``/``key`` in the hour before ``at``."""
    column = DIMENSIONS[dimension]
    ids = await _ticket_ids(session, column, key, since=at - HOUR, until=at)
    spike = Spike(dimension, key, len(ids), 0.0, ticket_ids=ids)
    return spike.prefill


DIMENSIONS: dict[str, Column] = {"category": Ticket.category, "district": Resident.district}


async def _ticket_ids(
    session: AsyncSession, column: Column, key: str, *, since: datetime, until: datetime
) -> tuple[int, ...]:
    query = select(Ticket.id).where(
        Ticket.received_at >= since, Ticket.received_at < until, column == key
    )
    if column is Resident.district:
        query = query.join(Resident, Resident.id == Ticket.resident_id)
    result = await session.scalars(query.order_by(Ticket.received_at.desc()).limit(PRESELECTED))
    return tuple(result)


def _excerpt(ticket_subject: str | None, body: str | None) -> str:
    text = " ".join((ticket_subject or body or "").split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


async def _examples(
    session: AsyncSession, column: Column, key: str, *, since: datetime, until: datetime
) -> tuple[Example, ...]:
    query = select(Ticket.number, Ticket.subject, Ticket.body).where(
        Ticket.received_at >= since, Ticket.received_at < until, column == key
    )
    if column is Resident.district:
        query = query.join(Resident, Resident.id == Ticket.resident_id)
    result = await session.execute(query.order_by(Ticket.received_at.desc()).limit(EXAMPLES))
    return tuple(Example(number, _excerpt(subject, body)) for number, subject, body in result)


async def detect(
    session: AsyncSession, *, now: datetime, multiple: float, min_count: int
) -> list[Spike]:
    """Categories and districts whose last hour is a spike."""
    since = now - HOUR
    spikes: list[Spike] = []
    for dimension, column in DIMENSIONS.items():
        rows = await new_tickets_by(
            session, column, start=since, end=now, previous_start=now - BASELINE
        )
        for row in rows:
            usual = row.previous / BASELINE_HOURS
            if row.key == NONE or row.current < min_count or row.current <= multiple * usual:
                continue
            examples = await _examples(session, column, row.key, since=since, until=now)
            ids = await _ticket_ids(session, column, row.key, since=since, until=now)
            spikes.append(Spike(dimension, row.key, row.current, usual, examples, ids))
    return spikes


async def claim_alert(session: AsyncSession, spike: Spike, *, now: datetime) -> bool:
    """True if no alert for this category/district went out within the hour (and record it)."""
    recent = await session.execute(
        select(func.count()).where(JobRun.job == spike.job, JobRun.fire_at > now - HOUR)
    )
    if int(recent.scalar_one()):
        return False
    return await claim_run(session, job=spike.job, fire_at=now, now=now, runner="spike-alert")


@dataclass
class SpikeJob:
    sessionmaker: async_sessionmaker[AsyncSession]
    poster: Poster
    catalog: Catalog
    zone: ZoneInfo
    chat_id: int
    clock: Clock
    multiple: float = 3.0
    min_count: int = 5
    texts: StatsTexts = field(init=False)

    def __post_init__(self) -> None:
        self.texts = StatsTexts(self.catalog, zone=self.zone)

    def text(self, spike: Spike) -> Markup:
        name = (
            self.texts.category(spike.key)
            if spike.dimension == "category"
            else self.texts.district(spike.key)
        )
        lines = [
            self.texts.t(
                "spike.title", what=self.texts.t(labels.SPIKE_WHAT[spike.dimension], name=name)
            ),
            self.texts.t(
                "spike.body",
                count=spike.count,
                usual=self.texts.catalog.decimal(self.texts.language, spike.usual),
                multiple=self.texts.catalog.decimal(
                    self.texts.language, self.multiple, digits=2, trim=True
                ),
            ),
        ]
        if spike.examples:
            lines.append(self.texts.t("spike.examples"))
            lines += [
                self.texts.t("spike.example", number=e.number, excerpt=e.excerpt or "—")
                for e in spike.examples
            ]
        return Markup("\n".join(lines))

    async def run(self) -> list[Spike]:
        """Detect, claim and post; returns the spikes alerted now."""
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            found = await detect(session, now=now, multiple=self.multiple, min_count=self.min_count)
            fresh = [spike for spike in found if await claim_alert(session, spike, now=now)]
        label = markup_to_plain(self.texts.t("spike.btn.incident"))
        for spike in fresh:
            button = (label, incident_action(spike, at=now))
            await self.poster.post(self.chat_id, self.text(spike), button=button)
            log.info(
                "spike alert: %s %s (%d in the last hour)", spike.dimension, spike.key, spike.count
            )
        return fresh
