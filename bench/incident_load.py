"""One outage, a thousand reports (issue 17): 1,000 residents report the same water outage in
30 simulated minutes; they end up linked to one incident; one status update reaches all 1,000
through the delivery engine at the channels' rates, while the desk stays responsive.

    python -m bench.incident_load [--reports 1000] [--viber-share 0.3] [--open-after 50]
                                  [--latency 0.05] [--sqlite]

The clock is injected: report ``i`` is filed at ``start + i × 30 min / reports`` (``start`` is
31 minutes ago, so the engine, on the real clock, may send at once). Each report is filed as a
resident's "file anyway" files it (``storage.filing.file_ticket``, then the matcher over the
open incidents and the link), one transaction each. After ``--open-after`` reports the spike
alert's "open an incident" opens it with the spike's tickets preselected
(``broadcasts.spikes.prefill_for``, ``handlers.staff.incidents.open_incident``). Then the staff
operation ``update`` queues the status update, and the engine sends it to the fake Telegram (30
messages/s overall, 1/s per chat) and the fake Viber (``broadcast_message``, 300 receivers a
call, 500 calls per 10 s), each in its own process, answering after ``--latency``. Meanwhile a
desk reads the incident's card every 0.5 s. Reported: filing latency (p50/p95/max), the open and
update operations' time, the delivery time and rate per channel, the card's latency during
delivery, whether everyone got exactly one message, and the time of ``resolve`` closing the
1,000 linked tickets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.broadcast_telegram import FIRST_USER
from bench.broadcast_telegram import fake_process as telegram_fake
from bench.broadcast_viber import fake_process as viber_fake
from bench.broadcast_viber import user_id
from bench.finished import wait_finished
from bot.migrate import upgrade_to_head
from bot.telegram.bulk import BulkTelegramSender
from bot.viber import render
from bot.viber.client import ViberClient
from broadcasts import spikes
from broadcasts.engine import DeliveryEngine, EngineConfig, ViberTransport
from handlers.notify import Notifier
from handlers.staff import incidents as ops
from handlers.staff.core import Actor, Desk, Done, Refused, StaffCore
from handlers.staff.notices import Notices
from handlers.staff.tickets.context import TicketCore
from messaging.i18n import Catalog
from storage import incidents
from storage.db import create_engine, create_sessionmaker
from storage.deadlines import TicketKind
from storage.filing import FilingPolicy, TicketForm, file_ticket
from storage.incident_match import ReportFacts
from storage.incidents import IncidentStatus, LinkedBy
from storage.models import Broadcast, Delivery, IncidentTicket, Resident
from storage.vocabulary import Role
from tests.conftest import pg_database
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN
from tests.staff_accounts import add_staff

T = TypeVar("T")
ZONE = ZoneInfo("Europe/Kyiv")
STAFF = 777
DISTRICT = "pokrovskyi"
TEXTS = (
    "Немає води на вулиці Соборності",
    "Третій день без води, що сталося?",
    "Коли дадуть воду в Покровському районі?",
    "Нема холодної води в будинку 12",
    "Вода не йде з крана з самого ранку",
)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Numbers:
    filing: list[float] = field(default_factory=list)
    card: list[float] = field(default_factory=list)


async def seed(url: str, telegram: int, viber: int) -> list[int]:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        now = datetime.now(UTC)
        common = {
            "language": "uk",
            "consent_at": now,
            "district": DISTRICT,
            "digest": "instant",
            "subscribed": True,
            "is_active": True,
            "created_at": now,
            "last_seen_at": now,
        }
        rows = [
            {"channel": "telegram", "external_id": str(FIRST_USER + i), **common}
            for i in range(telegram)
        ] + [{"channel": "viber", "external_id": user_id(i), **common} for i in range(viber)]
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(insert(Resident), rows)
            await add_staff(session, STAFF, Role.OPERATOR, now=now)
            ids = await session.scalars(select(Resident.id).order_by(Resident.id))
            return list(ids)
    finally:
        await engine.dispose()


def incident_core(db: AsyncEngine, clock: Clock, wake: list[DeliveryEngine]) -> ops.IncidentCore:
    sessionmaker = create_sessionmaker(db)
    catalog = Catalog.load()
    notifier = Notifier(senders={}, sessionmaker=sessionmaker, clock=clock)
    tickets = TicketCore(
        core=StaffCore(sessionmaker=sessionmaker, clock=clock),
        notices=Notices(notifier=notifier, catalog=catalog, zone=ZONE, media=None),
        events=_NoDesk(),
        sessionmaker=sessionmaker,
        clock=clock,
        zone=ZONE,
        operator_chat_id=None,
        feedback_days=10,
        legal_aid_days=10,
    )

    def woken() -> None:
        for delivery in wake:
            delivery.wake()

    return ops.IncidentCore(tickets=tickets, catalog=catalog, wake=woken)


class _NoDesk:
    async def refresh_card(self, ticket_id: int) -> None: ...

    async def repost(self, ticket_id: int) -> None: ...

    async def delivery_failed(
        self, ticket_id: int, reason: str, *, reply_to: int | None
    ) -> None: ...

    async def staff_wrote(self, ticket_id: int, message_id: int) -> None: ...


def _done(outcome: Done[T] | Refused) -> T:
    assert isinstance(outcome, Done), outcome
    return outcome.value


async def file_reports(
    core: ops.IncidentCore, clock: Clock, residents: list[int], args: argparse.Namespace
) -> tuple[int, float, Numbers]:
    """File every report; open the incident after ``--open-after``. Returns the incident, the
    open operation's seconds, and the filing latencies."""
    sessionmaker = core.tickets.sessionmaker
    start = clock.now
    step = timedelta(minutes=30) / len(residents)
    policy = FilingPolicy(zone=ZONE)
    numbers = Numbers()
    incident_id, opening = 0, 0.0
    for index, resident_id in enumerate(residents):
        clock.now = start + index * step
        if index == args.open_after:
            began = time.perf_counter()
            async with sessionmaker() as session:
                prefill = await spikes.prefill_for(session, "category", "housing", clock.now)
            draft = ops.Draft(
                title="Немає води в Покровському районі",
                category=prefill.category,
                districts=(DISTRICT,),
                description="Аварія на магістральному водогоні.",
                expected_at=clock.now + timedelta(hours=6),
                ticket_ids=prefill.ticket_ids,
            )
            opened = _done(await ops.open_incident(core, Actor(STAFF, desk=Desk.WEB), draft))
            incident_id, opening = opened.incident.id, time.perf_counter() - began
            print(f"  incident opened after {index} reports: {len(opened.linked)} preselected")
        began = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            resident = await session.get(Resident, resident_id)
            assert resident is not None
            text = TEXTS[index % len(TEXTS)]
            match = await incidents.match_report(
                session, ReportFacts(text, "housing", resident.district, clock.now)
            )
            form = TicketForm(
                kind=TicketKind.FEEDBACK,
                channel=resident.channel,
                body=text,
                category="housing",
                anonymous=True,
            )
            ticket = await file_ticket(
                session,
                resident=resident,
                form=form,
                now=clock.now,
                policy=policy,
                actor=f"resident:{resident.id}",
            )
            if match is not None:
                await incidents.link_ticket(
                    session,
                    incident_id=match.incident_id,
                    ticket_id=ticket.id,
                    linked_by=LinkedBy.SUGGESTED,
                    now=clock.now,
                )
        numbers.filing.append(time.perf_counter() - began)
    return incident_id, opening, numbers


