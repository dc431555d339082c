"""``citybot sandbox --seed``: a demo world in the database, so the sandbox has something to show.

Residents on both messengers across the seven districts, staff of every role, open tickets of
every kind at different points of their legal terms (some overdue), a few closed and rated ones,
past news delivered to their audience, and an open poll with votes.

Everything goes through the same repository functions the bot itself uses (tickets are filed by
``storage.filing.file_ticket`` as the resident flows file them; ticket transitions, broadcast
planning, the delivery queue, votes), with "now" moved into the past where the thing happened in
the past. What the world holds (people, tickets, news, the poll) is data in ``demo_people``,
``demo_tickets`` and ``demo_news``; this module builds it. Nothing is sent anywhere: tickets are
left without a card, so the bot's catch-up job posts them to the staff chat once the sandbox runs.

Deterministic for a given ``rng_seed`` and ``now``; one transaction, so a seed is all or nothing,
and a second seed of the same database is refused (the audit entry ``sandbox.seed`` marks it).
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.demo_news import (
    NEWS,
    POLL_OPEN_DAYS,
    POLL_OPTIONS,
    POLL_QUESTION,
    POLL_SENT_DAYS_AGO,
    POLL_VOTER_SHARE,
    SEND_CHUNKS,
    option_weights,
)
from bot.sandbox.demo_people import (
    DIGEST_SHARES,
    DISTRICT_WEIGHTS,
    ENGLISH_SHARE,
    FATHERS,
    FEMALE_FIRST,
    LAST,
    MALE_FIRST,
    MOBILE_CODES,
    STAFF,
    STREETS,
    TOPIC_SHARES,
    WHOLE_CITY_SHARE,
    Person,
)
from bot.sandbox.demo_tickets import TICKETS, TicketSpec
from bot.sandbox.world import DEFAULT_NAMES
from handlers.polls import poll_buttons_json, poll_text
from messaging.i18n import Catalog
from storage import audit, polls, ticket_events, tickets
from storage.broadcasts import (
    DeliveryState,
    Outcome,
    claim_due,
    create_broadcast,
    finish_done,
    record_outcomes,
)
from storage.calendar import WorkCalendar
from storage.calendar_store import load_calendar
from storage.deadlines import TicketKind, initial_deadline
from storage.filing import FilingPolicy, TicketForm, file_ticket
from storage.models import AuditEntry, Delivery, Poll, Resident, ResidentTopic, Staff, Ticket
from storage.planning import plan_broadcast
from storage.staff import upsert_telegram_staff
from storage.ticket_events import Happened
from storage.ticket_rules import answer_resolution, close, closure_round, rate, record_answer, take
from storage.vocabulary import (
    POLICY_VERSION,
    Channel,
    District,
    MessageDirection,
    Role,
    Topic,
)

SEED_ACTION = "sandbox.seed"
SEED_ACTOR = "sandbox"
TELEGRAM_RESIDENT_BASE = 700_000_001
STAFF_BASE = 900_000_001
TELEGRAM_SHARE = 0.6
NAME_DRAWS = 100


@dataclass(frozen=True)
class SeedIds:
    """The ids the sandbox registers in its fake messengers."""

    telegram_residents: list[tuple[int, str]]  # (telegram user id, display name)
    viber_residents: list[tuple[str, str]]  # (viber user id, display name)
    staff: list[tuple[int, str, str]]  # (telegram user id, display name, role value)


def viber_id(index: int) -> str:
    """A Viber-like user id (16 bytes, base64: 24 characters ending in ``==``)."""
    digest = hashlib.sha256(f"citybot-sandbox-viber-{index}".encode()).digest()
    return base64.b64encode(digest[:16]).decode("ascii")


async def is_seeded(session: AsyncSession) -> bool:
    """Whether this database already holds the demo world (or anything in its reserved ids)."""
    marker = exists().where(AuditEntry.action == SEED_ACTION)
    reserved = exists().where(
        Resident.channel == Channel.TELEGRAM.value,
        Resident.external_id == str(TELEGRAM_RESIDENT_BASE),
    )
    return bool(await session.scalar(select(marker | reserved)))


async def seed_demo_world(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    zone: ZoneInfo,
    residents: int = 300,
    rng_seed: int = 7,
) -> SeedIds | None:
    """Create the demo world in one transaction; None (and nothing changed) if it is there."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if residents < 2:
        raise ValueError("the demo world needs at least 2 residents (one per messenger)")
    now = now.astimezone(UTC)
    async with sessionmaker() as session, session.begin():
        if await is_seeded(session):
            return None
        world = _World(session, now=now, zone=zone, rng=random.Random(rng_seed))
        ids = await world.build(residents)
        audit.record(
            session,
            actor=SEED_ACTOR,
            action=SEED_ACTION,
            now=now,
            details={
                "residents": residents,
                "rng_seed": rng_seed,
                "tickets": len(TICKETS),
                "news": len(NEWS),
            },
        )
    return ids


