"""One ticket as the resident sees it in "my tickets": the header, the timeline (received, taken
by which department, handed over, extended to which date and why, answered, closed or refused,
their own "resolved?" answer, reopened, linked tickets) with dates in the council's time zone,
then the latest messages.

It must fit one messenger message (Telegram: 4,096 characters): the timeline shows its first
step and the latest ones and says how many it left out; the messages are the latest few, each
shortened, with the number of earlier ones; what still does not fit drops the oldest message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from messaging import labels
from messaging.i18n import N_, Catalog, Markup
from storage import ticket_events, tickets
from storage.models import Ticket, TicketEvent, TicketMessage
from storage.ticket_events import Happened
from storage.vocabulary import MessageDirection

# Timeline steps shown: "received" and the latest ones.
TIMELINE_SHOWN: Final = 8
MESSAGES_SHOWN: Final = 5
EXCERPT: Final = 300
BODY_EXCERPT: Final = 600
# The whole view, in characters of markup: under Telegram's 4,096 after parsing, with room.
BUDGET: Final = 3800


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    what: Markup


class TicketView:
    def __init__(self, catalog: Catalog, zone: ZoneInfo) -> None:
        self.catalog = catalog
        self.zone = zone

    def when(self, moment: datetime | None, *, exact: bool = True) -> str:
        if moment is None:
            return "—"
        return moment.astimezone(self.zone).strftime("%d.%m.%Y %H:%M" if exact else "%d.%m.%Y")

    async def render(
        self, session: AsyncSession, language: str, ticket: Ticket, *, header: Markup
    ) -> Markup:
        t = self.catalog.text
        parts: list[str] = [header]
        if ticket.parent_id is not None and ticket.parent_link:
            parent = await session.get(Ticket, ticket.parent_id)
            if parent is not None:
                link = t(language, labels.CLOSURE_LINK[ticket.parent_link])
                parts.append(t(language, "closure.parent", link=link, number=parent.number))
        if ticket.body:
            parts.append(t(language, "my.body", text=_cut(ticket.body, BODY_EXCERPT)))
        parts.append(await self._timeline(session, language, ticket))
        fixed = "\n\n".join(parts)
        total = await tickets.count_shown_messages(session, ticket_id=ticket.id)
        messages = await tickets.shown_messages(session, ticket_id=ticket.id, limit=MESSAGES_SHOWN)
        lines = [self._message_line(language, message) for message in messages]
        while True:
            block = self._messages_block(language, lines, total - len(lines))
            text = fixed + ("\n\n" + block if block else "")
            if len(text) <= BUDGET or not lines:
                # Never cut here (a cut could split a tag): the rest is bounded, and a sender
                # splits a longer text between lines anyway.
                return Markup(text)
            lines.pop(0)

    def _messages_block(self, language: str, lines: list[Markup], earlier: int) -> str:
        if not lines and not earlier:
            return ""
        out = [self.catalog.text(language, "closure.messages")]
        if earlier:
            out.append(self.catalog.text(language, "closure.messages.earlier", count=earlier))
        out.extend(lines)
        return "\n".join(out)

    def _message_line(self, language: str, message: TicketMessage) -> Markup:
        who = (
            N_("my.from_you")
            if message.direction == MessageDirection.RESIDENT
            else N_("my.from_staff")
        )
        content = message.text or ""
        if message.attachment_kind:
            label = self.catalog.text(language, labels.MY_ATTACHMENT[message.attachment_kind])
            content = f"{content} {label}" if content else label
        return self.catalog.text(
            language, who, when=self.when(message.created_at), text=_cut(content, EXCERPT)
        )

    async def _timeline(self, session: AsyncSession, language: str, ticket: Ticket) -> str:
        steps = await self.steps(session, language, ticket)
        t = self.catalog.text
        shown = (
            steps if len(steps) <= TIMELINE_SHOWN else [steps[0], *steps[-(TIMELINE_SHOWN - 1) :]]
        )
        lines = [t(language, "closure.timeline")]
        for index, step in enumerate(shown):
            if index == 1 and len(shown) < len(steps):
                lines.append(t(language, "closure.timeline.earlier", count=len(steps) - len(shown)))
            lines.append(
                t(language, "closure.timeline.line", when=self.when(step.at), what=step.what)
            )
        return "\n".join(lines)

    async def steps(self, session: AsyncSession, language: str, ticket: Ticket) -> list[Step]:
        """Every step of the ticket, oldest first, as the resident reads it."""
        names = {queue.code: queue.name for queue in await tickets.list_queues(session)}
        steps = [Step(ticket.received_at, self.catalog.text(language, "closure.event.received"))]
        for event in await ticket_events.of_ticket(session, ticket_id=ticket.id):
            what = await self._what(session, language, ticket, event, names)
            if what is not None:
                steps.append(Step(event.at, what))
        return steps

    async def _what(
        self,
        session: AsyncSession,
        language: str,
        ticket: Ticket,
        event: TicketEvent,
        names: dict[str, str],
    ) -> Markup | None:
        t = self.catalog.text
        key = labels.CLOSURE_EVENT[event.kind]
        queue = names.get(event.queue_code or "", event.queue_code or "—")
        if event.kind in (Happened.TAKEN, Happened.HANDED_OVER):
            return t(language, key, queue=queue)
        if event.kind == Happened.EXTENDED:
            return t(
                language,
                key,
                deadline=self.when(event.deadline_at, exact=ticket.urgent),
                reason=_cut(ticket.extension_reason or "—", EXCERPT),
            )
        if event.kind == Happened.REFILED:
            other = (
                await session.get(Ticket, event.other_ticket_id)
                if event.other_ticket_id is not None
                else None
            )
            if other is None:
                return None
            link = t(language, labels.CLOSURE_LINK[other.parent_link or "repeated"])
            return t(language, key, link=link, number=other.number)
        if event.kind in {item.value for item in Happened}:
            return t(language, key)
        return None
