"""Departments (queues) and where residents' categories go, as administrators change them from
a desk: a department's name, its Telegram chat (none: the operator chat) and whether it takes
new tickets; the department each category is routed to. Checked and audited like every staff
operation; a refusal for bad input is ``Reason.INVALID`` with ``{"problem": ...}``."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from handlers.staff.core import ADMINS, Actor, Done, Outcome, Reason, Refused
from handlers.staff.tickets.context import TicketCore
from storage.tickets import get_queue, set_route, upsert_queue

CODE = re.compile(r"[a-z0-9_]{2,32}")
NAME_MAX = 128
# Telegram chat ids: groups are negative, and -100… ids of supergroups run to 13 digits.
CHAT_ID_LIMIT = 10**15


@dataclass(frozen=True, slots=True)
class QueueFields:
    name: str
    chat_id: int | None
    active: bool


def _invalid(problem: str) -> Refused:
    return Refused(Reason.INVALID, {"problem": problem})


def _problem(fields: QueueFields) -> str | None:
    if not fields.name.strip() or len(fields.name.strip()) > NAME_MAX:
        return "name"
    if fields.chat_id is not None and not 0 < abs(fields.chat_id) < CHAT_ID_LIMIT:
        return "chat"
    return None


async def save(
    core: TicketCore, actor: Actor, code: str, fields: QueueFields, *, new: bool = False
) -> Outcome[str]:
    """Add a department (``new``) or change one."""
    async with core.call(actor, None, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        if not CODE.fullmatch(code):
            return _invalid("code")
        problem = _problem(fields)
        if problem is not None:
            return _invalid(problem)
        existing = await get_queue(call.session, code=code)
        if new and existing is not None:
            return _invalid("code_taken")
        if not new and existing is None:
            return Refused(Reason.NOT_FOUND)
        await upsert_queue(
            call.session,
            code=code,
            name=fields.name.strip(),
            chat_id=fields.chat_id,
            clear_chat=fields.chat_id is None,
            is_active=fields.active,
        )
        call.audit(
            "queue.add" if new else "queue.change",
            subject=f"queue:{code}",
            name=fields.name.strip(),
            chat_id=fields.chat_id,
            active=fields.active,
        )
        return Done(code)


async def route(
    core: TicketCore, actor: Actor, category: str, queue_code: str, *, categories: Collection[str]
) -> Outcome[str]:
    """Send a category's new tickets to a department."""
    async with core.call(actor, None, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        if category not in categories:
            return _invalid("category")
        if await get_queue(call.session, code=queue_code) is None:
            return _invalid("queue")
        await set_route(call.session, category=category, queue_code=queue_code)
        call.audit("queue.route", subject=f"queue:{queue_code}", category=category)
        return Done(category)
