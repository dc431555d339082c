"""What the ticket page shows, read in one database session: the ticket, its resident and
their other tickets (only those the viewer may see), and the whole thread — messages and the
status changes of the timeline — in order. Pure reading; every change goes through the core.

A ticket of a department the viewer does not work in is not loaded at all (``None``): the page
answers 404 and shows nothing of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.staff.core import WORKERS
from storage import kept_files, staff_desk, ticket_events
from storage.deadlines import AppealTerm, TicketKind
from storage.models import Department, Resident, Staff, Template, Ticket, TicketMessage
from storage.ticket_events import Happened
from storage.ticket_rules import REFUSAL_GROUNDS, can_change_term, can_extend
from storage.tickets import get_ticket, is_open
from storage.vocabulary import MessageDirection, Role

OTHER_TICKETS: Final = 20
TEMPLATES_SHOWN: Final = 50
# The answer's own message shows the answer; its timeline step would only repeat it.
_QUIET_EVENTS: Final = frozenset({Happened.ANSWERED.value})
FILE_KINDS: Final = frozenset({"photo", "document", "video", "audio", "voice", "animation"})


@dataclass(frozen=True, slots=True)
class Attached:
    """An attachment as the page shows it: a photo inline, a location as coordinates with a
    map link, any other file as a download (``url``: the desk's file route; None when the file
    cannot be opened from the browser)."""

    kind: str
    name: str | None
    url: str | None = None
    latitude: str | None = None
    longitude: str | None = None

    @property
    def map_url(self) -> str:
        return (
            f"https://www.openstreetmap.org/?mlat={self.latitude}&mlon={self.longitude}"
            f"#map=17/{self.latitude}/{self.longitude}"
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the thread: ``what`` is resident, staff, note, system or event."""

    at: datetime
    what: str
    author: str | None = None
    text: str | None = None
    attachment: Attached | None = None
    delivery_error: str | None = None
    event: str | None = None
    deadline: datetime | None = None
    anchor: str = ""


@dataclass(frozen=True, slots=True)
class Page:
    ticket: Ticket
    resident: Resident | None
    queue: Department | None
    assignee: str | None
    thread: Sequence[Entry]
    other_tickets: Sequence[Ticket]
    queues: Sequence[Department]
    templates: Sequence[Template]
    grounds: Sequence[str]
    can_extend: bool
    can_change_term: bool
    is_open: bool
    appeal_term: str | None = None
    banned: bool = False
    names: dict[int, str] = field(default_factory=dict)
    # Who the ticket can be given to: (staff id, display name), the viewer included.
    colleagues: Sequence[tuple[int, str]] = ()