async def watch_card(core: ops.IncidentCore, incident_id: int, numbers: Numbers) -> None:
    """A desk reading the incident's card every 0.5 s while the update goes out."""
    while True:
        began = time.perf_counter()
        _done(await ops.card(core, Actor(STAFF, desk=Desk.WEB), incident_id))
        numbers.card.append(time.perf_counter() - began)
        await asyncio.sleep(0.5)


def _ms(values: list[float], share: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000:.0f}"


@contextlib.asynccontextmanager
async def database(sqlite: bool) -> AsyncIterator[str]:
    if sqlite:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/incidents.db"
        return
    async with pg_database() as url:
        yield url


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--viber-share", type=float, default=0.3)
    parser.add_argument("--open-after", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    viber = round(args.reports * args.viber_share)
    telegram = args.reports - viber
    print(f"{args.reports} reports ({telegram} Telegram, {viber} Viber) in 30 simulated minutes")
    async with database(args.sqlite) as url:
        residents = await seed(url, telegram, viber)
        clock = Clock(datetime.now(UTC) - timedelta(minutes=31))
        engines: list[DeliveryEngine] = []
        db = create_engine(url)
        core = incident_core(db, clock, engines)
        sessionmaker = core.tickets.sessionmaker
        incident_id, opening, numbers = await file_reports(core, clock, residents, args)
        async with sessionmaker() as session:
            linked = await incidents.count_linked(session, incident_id)
        left = _done(await ops.suggestions(core, Actor(STAFF, desk=Desk.WEB), incident_id))
        print(
            f"filing: p50 {_ms(numbers.filing, 0.5)} ms, p95 {_ms(numbers.filing, 0.95)} ms, "
            f"max {max(numbers.filing) * 1000:.0f} ms; open_incident {opening * 1000:.0f} ms"
        )
        print(f"linked to the incident: {linked} of {args.reports}; still suggested: {len(left)}")

        clock.now = datetime.now(UTC)
        began = time.perf_counter()
        change = ops.Change(
            status=IncidentStatus.WORKING, text="Бригада на місці, воду дадуть до 18:00."
        )
        delivered = _done(await ops.update(core, Actor(STAFF, desk=Desk.WEB), incident_id, change))
        print(
            f"update: {delivered.recipients} recipients queued in "
            f"{(time.perf_counter() - began) * 1000:.0f} ms"
        )
        async with sessionmaker() as session:
            ids = list(
                await session.scalars(
                    select(Broadcast.id).where(Broadcast.source_ref == str(delivered.update_id))
                )
            )
        async with (
            telegram_fake(args.latency, telegram) as (tg_url, tg_stats),
            viber_fake(args.latency, viber) as (vb_url, vb_stats),
            aiohttp.ClientSession() as http,
        ):
            bulk = BulkTelegramSender(api_url=tg_url, token=TELEGRAM_TOKEN, paid=False)
            client = ViberClient(session=http, api_url=vb_url, token=VIBER_TOKEN)
            engine = DeliveryEngine(
                sessionmaker=sessionmaker,
                telegram=bulk,
                viber=ViberTransport(
                    api=client, render=render.messages, sender_info={"name": "Міська рада"}
                ),
                config=EngineConfig(idle_poll=0.2),
            )
            engines.append(engine)
            stop = asyncio.Event()
            began = time.perf_counter()
            task = asyncio.create_task(engine.run(stop))
            watcher = asyncio.create_task(watch_card(core, incident_id, numbers))
            for broadcast_id in ids:
                await wait_finished(sessionmaker, broadcast_id)
            elapsed = time.perf_counter() - began
            watcher.cancel()
            stop.set()
            await asyncio.gather(task, watcher, return_exceptions=True)
            await bulk.close()
        async with sessionmaker() as session:
            rows = await session.execute(
                select(Delivery.channel, Delivery.state, func.count())
                .where(Delivery.broadcast_id.in_(ids))
                .group_by(Delivery.channel, Delivery.state)
            )
            states = {(channel, state): count for channel, state, count in rows}
            twice = await session.scalar(
                select(func.count()).select_from(
                    select(Delivery.resident_id)
                    .where(Delivery.broadcast_id.in_(ids))
                    .group_by(Delivery.resident_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
        sent = sum(count for (_, state), count in states.items() if state == "sent")
        print(f"delivery: {sent} sent in {elapsed:.1f} s = {sent / elapsed:.1f}/s; {states}")
        print(
            f"  fake Telegram: {tg_stats.sent} messages, {tg_stats.rate_limited} answered 429; "
            f"fake Viber: {vb_stats[0]} receivers in {vb_stats[2]} calls, "
            f"{vb_stats[1]} status 12"
        )
        print(f"  residents with more than one delivery: {twice}")
        print(
            f"  incident card during delivery: p50 {_ms(numbers.card, 0.5)} ms, "
            f"max {max(numbers.card) * 1000:.0f} ms over {len(numbers.card)} reads"
        )
        async with sessionmaker() as session:
            suggested = await session.scalar(
                select(func.count()).where(IncidentTicket.linked_by == LinkedBy.SUGGESTED.value)
            )
        print(
            f"  links: {suggested} by the matcher at filing, {linked - (suggested or 0)} by staff"
        )
        # Resolving answers and closes every linked feedback ticket in one operation (its final
        # update is queued, not sent here: the delivery was measured above).
        clock.now = datetime.now(UTC)
        began = time.perf_counter()
        resolved = _done(
            await ops.resolve(core, Actor(STAFF, desk=Desk.WEB), incident_id, "Воду подали.")
        )
        print(
            f"resolve: {len(resolved.closed_tickets)} feedback tickets answered and closed, "
            f"final update queued for {resolved.delivered.recipients}, in "
            f"{(time.perf_counter() - began) * 1000:.0f} ms"
        )
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
