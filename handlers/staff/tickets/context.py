"""What every ticket operation shares: the parts it works with (``TicketCore``), the neutral
shapes a desk hands in (an attachment, where staff wrote), the protocol a desk implements to
follow up after the commit (``DeskEvents``), and the steps most operations take (lock the
ticket, audit, notify the resident, deliver after the commit).

No messenger SDK here: the Telegram operator chat and the web desk both call these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.staff.core import WORKERS, Actor, After, Reason, Refused, StaffCall, StaffCore
from handlers.staff.notices import Notices
from handlers.tickets.followups import record_delivery
from messaging.contract import Reply
from messaging.text import markup_to_plain
from storage import log_context, staff_desk
from storage.models import Resident, Ticket, TicketMessage
from storage.tickets import add_message, is_open
from storage.vocabulary import Clock, MessageDirection, Role

# The code of the refusal of an action on a ticket that is no longer open.
NOT_OPEN = "not_open"

# A notice kept in a ticket's thread is cut to this (ticket_messages.text).
NOTICE_TEXT_MAX = 4000


class Attachment(NamedTuple):
    """A file staff send or keep with a note: its kind ("photo", "document"), the desk's
    reference to it (a Telegram file_id today) and its name."""

    kind: str
    ref: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """Where staff wrote, when the desk is a chat: kept with the message, so a reply to it in
    the chat finds the ticket, and a failed delivery is shown as a reply to it."""

    chat_id: int | None = None
    message_id: int | None = None


# A desk that is no chat (the web desk): nothing to keep or reply to.
NOWHERE = Source()


@dataclass(frozen=True, slots=True)
class Within:
    """A transaction a desk opened already (the chat desk claims its update in it) and the list
    the after-commit steps go to; the desk commits and runs them."""

    session: AsyncSession
    after: list[After]


class DeskEvents(Protocol):
    """What a desk does once a staff action is stored: each desk shows tickets its own way."""

    async def refresh_card(self, ticket_id: int) -> None:
        """Show the ticket as it is now wherever the desk shows it."""

    async def repost(self, ticket_id: int) -> None:
        """The ticket moved to another queue: show it to that queue's staff."""

    async def delivery_failed(self, ticket_id: int, reason: str, *, reply_to: int | None) -> None:
        """A message to the resident did not go out; ``reply_to`` is ``Source.message_id`` of
        what staff wrote, if any."""

    async def staff_wrote(self, ticket_id: int, message_id: int) -> None:
        """An answer or a note (``TicketMessage`` ``message_id``) was stored, from whichever
        desk: show it where this desk shows the ticket's thread (a desk skips what was written
        in itself)."""


@dataclass(frozen=True, slots=True)
class TicketCore:
    """The parts the ticket operations use, built once by the composition root."""

    core: StaffCore
    notices: Notices
    events: DeskEvents
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    zone: ZoneInfo
    operator_chat_id: int | None
    feedback_days: int
    legal_aid_days: int

    @asynccontextmanager
    async def call(
        self, actor: Actor, within: Within | None, *, roles: Collection[Role] = WORKERS
    ) -> AsyncIterator[StaffCall | Refused]:
        """``StaffCore.call``, joining the desk's transaction when it opened one."""
        session = within.session if within is not None else None
        after = within.after if within is not None else None
        async with self.core.call(actor, roles=roles, session=session, after=after) as call:
            yield call

    @asynccontextmanager
    async def on_open_ticket(
        self,
        actor: Actor,
        ticket_id: int,
        within: Within | None,
        *,
        roles: Collection[Role] = WORKERS,
    ) -> AsyncIterator[tuple[StaffCall, Ticket] | Refused]:
        """A call on one ticket that must still be open: the call and the ticket, locked, or
        the refusal every card action gives (not staff, wrong role, no such ticket, closed)."""
        async with self.call(actor, within, roles=roles) as call:
            if isinstance(call, Refused):
                yield call
                return
            ticket = await open_ticket(call, ticket_id)
            yield ticket if isinstance(ticket, Refused) else (call, ticket)

    async def deliver(
        self,
        resident: Resident,
        reply: Reply,
        ticket_id: int,
        record_id: int | None,
        reply_to: int | None,
        *,
        answer: bool = False,
    ) -> None:
        """After the commit: send to the resident. What was sent is recorded, so the resident's
        reply to it continues the ticket; a failure is stored on the message and shown to staff."""
        reason, sent = await self.notices.deliver_tracked(resident, reply)
        if reason is None:
            await record_delivery(
                self.sessionmaker,
                resident_id=resident.id,
                ticket_id=ticket_id,
                message_ids=sent,
                answer=answer,
                now=self.clock(),
            )
            return
        if record_id is not None:
            async with self.sessionmaker() as session, session.begin():
                stored = await session.get(TicketMessage, record_id)
                if stored is not None:
                    stored.delivery_error = reason[:1000]
        await self.events.delivery_failed(ticket_id, reason, reply_to=reply_to)

    async def notify(
        self, call: StaffCall, ticket: Ticket, build: Callable[[Resident, Ticket], Reply]
    ) -> None:
        """Tell the resident after the commit. The notice is kept in the ticket's thread as a
        system message: the resident's history shows it, and an extension notice the law
        requires is on record with its delivery result."""
        resident = await resident_of(call.session, ticket)
        if resident is None:
            return
        reply = build(resident, ticket)
        record = add_message(
            call.session,
            ticket,
            direction=MessageDirection.SYSTEM,
            now=call.now,
            text=markup_to_plain(reply.text)[:NOTICE_TEXT_MAX],
        )
        await call.session.flush()
        call.later(self.deliver, resident, reply, ticket.id, record.id, None)


async def resident_of(session: AsyncSession, ticket: Ticket) -> Resident | None:
    """The ticket's resident; None only when the profile is gone. /forget erases personal data
    but keeps the messenger identity, so such a resident can still be answered."""
    if ticket.resident_id is None:
        return None
    return await session.get(Resident, ticket.resident_id)


async def open_ticket(call: StaffCall, ticket_id: int) -> Ticket | Refused:
    """The ticket, locked, if it is still open; else the refusal every card action gives."""
    ticket = await locked_ticket(call, ticket_id)
    if isinstance(ticket, Refused):
        return ticket
    if not is_open(ticket):
        return Refused(Reason.STATE, {"code": NOT_OPEN, "number": ticket.number})
    return ticket


async def locked_ticket(call: StaffCall, ticket_id: int) -> Ticket | Refused:
    """The ticket with its row locked for this call's transaction (PostgreSQL), if it exists
    and is of a department the staff member works in."""
    ticket = await staff_desk.lock_ticket(call.session, ticket_id=ticket_id)
    if ticket is None:
        return Refused(Reason.NOT_FOUND)
    log_context.ticket_number.set(ticket.number)
    return ticket if call.works_in(ticket.queue_code) else department_refusal(ticket)


def department_refusal(ticket: Ticket) -> Refused:
    """A ticket of another department: refused without its number, which is not theirs to see."""
    del ticket
    return Refused(Reason.DEPARTMENT)


def audit_ticket(call: StaffCall, action: str, ticket: Ticket, **details: object) -> None:
    """The audit record of an action on a ticket: its number first, as before the core."""
    call.audit(action, subject=f"ticket:{ticket.id}", number=ticket.number, **details)
