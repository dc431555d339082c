"""Open311 GeoReport v2 over tickets: the services (the categories residents choose, with the
department each is routed to), filing a posted request as a ticket, and the read side
(requests, tokens, the updates feed) mapped from tickets, their legal deadlines and their
public staff answers.

Only tickets filed through Open311 (channel ``open311``) are ever read here: what residents
wrote in their messengers is not published. The requester's name, e-mail and phone go to the
ticket's personal fields and are never read back by anything in this module.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import tickets
from storage.deadlines import TicketKind
from storage.filing import Attachment, FilingPolicy, TicketForm, file_ticket
from storage.models import (
    CategoryRoute,
    Department,
    Open311Key,
    Open311Request,
    Ticket,
    TicketEvent,
    TicketMessage,
)
from storage.ticket_events import Happened
from storage.vocabulary import CATEGORY_QUEUES, OPEN_STATUSES, MessageDirection

# The ``channel`` of a ticket posted through Open311 (no messenger: nothing is sent anywhere).
CHANNEL = "open311"
OPEN, CLOSED = "open", "closed"
# GET requests.json: the default window and its widest span, and the most rows one answer
# holds (the spec's suggestion); the updates feed has the same ceiling.
WINDOW = timedelta(days=90)
LIMIT = 1000
# A second POST of the same text (same key, service, device or account) within this is
# answered with the first request instead of a new ticket: a client retrying a lost answer.
REPEAT_WINDOW = timedelta(minutes=1)
# Events shown in the updates feed; "answered" is the answer itself (shown with its text).
CLOSING_EVENTS = frozenset({Happened.CLOSED.value, Happened.REFUSED.value})
FEED_EVENTS = frozenset(
    {
        Happened.TAKEN.value,
        Happened.HANDED_OVER.value,
        Happened.EXTENDED.value,
        Happened.REOPENED.value,
        *CLOSING_EVENTS,
    }
)


@dataclass(frozen=True, slots=True)
class Service:
    code: str
    queue_code: str
    department: str


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A validated ``POST requests.json`` (``bot.open311.input`` checks types and lengths)."""

    service_code: str
    description: str
    lat: float | None = None
    long: float | None = None
    address: str | None = None
    media_url: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Posted:
    number: str
    token: str
    # True: the same request posted again within REPEAT_WINDOW; no new ticket.
    repeated: bool


@dataclass(frozen=True, slots=True)
class RequestView:
    """One service request as the API shows it: nothing personal of the requester."""

    number: str
    status: str
    status_notes: str | None
    service_code: str | None
    description: str | None
    department: str | None
    requested: datetime
    updated: datetime
    expected: datetime | None
    address: str | None
    lat: float | None
    long: float | None
    media_url: str | None


@dataclass(frozen=True, slots=True)
class Filters:
    """GET requests.json: ``numbers`` overrides every other filter (the spec)."""

    numbers: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """One entry of the updates feed: a public staff answer (with its text) or a status step."""

    update_id: str
    number: str
    status: str
    at: datetime
    description: str | None


def status_of(ticket_status: str) -> str:
    return OPEN if ticket_status in OPEN_STATUSES else CLOSED


async def services(session: AsyncSession) -> list[Service]:
    """The categories residents choose, each with the department it is routed to now (an
    administrator's route, else the default), in a stable order."""
    routes = dict(
        (await session.execute(select(CategoryRoute.category, CategoryRoute.queue_code))).all()
    )
    names = dict((await session.execute(select(Department.code, Department.name))).all())
    found = []
    for code in sorted(CATEGORY_QUEUES):
        queue = routes.get(code) or CATEGORY_QUEUES[code].value
        found.append(Service(code=code, queue_code=queue, department=names.get(queue, queue)))
    return found


def _digest(request: NewRequest) -> str:
    return hashlib.sha256(f"{request.service_code}\n{request.description}".encode()).hexdigest()