class _World:
    def __init__(
        self, session: AsyncSession, *, now: datetime, zone: ZoneInfo, rng: random.Random
    ) -> None:
        self.session = session
        self.now = now
        self.zone = zone
        self.rng = rng
        self.today = now.astimezone(zone).date()
        # The service targets the bot runs with by default (``TicketPolicy``).
        self.policy = FilingPolicy(zone=zone)
        # Names shown so far: the page's switcher and the desk tell people apart by them.
        self.names = {name for name, _ in STAFF} | set(DEFAULT_NAMES)

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def _before_now(self, moment: datetime, margin: timedelta = timedelta(minutes=5)) -> datetime:
        return min(moment, self.now - margin)

    async def build(self, count: int) -> SeedIds:
        staff = await self._staff()
        people, seeded = self._residents(count)
        self.session.add_all(seeded)
        await self.session.flush()
        operators = [account.id for account in staff if account.role == Role.OPERATOR.value]
        editors = [account.id for account in staff if account.role == Role.EDITOR.value]
        await self._tickets(seeded, people, operators)
        await self._news(editors)
        await self._poll(seeded, editors[0])
        telegram = [(int(r.external_id), r.name or "") for r in seeded if r.channel == "telegram"]
        viber = [(r.external_id, r.name or "") for r in seeded if r.channel == "viber"]
        people_ids = [(int(a.telegram_id or 0), a.name or "", a.role) for a in staff]
        return SeedIds(telegram_residents=telegram, viber_residents=viber, staff=people_ids)

    # -- people -----------------------------------------------------------------------------

    async def _staff(self) -> list[Staff]:
        created = self.now - timedelta(days=400)
        found: list[Staff] = []
        for offset, (name, role) in enumerate(STAFF):
            telegram_id = STAFF_BASE + offset
            # An id already in CITYBOT_ADMIN_IDS exists by now: then its role is changed.
            account, added = await upsert_telegram_staff(
                self.session, telegram_id=telegram_id, role=role, now=created, name=name
            )
            audit.record(
                self.session,
                actor=SEED_ACTOR,
                action="staff.added" if added else "staff.role_changed",
                now=created,
                subject=f"staff:{account.id}",
                details={"role": role.value},
            )
            found.append(account)
        return found

    def _person(self) -> Person:
        rng = self.rng
        female = rng.random() < 0.55
        first = rng.choice(FEMALE_FIRST if female else MALE_FIRST)
        patronymic = rng.choice(FATHERS)[1 if female else 0]
        return Person(first=first, last=rng.choice(LAST), patronymic=patronymic)

    def _new_person(self) -> tuple[Person, str]:
        """Someone whose full and shown names are no one else's (given NAME_DRAWS tries, ample
        for hundreds of residents; past thousands some would repeat)."""
        for _ in range(NAME_DRAWS):
            person = self._person()
            name = self._display_name(person)
            if name not in self.names and person.full_name not in self.names:
                break
        self.names.update((name, person.full_name))
        return person, name

    def _display_name(self, person: Person) -> str:
        style = self.rng.random()
        if style < 0.6:
            return f"{person.first} {person.last}"
        if style < 0.8:
            return person.first
        return f"{person.first} {person.last[0]}."

    def _residents(self, count: int) -> tuple[list[Person], list[Resident]]:
        rng = self.rng
        telegram_count = min(count - 1, max(1, round(count * TELEGRAM_SHARE)))
        districts = [district for district, _ in DISTRICT_WEIGHTS]
        weights = [weight for _, weight in DISTRICT_WEIGHTS]
        people: list[Person] = []
        seeded: list[Resident] = []
        for index in range(count):
            on_telegram = index < telegram_count
            channel_index = index if on_telegram else index - telegram_count
            if on_telegram:
                channel, external_id = Channel.TELEGRAM, str(TELEGRAM_RESIDENT_BASE + index)
            else:
                channel, external_id = Channel.VIBER, viber_id(channel_index)
            person, name = self._new_person()
            if channel_index < len(districts):
                # Every district on both messengers, whatever the draw.
                district = districts[channel_index].value
            elif rng.random() < WHOLE_CITY_SHARE:
                district = District.WHOLE_CITY.value
            else:
                district = rng.choices(districts, weights)[0].value
            topics = [topic.value for topic, share in TOPIC_SHARES if rng.random() < share]
            if not topics:
                topics = [Topic.CITY_NEWS.value]
            digest = rng.choices(
                [d.value for d, _ in DIGEST_SHARES], [share for _, share in DIGEST_SHARES]
            )[0]
            created = self.now - timedelta(days=rng.randint(50, 500), minutes=rng.randint(0, 1439))
            consent = created + timedelta(seconds=rng.randint(5, 60))
            seen = created + (self.now - created) * rng.uniform(0.5, 0.99)
            people.append(person)
            seeded.append(
                Resident(
                    channel=channel.value,
                    external_id=external_id,
                    name=name,
                    language="en" if rng.random() < ENGLISH_SHARE else "uk",
                    consent_at=consent,
                    policy_version=POLICY_VERSION,
                    district=district,
                    digest=digest,
                    subscribed=True,
                    is_active=True,
                    onboarded_at=consent + timedelta(minutes=rng.randint(1, 5)),
                    created_at=created,
                    last_seen_at=seen,
                    topics=[ResidentTopic(topic=topic) for topic in topics],
                )
            )
        return people, seeded

    def _phone(self) -> str:
        return "+380" + self.rng.choice(MOBILE_CODES)[1:] + f"{self.rng.randrange(10**7):07d}"

    def _address(self) -> str:
        street = self.rng.choice(STREETS)
        house = self.rng.randint(1, 120)
        if self.rng.random() < 0.2:
            return f"{street}, {house}, м. Кривий Ріг"
        return f"{street}, {house}, кв. {self.rng.randint(1, 180)}, м. Кривий Ріг"

    # -- tickets ----------------------------------------------------------------------------

    def _filing(self, spec: TicketSpec, calendar: WorkCalendar) -> datetime:
        """When the ticket was received, so that its deadline (by the same rules the flows
        use) falls ``spec.due_in`` local days from today, or as near as the calendar allows."""
        at = time(self.rng.randint(8, 19), self.rng.randint(0, 59))
        best: tuple[int, int, datetime] | None = None
        for age in range(1, 60):
            received = self._local(self.today - timedelta(days=age), at)
            deadline = initial_deadline(
                spec.kind,
                received,
                calendar=calendar,
                zone=self.zone,
                urgent=spec.urgent_reason is not None,
                feedback_days=self.policy.feedback_days,
                legal_aid_days=self.policy.legal_aid_days,
            )
            due_in = (deadline.astimezone(self.zone).date() - self.today).days
            candidate = (abs(due_in - spec.due_in), age, received)
            if best is None or candidate[:2] < best[:2]:
                best = candidate
        assert best is not None
        return best[2]

    async def _tickets(
        self, seeded: Sequence[Resident], people: Sequence[Person], operators: Sequence[int]
    ) -> None:
        calendar = await load_calendar(self.session)
        filings = [self._filing(spec, calendar) for spec in TICKETS]
        authors = self.rng.sample(range(len(seeded)), k=min(len(TICKETS), len(seeded)))
        planned = [
            (received, spec, authors[index % len(authors)])
            for index, (spec, received) in enumerate(zip(TICKETS, filings, strict=True))
        ]
        # Numbers are given in the order tickets were filed, as in the real flows.
        planned.sort(key=lambda item: item[0])
        for number, (received, spec, author) in enumerate(planned):
            operator = operators[number % len(operators)]
            await self._ticket(spec, seeded[author], people[author], received, operator)

    def _form(self, spec: TicketSpec, resident: Resident, person: Person) -> TicketForm:
        """What the demo resident wrote: a full name where the law asks for one, a phone or
        a postal address to answer to."""
        kind = spec.kind
        formal = kind in (TicketKind.APPEAL, TicketKind.INFO_REQUEST)
        if kind is TicketKind.INFO_REQUEST:
            contact = self._phone() if self.rng.random() < 0.5 else self._address()
        elif kind is TicketKind.FEEDBACK:
            contact = None
        else:
            contact = self._phone()
        return TicketForm(
            kind=kind,
            channel=resident.channel,
            body=spec.body,
            category=spec.category,
            appeal_type=spec.appeal_type,
            urgent=spec.urgent_reason is not None,
            urgent_reason=spec.urgent_reason,
            anonymous=spec.anonymous,
            full_name=person.full_name if formal else resident.name or person.full_name,
            address=self._address() if kind is TicketKind.APPEAL else None,
            contact=contact,
        )

    async def _ticket(
        self,
        spec: TicketSpec,
        resident: Resident,
        person: Person,
        received: datetime,
        operator: int,
    ) -> None:
        session = self.session
        # Filed as the flows file it, at the moment it was received.
        ticket = await file_ticket(
            session,
            resident=resident,
            form=self._form(spec, resident, person),
            now=received,
            policy=self.policy,
        )
        if spec.followup is not None:
            later = self._before_now(received + timedelta(hours=self.rng.randint(3, 30)))
            tickets.add_message(
                session, ticket, direction=MessageDirection.RESIDENT, now=later, text=spec.followup
            )
        if spec.stage == "new":
            return
        actor = f"staff:{operator}"
        taken_at = self._before_now(received + timedelta(hours=self.rng.randint(1, 20)))
        take(ticket, staff_id=operator, now=taken_at)
        self._audit(actor, "ticket.take", ticket, taken_at)
        # The steps "my tickets" shows as the ticket's timeline.
        ticket_events.record(session, ticket, Happened.TAKEN, now=taken_at, staff_id=operator)
        if spec.stage == "taken":
            return
        answered_at = self._before_now(taken_at + timedelta(hours=self.rng.randint(2, 30)))
        message = tickets.add_message(
            session,
            ticket,
            direction=MessageDirection.STAFF,
            now=answered_at,
            text=spec.answer,
            author_id=operator,
        )
        await session.flush()
        record_answer(ticket, staff_id=operator, now=answered_at)
        self._audit(actor, "ticket.answer", ticket, answered_at, message=message.id)
        ticket_events.record(session, ticket, Happened.ANSWERED, now=answered_at, staff_id=operator)
        if spec.stage == "answered":
            return
        closed_at = self._before_now(answered_at + timedelta(hours=self.rng.randint(1, 48)))
        close(ticket, now=closed_at)
        self._audit(actor, "ticket.close", ticket, closed_at)
        ticket_events.record(session, ticket, Happened.CLOSED, now=closed_at, staff_id=operator)
        if spec.rating is None:
            return
        rated_at = self._before_now(
            closed_at + timedelta(hours=self.rng.randint(1, 24)), margin=timedelta(0)
        )
        # A rating follows the resident's "yes, resolved" (handlers.tickets.closure).
        round_ = closure_round(ticket)
        assert round_ is not None
        answer_resolution(ticket, resolved=True, round_=round_, now=rated_at)
        ticket_events.record(session, ticket, Happened.RESOLVED, now=rated_at)
        rate(ticket, stars=spec.rating, now=rated_at)
        ticket.rating_comment = spec.rating_comment
        audit.record(
            session,
            actor=f"resident:{resident.id}",
            action="ticket.rated",
            subject=f"ticket:{ticket.id}",
            now=rated_at,
            details={"stars": spec.rating},
        )

    def _audit(
        self, actor: str, action: str, ticket: Ticket, at: datetime, **details: object
    ) -> None:
        audit.record(
            self.session,
            actor=actor,
            action=action,
            now=at,
            subject=f"ticket:{ticket.id}",
            details={"number": ticket.number, **details},
        )

    # -- broadcasts -------------------------------------------------------------------------

    async def _deliver_all(self, broadcast_id: int, started: datetime) -> datetime:
        """Mark every delivery of a just-planned broadcast sent, through the engine's own claim
        and outcome statements, at the pace the real senders keep. Returns when it finished."""
        finished = started
        for channel, chunk in SEND_CHUNKS.items():
            claimed = await claim_due(
                self.session,
                channel=channel,
                limit=1_000_000,
                now=started,
                lease=timedelta(minutes=5),
            )
            mine = [item for item in claimed if item.broadcast_id == broadcast_id]
            # Anything of another live broadcast goes back to the queue untouched.
            others = [
                Outcome(delivery_id=item.id, state=DeliveryState.PENDING, retry_at=item.lease_until)
                for item in claimed
                if item.broadcast_id != broadcast_id
            ]
            await record_outcomes(self.session, outcomes=others, now=started)
            for offset in range(0, len(mine), chunk):
                sent_at = started + timedelta(seconds=1 + offset // chunk)
                token = str(self.rng.randrange(10**18, 9 * 10**18))
                outcomes = [
                    Outcome(
                        delivery_id=item.id,
                        state=DeliveryState.SENT,
                        resident_id=item.resident_id,
                        message_id=token
                        if channel == Channel.VIBER.value
                        else str(self.rng.randint(2, 900)),
                    )
                    for item in mine[offset : offset + chunk]
                ]
                await record_outcomes(self.session, outcomes=outcomes, now=sent_at)
                finished = max(finished, sent_at)
        await finish_done(self.session, now=finished)
        return finished

    async def _news(self, editors: Sequence[int]) -> None:
        for index, (days_ago, at, topics, districts, urgent, text) in enumerate(NEWS):
            editor = editors[index % len(editors)]
            started = self._before_now(self._local(self.today - timedelta(days=days_ago), at))
            drafted = started - timedelta(minutes=self.rng.randint(5, 40))
            broadcast = await create_broadcast(
                self.session,
                text=text,
                now=drafted,
                topics=[topic.value for topic in topics],
                districts=[district.value for district in districts],
                urgent=urgent,
                created_by=editor,
            )
            subject = f"broadcast:{broadcast.id}"
            actor = f"staff:{editor}"
            audit.record(
                self.session, actor=actor, action="news.draft", now=drafted, subject=subject
            )
            count = await plan_broadcast(self.session, broadcast_id=broadcast.id, now=started)
            audit.record(
                self.session,
                actor=actor,
                action="news.sent",
                now=started,
                subject=subject,
                details={"recipients": count},
            )
            await self._deliver_all(broadcast.id, started)

    async def _poll(self, seeded: Sequence[Resident], editor: int) -> None:
        session = self.session
        started = self._before_now(
            self._local(self.today - timedelta(days=POLL_SENT_DAYS_AGO), time(12, 0))
        )
        drafted = started - timedelta(minutes=20)
        poll = await polls.create_poll(
            session,
            question=POLL_QUESTION,
            options=POLL_OPTIONS,
            closes_at=started + timedelta(days=POLL_OPEN_DAYS),
            now=drafted,
            created_by=editor,
        )
        self._poll_audit(editor, "poll.draft", poll, drafted)
        broadcast = await polls.poll_broadcast(session, poll)
        # What residents got, frozen when it was sent (as the poll composer does).
        catalog = Catalog.load()
        broadcast.text = poll_text(catalog, catalog.default, poll, self.zone)
        broadcast.buttons = poll_buttons_json(poll)
        await session.flush()
        count = await plan_broadcast(session, broadcast_id=broadcast.id, now=started)
        self._poll_audit(editor, "poll.sent", poll, started, recipients=count)
        finished = await self._deliver_all(broadcast.id, started)
        await self._votes(poll, seeded, finished)

    async def _votes(self, poll: Poll, seeded: Sequence[Resident], after: datetime) -> None:
        received = set(
            (
                await self.session.scalars(
                    select(Delivery.resident_id).where(
                        Delivery.broadcast_id == poll.broadcast_id,
                        Delivery.state == DeliveryState.SENT.value,
                    )
                )
            ).all()
        )
        window = max((self.now - after).total_seconds() - 600, 60)
        votes: list[tuple[datetime, Resident, int]] = []
        for resident in seeded:
            if resident.id not in received or self.rng.random() >= POLL_VOTER_SHARE:
                continue
            weights = option_weights(resident.district or "")
            option = self.rng.choices(range(len(POLL_OPTIONS)), weights)[0]
            voted_at = after + timedelta(seconds=window * self.rng.random() ** 2)
            votes.append((voted_at, resident, option))
        votes.sort(key=lambda vote: (vote[0], vote[1].id))
        for voted_at, resident, option in votes:
            await polls.choose(
                self.session,
                poll=poll,
                resident=resident,
                option=option,
                selected=True,
                now=voted_at,
            )

    def _poll_audit(
        self, editor: int, action: str, poll: Poll, at: datetime, **details: object
    ) -> None:
        audit.record(
            self.session,
            actor=f"staff:{editor}",
            action=action,
            now=at,
            subject=f"poll:{poll.id}",
            details=dict(details),
        )
