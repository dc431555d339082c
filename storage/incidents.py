"""Incident repository (issue 17): incidents, the tickets linked to them, their followers, their
status updates and the planning of each update's delivery. The caller commits.

Who hears about an incident: the residents of its linked tickets and its followers, each person
once (a resident who follows and also has linked tickets is one recipient), reached as news is
(``storage.linking``: the messenger they prefer), whether or not they take news pushes — it is
about their own report. Each status update becomes one broadcast per language (kind
``incident``, ``source_ref`` the update's id) whose deliveries the engine sends at the channel
rates.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, delete, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcasts import BroadcastKind
from storage.incident_match import LEAD, IncidentFacts, Match, ReportFacts, best_match
from storage.models import (
    Incident,
    IncidentAnswer,
    IncidentFollower,
    IncidentTicket,
    IncidentUpdate,
    Resident,
    Ticket,
    TicketMessage,
)
from storage.planning import Planned, plan_by_language
from storage.vocabulary import OPEN_STATUSES

# How many linked reports' texts the matcher is given per incident (the most recent).
MATCH_TEXTS = 50
SOURCE = "incident"
# The attachment kind of a location a resident sent (``handlers.tickets.form``).
LOCATION = "location"
TITLE_MAX = 256


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    WORKING = "working"
    RESOLVED = "resolved"


OPEN_INCIDENT = (IncidentStatus.INVESTIGATING.value, IncidentStatus.WORKING.value)


class LinkedBy(StrEnum):
    STAFF = "staff"
    # Filed after the match prompt ("file anyway"), or linked by the suggester.
    SUGGESTED = "suggested"
    # Filed for a follower who said the incident is not resolved for them.
    RESIDENT = "resident"


class LinkResult(StrEnum):
    LINKED = "linked"
    ALREADY = "already"  # linked to this incident before
    ELSEWHERE = "elsewhere"  # linked to another incident (unlink it there first)


def is_open(incident: Incident) -> bool:
    return incident.status in OPEN_INCIDENT


def create_incident(
    session: AsyncSession,
    *,
    title: str,
    category: str | None,
    districts: Collection[str],
    description: str,
    expected_at: datetime | None,
    now: datetime,
    created_by: int | None,
    status: IncidentStatus = IncidentStatus.INVESTIGATING,
) -> Incident:
    incident = Incident(
        title=title,
        category=category,
        districts=sorted(set(districts)),
        description=description,
        status=status.value,
        expected_at=expected_at,
        opened_at=now,
        created_by=created_by,
        updated_at=now,
    )
    session.add(incident)
    return incident


async def get_incident(
    session: AsyncSession, incident_id: int, *, lock: bool = False
) -> Incident | None:
    """The incident; ``lock``: its row locked for this transaction (PostgreSQL), so two staff
    updating it at once are serialised."""
    if lock:
        result = await session.execute(
            select(Incident).where(Incident.id == incident_id).with_for_update()
        )
        return result.scalar_one_or_none()
    return await session.get(Incident, incident_id)


async def list_incidents(
    session: AsyncSession, *, open_only: bool = True, limit: int = 100
) -> Sequence[Incident]:
    query = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(limit)
    if open_only:
        query = query.where(Incident.status.in_(OPEN_INCIDENT))
    return (await session.scalars(query)).all()


# -- linked tickets ---------------------------------------------------------------------------


async def incident_of(session: AsyncSession, ticket_id: int) -> int | None:
    """The incident a ticket is linked to, if any."""
    link = await session.get(IncidentTicket, ticket_id)
    return None if link is None else link.incident_id


async def link_ticket(
    session: AsyncSession,
    *,
    incident_id: int,
    ticket_id: int,
    linked_by: LinkedBy,
    now: datetime,
    staff_id: int | None = None,
) -> LinkResult:
    current = await incident_of(session, ticket_id)
    if current == incident_id:
        return LinkResult.ALREADY
    if current is not None:
        return LinkResult.ELSEWHERE
    session.add(
        IncidentTicket(
            ticket_id=ticket_id,
            incident_id=incident_id,
            linked_by=linked_by.value,
            staff_id=staff_id,
            linked_at=now,
        )
    )
    await session.flush()
    return LinkResult.LINKED


async def unlink_ticket(session: AsyncSession, *, incident_id: int, ticket_id: int) -> bool:
    result = await session.execute(
        delete(IncidentTicket).where(
            IncidentTicket.ticket_id == ticket_id, IncidentTicket.incident_id == incident_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def linked_tickets(
    session: AsyncSession,
    incident_id: int,
    *,
    kinds: Collection[str] | None = None,
    lock: bool = False,
) -> Sequence[Ticket]:
    """The incident's tickets (of ``kinds``), by id; ``lock``: their rows locked for this
    transaction (PostgreSQL), as a staff action on each would lock it."""
    query = (
        select(Ticket)
        .join(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
        .where(IncidentTicket.incident_id == incident_id)
        .order_by(Ticket.id)
    )
    if kinds is not None:
        query = query.where(Ticket.kind.in_(list(kinds)))
    if lock:
        query = query.with_for_update(of=Ticket)
    return (await session.scalars(query)).all()


async def count_linked(session: AsyncSession, incident_id: int) -> int:
    result = await session.execute(
        select(func.count()).where(IncidentTicket.incident_id == incident_id)
    )
    return int(result.scalar_one())


async def residents_tickets(
    session: AsyncSession, *, incident_id: int, resident_id: int
) -> Sequence[Ticket]:
    """The resident's own tickets linked to the incident, oldest first."""
    query = (
        select(Ticket)
        .join(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
        .where(IncidentTicket.incident_id == incident_id, Ticket.resident_id == resident_id)
        .order_by(Ticket.id)
    )
    return (await session.scalars(query)).all()


# -- followers and answers ------------------------------------------------------------------


async def follow(
    session: AsyncSession, *, incident_id: int, resident_id: int, now: datetime
) -> bool:
    """Make the resident a follower; False if they were one already."""
    if await session.get(IncidentFollower, (incident_id, resident_id)) is not None:
        return False
    session.add(IncidentFollower(incident_id=incident_id, resident_id=resident_id, followed_at=now))
    await session.flush()
    return True


async def is_follower(session: AsyncSession, *, incident_id: int, resident_id: int) -> bool:
    return await session.get(IncidentFollower, (incident_id, resident_id)) is not None


async def count_followers(session: AsyncSession, incident_id: int) -> int:
    result = await session.execute(
        select(func.count()).where(IncidentFollower.incident_id == incident_id)
    )
    return int(result.scalar_one())


@dataclass(frozen=True, slots=True)
class Followed:
    """An incident a resident follows, for their ``/mydata``."""

    incident_id: int
    title: str
    status: str
    followed_at: datetime


async def resident_follows(session: AsyncSession, resident_id: int) -> list[Followed]:
    """Every incident the resident follows, oldest follow first."""
    query = (
        select(Incident.id, Incident.title, Incident.status, IncidentFollower.followed_at)
        .join(IncidentFollower, IncidentFollower.incident_id == Incident.id)
        .where(IncidentFollower.resident_id == resident_id)
        .order_by(IncidentFollower.followed_at, Incident.id)
    )
    return [Followed(*row) for row in (await session.execute(query)).all()]


async def forget_resident(session: AsyncSession, resident_ids: Collection[int]) -> int:
    """``/forget``: the residents' follows and their "resolved for you?" answers go (both tie a
    person to a problem at their address). Nothing counts the answers, and the tickets a "no"
    reopened or filed keep their own resolution, so nothing published changes. Returns how
    many follows went."""
    if not resident_ids:
        return 0
    follows = await session.execute(
        delete(IncidentFollower)
        .where(IncidentFollower.resident_id.in_(resident_ids))
        .execution_options(synchronize_session="fetch")
    )
    await session.execute(
        delete(IncidentAnswer)
        .where(IncidentAnswer.resident_id.in_(resident_ids))
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(follows, "rowcount", 0) or 0)


async def record_answer(
    session: AsyncSession,
    *,
    incident_id: int,
    resident_id: int,
    resolved: bool,
    now: datetime,
) -> IncidentAnswer | None:
    """The resident's answer to "resolved for you?"; None if they answered already (the first
    answer counts)."""
    if await session.get(IncidentAnswer, (incident_id, resident_id)) is not None:
        return None
    answer = IncidentAnswer(
        incident_id=incident_id, resident_id=resident_id, resolved=resolved, at=now
    )
    session.add(answer)
    await session.flush()
    return answer


# -- who hears about it ---------------------------------------------------------------------


def _audience_ids(incident_id: int) -> ColumnElement[bool]:
    followers = select(IncidentFollower.resident_id).where(
        IncidentFollower.incident_id == incident_id
    )
    reporters = (
        select(Ticket.resident_id)
        .join(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
        .where(IncidentTicket.incident_id == incident_id, Ticket.resident_id.is_not(None))
    )
    return Resident.id.in_(union(followers, reporters).scalar_subquery())


async def is_recipient(session: AsyncSession, *, incident_id: int, resident_id: int) -> bool:
    """Whether the incident's updates go to this resident (a follower or a reporter)."""
    result = await session.execute(
        select(func.count()).where(Resident.id == resident_id, _audience_ids(incident_id))
    )
    return bool(result.scalar_one())


async def plan_update(
    session: AsyncSession,
    *,
    incident_id: int,
    update_id: int,
    title: str,
    texts: Mapping[str, str],
    buttons: Mapping[str, list[list[list[str]]]] | None = None,
    default_language: str,
    created_by: int | None,
    now: datetime,
) -> Planned:
    """Queue the update for every recipient, in their language: ``texts`` (and ``buttons``)
    by language; residents of a language not in ``texts`` get ``default_language``'s; ``title``
    names the broadcasts where staff see them (``/stats``). Set-based
    (one ``INSERT … SELECT`` per language); each person once."""
    return await plan_by_language(
        session,
        kind=BroadcastKind.INCIDENT.value,
        source=SOURCE,
        source_ref=str(update_id),
        title=title,
        texts=texts,
        buttons=buttons,
        audience=_audience_ids(incident_id),
        default_language=default_language,
        created_by=created_by,
        now=now,
    )


def add_update(
    session: AsyncSession,
    *,
    incident: Incident,
    text: str,
    staff_id: int | None,
    now: datetime,
) -> IncidentUpdate:
    update = IncidentUpdate(
        incident_id=incident.id, status=incident.status, text=text, staff_id=staff_id, at=now
    )
    session.add(update)
    return update


async def updates_of(session: AsyncSession, incident_id: int) -> Sequence[IncidentUpdate]:
    query = (
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident_id)
        .order_by(IncidentUpdate.id)
    )
    return (await session.scalars(query)).all()


# -- matching -------------------------------------------------------------------------------


def parse_location(ref: str | None) -> tuple[float, float] | None:
    """A location attachment's reference ("47.91,33.39") as (latitude, longitude)."""
    latitude, _, longitude = (ref or "").partition(",")
    try:
        return float(latitude), float(longitude)
    except ValueError:
        return None


def report_facts(ticket: Ticket, district: str | None) -> ReportFacts:
    text = " ".join(part for part in (ticket.subject, ticket.body) if part)
    return ReportFacts(
        text=text, category=ticket.category, district=district, at=ticket.received_at
    )


async def facts_of(session: AsyncSession, incidents: Sequence[Incident]) -> list[IncidentFacts]:
    """What the matcher knows of each incident: its rule fields and its texts (title,
    description, the latest linked reports)."""
    facts = []
    for incident in incidents:
        bodies = await session.scalars(
            select(Ticket.body)
            .join(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
            .where(IncidentTicket.incident_id == incident.id, Ticket.body.is_not(None))
            .order_by(IncidentTicket.linked_at.desc())
            .limit(MATCH_TEXTS)
        )
        texts = (incident.title, incident.description, *(body for body in bodies if body))
        refs = await session.scalars(
            select(TicketMessage.attachment_ref)
            .join(IncidentTicket, IncidentTicket.ticket_id == TicketMessage.ticket_id)
            .where(
                IncidentTicket.incident_id == incident.id,
                TicketMessage.attachment_kind == LOCATION,
            )
            .order_by(TicketMessage.id.desc())
            .limit(MATCH_TEXTS)
        )
        places = tuple(place for place in map(parse_location, refs) if place is not None)
        facts.append(
            IncidentFacts(
                incident_id=incident.id,
                category=incident.category,
                districts=frozenset(incident.districts or ()),
                opened_at=incident.opened_at,
                resolved_at=incident.resolved_at,
                texts=tuple(text for text in texts if text),
                locations=places,
            )
        )
    return facts


async def open_facts(session: AsyncSession) -> list[IncidentFacts]:
    """The matcher's facts of every open incident (few at a time: a city has a handful)."""
    return await facts_of(session, await list_incidents(session, open_only=True))


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open ticket not linked to any incident, with its resident's district."""

    ticket: Ticket
    district: str | None


async def unlinked_candidates(
    session: AsyncSession, incident: Incident, *, now: datetime, limit: int
) -> list[Candidate]:
    """Open tickets received in the incident's window and linked to no incident: what the
    suggestion ranks (the category is not filtered here: a text matcher may match across)."""
    until = incident.resolved_at or now
    query = (
        select(Ticket, Resident.district)
        .outerjoin(Resident, Resident.id == Ticket.resident_id)
        .outerjoin(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
        .where(
            IncidentTicket.ticket_id.is_(None),
            Ticket.status.in_([status.value for status in OPEN_STATUSES]),
            Ticket.received_at >= incident.opened_at - LEAD,
            Ticket.received_at <= until,
        )
        .order_by(Ticket.received_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    rows = await session.execute(query)
    return [Candidate(ticket, district) for ticket, district in rows]


async def district_of(session: AsyncSession, resident_id: int | None) -> str | None:
    if resident_id is None:
        return None
    resident = await session.get(Resident, resident_id)
    return None if resident is None else resident.district


async def match_report(session: AsyncSession, report: ReportFacts) -> Match | None:
    """The open incident a new report is about, when the match is confident enough to tell
    the resident at once (``Match.confident``; a weaker one is only a suggestion for staff)."""
    found = best_match(report, await open_facts(session))
    return found if found is not None and found.confident else None


@dataclass(frozen=True, slots=True)
class Prefill:
    """What a desk's "open an incident" form starts from (a spike alert's): the category or the
    district of the spike, and its tickets preselected."""

    category: str | None = None
    districts: tuple[str, ...] = ()
    ticket_ids: tuple[int, ...] = ()