async def posts_since(session: AsyncSession, *, key: Open311Key, since: datetime) -> int:
    """How many requests ``key`` posted since ``since`` (its rate limit)."""
    query = select(func.count()).where(
        Open311Request.key_id == key.id, Open311Request.created_at >= since
    )
    return int(await session.scalar(query) or 0)


async def _repeated(
    session: AsyncSession, key: Open311Key, request: NewRequest, now: datetime
) -> Posted | None:
    query = (
        select(Ticket.number, Open311Request.token)
        .join(Ticket, Ticket.id == Open311Request.ticket_id)
        .where(
            Open311Request.key_id == key.id,
            Open311Request.created_at >= now - REPEAT_WINDOW,
            Open311Request.digest == _digest(request),
            Open311Request.device_id.is_not_distinct_from(request.device_id),
            Open311Request.account_id.is_not_distinct_from(request.account_id),
        )
        .order_by(Open311Request.created_at.desc())
        .limit(1)
    )
    row = (await session.execute(query)).first()
    return Posted(number=row[0], token=row[1], repeated=True) if row else None


async def post_request(
    session: AsyncSession,
    *,
    key: Open311Key,
    request: NewRequest,
    now: datetime,
    policy: FilingPolicy,
) -> Posted:
    """File ``request`` as a feedback ticket in its category's queue (the caller checked the
    service exists), or find the same request posted within the last minute."""
    again = await _repeated(session, key, request, now)
    if again is not None:
        return again
    attachments = []
    if request.lat is not None and request.long is not None:
        # The desks show a location message of the thread as a map link, as a resident's.
        attachments.append(Attachment(kind="location", ref=f"{request.lat},{request.long}"))
    form = TicketForm(
        kind=TicketKind.FEEDBACK,
        channel=CHANNEL,
        body=request.description,
        category=request.service_code,
        full_name=_joined(" ", request.first_name, request.last_name),
        address=request.address,
        contact=_joined(", ", request.email, request.phone),
        attachments=tuple(attachments),
    )
    ticket = await file_ticket(
        session, resident=None, form=form, now=now, policy=policy, actor=f"open311:{key.id}"
    )
    if request.media_url:
        tickets.add_message(
            session, ticket, direction=MessageDirection.RESIDENT, now=now, text=request.media_url
        )
    token = secrets.token_urlsafe(16)
    session.add(
        Open311Request(
            ticket_id=ticket.id,
            key_id=key.id,
            token=token,
            lat=request.lat,
            long=request.long,
            media_url=request.media_url,
            device_id=request.device_id,
            account_id=request.account_id,
            digest=_digest(request),
            created_at=now,
        )
    )
    await session.flush()
    return Posted(number=ticket.number, token=token, repeated=False)


def _joined(separator: str, *parts: str | None) -> str | None:
    return separator.join(part for part in parts if part) or None


def _select() -> Select[Ticket, Open311Request, str]:
    return (
        select(Ticket, Open311Request, Department.name)
        .join(Open311Request, Open311Request.ticket_id == Ticket.id)
        .outerjoin(Department, Department.code == Ticket.queue_code)
        .where(Ticket.channel == CHANNEL)
    )


async def find_requests(
    session: AsyncSession, filters: Filters, *, now: datetime
) -> list[RequestView]:
    """GET requests.json: by numbers, or in the window (default: the last 90 days) by service
    and status; newest first, at most LIMIT."""
    query = _select()
    if filters.numbers:
        query = query.where(Ticket.number.in_(filters.numbers))
    else:
        end = filters.end or now
        start = filters.start or end - WINDOW
        query = query.where(Ticket.received_at >= start, Ticket.received_at <= end)
        if filters.service_codes:
            query = query.where(Ticket.category.in_(filters.service_codes))
        if set(filters.statuses) == {OPEN}:
            query = query.where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        elif set(filters.statuses) == {CLOSED}:
            query = query.where(Ticket.status.not_in([s.value for s in OPEN_STATUSES]))
    query = query.order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(LIMIT)
    rows = (await session.execute(query)).all()
    notes = await _latest_answers(session, [ticket.id for ticket, _, _ in rows])
    return [_view(ticket, extra, name, notes.get(ticket.id)) for ticket, extra, name in rows]


