"""Which ticket a resident's message continues, when they write outside any flow right after a
staff answer.

"Right after" (issue 13) is kept in the resident's conversation state, so it survives a
restart and needs no write on every message: when a staff answer reaches a resident who is in
no flow, their state becomes ``FLOW_ANSWERED`` naming the ticket (several answered tickets are
listed). Their next action of any other kind (a button, a command that opens a screen, a flow)
moves the state elsewhere, and the mark is gone: so a message counts as a follow-up only while
the last thing between the resident and the bot is that answer (a /help or a poll vote in
between leaves it, as they leave any flow where it was), and only for ``FOLLOWUP_WINDOW`` after
the answer. A resident in the middle of a flow is not marked: their flow takes their input.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import conversations, ticket_sends
from storage.vocabulary import parse_aware

log = logging.getLogger(__name__)

FLOW_ANSWERED: Final = "answered"
# Three days: an answer read on a weekend is still answered on Monday; a week later a message
# is more often a new matter (and the resident is asked which ticket when in doubt).
FOLLOWUP_WINDOW: Final = timedelta(days=3)
# At most this many answered tickets are remembered (the newest).
REMEMBERED: Final = 5


def answered_tickets(data: dict[str, Any], *, now: datetime) -> list[int]:
    """The ids of the tickets answered within the window, newest first."""
    found: list[int] = []
    for item in reversed(data.get("tickets", [])):
        try:
            at = parse_aware(str(item["at"]))
            ticket_id = int(item["id"])
        except (KeyError, TypeError, ValueError):
            continue
        if now - at <= FOLLOWUP_WINDOW and ticket_id not in found:
            found.append(ticket_id)
    return found


async def remember_answer(
    session: AsyncSession, *, resident_id: int, ticket_id: int, now: datetime
) -> None:
    """Mark the resident as just answered about ``ticket_id`` (unless they are in a flow)."""
    state = await conversations.load_state(session, resident_id=resident_id)
    if state is not None and state.flow != FLOW_ANSWERED:
        return
    items = [] if state is None else list(state.data.get("tickets", []))
    items = [item for item in items if item.get("id") != ticket_id]
    items.append({"id": ticket_id, "at": now.isoformat()})
    conversations.put_state(
        session,
        state,
        resident_id=resident_id,
        flow=FLOW_ANSWERED,
        step="",
        data={"tickets": items[-REMEMBERED:]},
        now=now,
    )


async def record_delivery(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    resident_id: int,
    ticket_id: int,
    message_ids: list[str],
    answer: bool,
    now: datetime,
) -> None:
    """After a staff answer or notice went out: remember its messages (for Telegram's Reply)
    and, for an answer, that the resident was just answered."""
    kind = ticket_sends.KIND_ANSWER if answer else ticket_sends.KIND_NOTICE
    try:
        async with sessionmaker() as session, session.begin():
            ticket_sends.record_sent(
                session,
                resident_id=resident_id,
                ticket_id=ticket_id,
                message_ids=message_ids,
                kind=kind,
                now=now,
            )
    except IntegrityError:
        # The resident or the ticket was deleted meanwhile: nothing to follow up.
        log.info("sent messages of ticket %s not recorded", ticket_id)
        return
    if not answer:
        return
    try:
        async with sessionmaker() as session, session.begin():
            await remember_answer(session, resident_id=resident_id, ticket_id=ticket_id, now=now)
    except IntegrityError:
        # The resident's own event created their state at the same moment: they are active,
        # and their flow takes their next message.
        log.info("resident %s wrote while answered; no follow-up mark", resident_id)