async def load(
    session: AsyncSession, ticket_id: int, *, departments: frozenset[str] | None, files_open: bool
) -> Page | None:
    """The page of a ticket the viewer may see; ``files_open``: Telegram files can be opened
    through the signed links (else only the files the bot keeps)."""
    ticket = await get_ticket(session, ticket_id=ticket_id)
    if ticket is None or (departments is not None and ticket.queue_code not in departments):
        return None
    resident = (
        await session.get(Resident, ticket.resident_id) if ticket.resident_id is not None else None
    )
    queue = await session.get(Department, ticket.queue_code)
    messages = (
        await session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.created_at, TicketMessage.id)
        )
    ).all()
    events = [
        event
        for event in await ticket_events.of_ticket(session, ticket_id=ticket.id)
        if event.kind not in _QUIET_EVENTS
    ]
    staff_ids = {m.author_id for m in messages if m.author_id is not None}
    staff_ids |= {e.staff_id for e in events if e.staff_id is not None}
    if ticket.assignee_id is not None:
        staff_ids.add(ticket.assignee_id)
    names = await _names(session, staff_ids)
    resident_name = _resident_name(ticket, resident)
    thread: list[tuple[datetime, int, Entry]] = []
    for message in messages:
        thread.append(
            (message.created_at, 0, _message_entry(message, names, resident_name, files_open))
        )
    for event in events:
        entry = Entry(
            at=event.at,
            what="event",
            author=names.get(event.staff_id) if event.staff_id is not None else None,
            event=event.kind,
            deadline=event.deadline_at,
            anchor=f"e{event.id}",
        )
        thread.append((event.at, 1, entry))
    thread.sort(key=lambda item: (item[0], item[1]))
    others: Sequence[Ticket] = []
    if ticket.resident_id is not None:
        query = select(Ticket).where(
            Ticket.resident_id == ticket.resident_id, Ticket.id != ticket.id
        )
        if departments is not None:
            query = query.where(Ticket.queue_code.in_(departments))
        others = (
            await session.scalars(
                query.order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(OTHER_TICKETS)
            )
        ).all()
    queues = (
        await session.scalars(
            select(Department).where(Department.is_active.is_(True)).order_by(Department.name)
        )
    ).all()
    return Page(
        ticket=ticket,
        resident=resident,
        queue=queue,
        assignee=names.get(ticket.assignee_id) if ticket.assignee_id is not None else None,
        thread=[entry for _at, _order, entry in thread],
        other_tickets=others,
        queues=[q for q in queues if q.code != ticket.queue_code],
        templates=await staff_desk.list_templates(session, limit=TEMPLATES_SHOWN),
        grounds=REFUSAL_GROUNDS.get(ticket.kind, ()),
        can_extend=can_extend(ticket),
        can_change_term=can_change_term(ticket),
        is_open=is_open(ticket),
        appeal_term=(ticket.appeal_term or AppealTerm.STANDARD.value)
        if ticket.kind == TicketKind.APPEAL
        else None,
        banned=resident is not None and resident.banned_at is not None,
        names=names,
        colleagues=await _colleagues(session, ticket.queue_code),
    )


async def _colleagues(session: AsyncSession, queue_code: str) -> list[tuple[int, str]]:
    """Enabled staff who may act and work in the department (administrators work in all)."""
    query = select(Staff).where(
        Staff.disabled_at.is_(None), Staff.role.in_([role.value for role in WORKERS])
    )
    found = [
        (person.id, person.display_name)
        for person in (await session.scalars(query)).all()
        if person.role == Role.ADMIN.value or queue_code in person.department_codes
    ]
    return sorted(found, key=lambda item: item[1].casefold())


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await session.scalars(select(Staff).where(Staff.id.in_(ids)))).all()
    return {row.id: row.display_name for row in rows}


def _resident_name(ticket: Ticket, resident: Resident | None) -> str | None:
    """The name as the ticket holds it (None: anonymous or not given; the page says so)."""
    if ticket.anonymous:
        return None
    return ticket.full_name or (resident.name if resident is not None else None)


def _message_entry(
    message: TicketMessage, names: dict[int, str], resident_name: str | None, files_open: bool
) -> Entry:
    direction = MessageDirection(message.direction)
    what = {
        MessageDirection.RESIDENT: "resident",
        MessageDirection.STAFF: "staff",
        MessageDirection.NOTE: "note",
        MessageDirection.SYSTEM: "system",
    }.get(direction, "system")
    if what == "resident":
        author = resident_name
    elif message.author_id is not None:
        author = names.get(message.author_id)
    else:
        author = None
    return Entry(
        at=message.created_at,
        what=what,
        author=author,
        text=message.text,
        attachment=attachment_of(message, files_open=files_open),
        delivery_error=message.delivery_error,
        anchor=f"m{message.id}",
    )


def attachment_of(message: TicketMessage, *, files_open: bool) -> Attached | None:
    kind, ref = message.attachment_kind, message.attachment_ref
    if kind is None:
        return None
    if kind == "location":
        latitude, _, longitude = (ref or "").partition(",")
        try:
            lat, lon = float(latitude), float(longitude)
        except ValueError:
            return Attached(kind=kind, name=None)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return Attached(kind=kind, name=None)
        return Attached(kind=kind, name=None, latitude=f"{lat:.6f}", longitude=f"{lon:.6f}")
    openable = (
        kind in FILE_KINDS and bool(ref) and (kept_files.id_of(ref) is not None or files_open)
    )
    url = f"/desk/files/{message.id}" if openable else None
    return Attached(kind=kind, name=message.attachment_name, url=url)
