"""Finding tickets (by number, by text) and the canned answers staff keep (list, save,
delete). Saving and deleting templates is for editors and administrators."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from handlers.staff.core import EDITORS, EVERY_ROLE, Actor, Done, Outcome, Reason, Refused
from handlers.staff.tickets.context import TicketCore, Within, department_refusal, resident_of
from storage import staff_desk
from storage.models import Resident, Template, Ticket
from storage.tickets import get_ticket_by_number

FIND_LIMIT: Final = 10
FIND_MIN: Final = 2
FIND_MAX: Final = 100
TEMPLATES_SHOWN: Final = 50
TEMPLATE_TEXT_MAX: Final = 3500
TEMPLATE_NAME: Final = re.compile(r"^[\w-]{1,64}$")

USAGE = "usage"


@dataclass(frozen=True, slots=True)
class Found:
    ticket: Ticket
    resident: Resident | None


async def ticket_by_number(
    core: TicketCore, actor: Actor, number: str, *, within: Within | None = None
) -> Outcome[Ticket]:
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        if not number:
            return Refused(Reason.INVALID, {"code": USAGE})
        ticket = await get_ticket_by_number(call.session, number=number)
        if ticket is None:
            return Refused(Reason.NOT_FOUND, {"number": number})
        if not call.works_in(ticket.queue_code):
            return department_refusal(ticket)
        return Done(ticket)


async def find(
    core: TicketCore, actor: Actor, text: str, *, within: Within | None = None
) -> Outcome[list[Found]]:
    """Tickets whose number, name or text contains ``text`` (the newest first), of the
    departments the staff member works in."""
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        query = text.strip()
        if len(query) < FIND_MIN:
            return Refused(Reason.INVALID, {"code": USAGE})
        tickets = await staff_desk.search_tickets(
            call.session, text=query[:FIND_MAX], limit=FIND_LIMIT, departments=call.departments
        )
        return Done([Found(ticket, await resident_of(call.session, ticket)) for ticket in tickets])


async def templates(
    core: TicketCore, actor: Actor, *, within: Within | None = None
) -> Outcome[Sequence[Template]]:
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        return Done(await staff_desk.list_templates(call.session, limit=TEMPLATES_SHOWN))


async def save_template(
    core: TicketCore, actor: Actor, name: str, text: str, *, within: Within | None = None
) -> Outcome[str]:
    """Save (or replace) a template; its stored name (lower case) is the value."""
    async with core.call(actor, within, roles=EDITORS) as call:
        if isinstance(call, Refused):
            return call
        text = text.strip()
        if not TEMPLATE_NAME.match(name) or not text or len(text) > TEMPLATE_TEXT_MAX:
            return Refused(Reason.INVALID, {"code": USAGE})
        _template, created = await staff_desk.save_template(
            call.session, name=name, text=text, now=call.now
        )
        call.audit("template.save", subject=f"template:{name.lower()}", created=created)
        return Done(name.lower())


async def delete_template(
    core: TicketCore, actor: Actor, name: str, *, within: Within | None = None
) -> Outcome[str]:
    async with core.call(actor, within, roles=EDITORS) as call:
        if isinstance(call, Refused):
            return call
        if not name:
            return Refused(Reason.INVALID, {"code": USAGE})
        if not await staff_desk.delete_template(call.session, name=name):
            return Refused(Reason.NOT_FOUND, {"name": name})
        call.audit("template.delete", subject=f"template:{name.lower()}")
        return Done(name.lower())