async def request_by_number(session: AsyncSession, number: str) -> RequestView | None:
    row = (await session.execute(_select().where(Ticket.number == number))).first()
    if row is None:
        return None
    ticket, extra, name = row
    notes = await _latest_answers(session, [ticket.id])
    return _view(ticket, extra, name, notes.get(ticket.id))


async def number_by_token(session: AsyncSession, token: str) -> str | None:
    query = (
        select(Ticket.number)
        .join(Open311Request, Open311Request.ticket_id == Ticket.id)
        .where(Open311Request.token == token)
    )
    return await session.scalar(query)


async def _latest_answers(session: AsyncSession, ticket_ids: Sequence[int]) -> dict[int, str]:
    """The text of each ticket's latest staff answer: what the requester was told (internal
    notes and system notices are never shown)."""
    if not ticket_ids:
        return {}
    latest = (
        select(func.max(TicketMessage.id))
        .where(
            TicketMessage.ticket_id.in_(ticket_ids),
            TicketMessage.direction == MessageDirection.STAFF.value,
            TicketMessage.text.is_not(None),
        )
        .group_by(TicketMessage.ticket_id)
    )
    query = select(TicketMessage.ticket_id, TicketMessage.text).where(TicketMessage.id.in_(latest))
    return {ticket_id: text for ticket_id, text in (await session.execute(query)) if text}


def _view(
    ticket: Ticket, extra: Open311Request, department: str | None, notes: str | None
) -> RequestView:
    return RequestView(
        number=ticket.number,
        status=status_of(ticket.status),
        status_notes=notes,
        service_code=ticket.category,
        description=ticket.body,
        department=department,
        requested=ticket.received_at,
        updated=ticket.updated_at,
        expected=ticket.deadline_at,
        address=ticket.address,
        lat=extra.lat,
        long=extra.long,
        media_url=extra.media_url,
    )


async def updates(session: AsyncSession, *, start: datetime, end: datetime) -> list[Update]:
    """The updates feed: public staff answers and status steps of Open311 tickets in
    [start, end], oldest first, at most LIMIT (a client asks again from the last one's time)."""
    answers = (
        select(
            TicketMessage.id,
            Ticket.number,
            Ticket.status,
            TicketMessage.created_at,
            TicketMessage.text,
        )
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(
            Ticket.channel == CHANNEL,
            TicketMessage.direction == MessageDirection.STAFF.value,
            TicketMessage.created_at >= start,
            TicketMessage.created_at <= end,
        )
        .order_by(TicketMessage.created_at, TicketMessage.id)
        .limit(LIMIT)
    )
    steps = (
        select(TicketEvent.id, Ticket.number, TicketEvent.kind, TicketEvent.at)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            Ticket.channel == CHANNEL,
            TicketEvent.kind.in_(FEED_EVENTS),
            TicketEvent.at >= start,
            TicketEvent.at <= end,
        )
        .order_by(TicketEvent.at, TicketEvent.id)
        .limit(LIMIT)
    )
    found = [
        # An answer is given to an open ticket only; it stays open (answered) after it.
        Update(f"answer-{row_id}", number, OPEN, at, text)
        for row_id, number, _status, at, text in (await session.execute(answers))
    ]
    found += [
        Update(f"event-{row_id}", number, CLOSED if kind in CLOSING_EVENTS else OPEN, at, None)
        for row_id, number, kind, at in (await session.execute(steps))
    ]
    found.sort(key=lambda update: (update.at, update.update_id))
    return found[:LIMIT]
