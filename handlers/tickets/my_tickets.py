"""The resident's own tickets: "my tickets", one ticket with its timeline, a follow-up message
to an open ticket, and the rating of a closed one (with its optional comment)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from handlers import actions as act
from handlers import forged
from handlers.forged import ForgedAction
from handlers.tickets.closure import ResidentClosure
from handlers.tickets.form import CAPTION_MAX
from handlers.tickets.forms import FOLLOWUP_MAX, RATING_COMMENT_MAX
from handlers.tickets.texts import TicketScreens
from handlers.tickets.timeline import TicketView
from handlers.turn import FLOW_IDLE, Turn
from messaging import labels
from messaging.contract import Button, EventKind, Incoming, Reply, ResidentWrote, TicketRated
from messaging.i18n import Catalog, Markup
from messaging.text import format_when
from storage import audit, tickets
from storage.models import Ticket
from storage.ticket_rules import TransitionError, rate
from storage.vocabulary import MessageDirection

FLOW_FOLLOWUP = "followup"
FLOW_RATING = "rating"
MY_TICKETS_SHOWN = 10


class MyTickets(TicketScreens):
    def __init__(self, catalog: Catalog, zone: ZoneInfo, closing: ResidentClosure) -> None:
        super().__init__(catalog, zone)
        # Buttons of a closed ticket ("resolved?", refile) are the closure flows'.
        self.closure = closing
        self.view = TicketView(catalog, zone)

    async def append(
        self,
        turn: Turn,
        ticket_id: int,
        text: str | None,
        attachment: tuple[str, str, str | None] | None,
    ) -> str | None:
        """Add a resident's message to their open ticket's thread (staff see it); the ticket's
        number, or None when it is not theirs or not open (nothing written)."""
        appended = await tickets.append_to_open_ticket(
            turn.session,
            ticket_id=ticket_id,
            resident_id=turn.resident.id,
            direction=MessageDirection.RESIDENT,
            now=turn.now,
            text=text,
            attachment=attachment,
        )
        if appended is None:
            return None
        message_id, number = appended
        turn.effects.append(ResidentWrote(message_id, ticket_id))
        return number

    async def action(self, turn: Turn, action: str) -> list[Reply] | None:
        """A button of "my tickets" or of a rating, or None if not one of them."""
        verb, arg = act.split(action)
        if action == act.MY_LIST:
            return await self.my_tickets(turn)
        if verb == act.MY_OPEN and forged.is_id(arg):
            return await self.open_ticket(turn, int(arg))
        if verb == act.MY_WRITE and forged.is_id(arg):
            return await self.begin_followup(turn, int(arg))
        if verb == act.RATE:
            return await self.rate(turn, arg)
        if turn.flow == FLOW_RATING and action == act.FORM_NEXT:
            turn.go(FLOW_IDLE)
            return [self._menu(turn, "rating.thanks")]
        return None

    def _status(self, turn: Turn, ticket: Ticket) -> str:
        return self._t(turn, labels.STATUS[ticket.status])

    async def my_tickets(self, turn: Turn) -> list[Reply]:
        turn.go(FLOW_IDLE)
        found = await tickets.resident_tickets(
            turn.session, resident_id=turn.resident.id, limit=MY_TICKETS_SHOWN
        )
        if not found:
            return [self._menu(turn, "my.none")]
        rows = tuple(
            (Button(f"{t.number} · {self._status(turn, t)}", act.with_arg(act.MY_OPEN, str(t.id))),)
            for t in found
        )
        return [Reply(text=self._t(turn, "my.list"), buttons=rows)]

    async def open_ticket(self, turn: Turn, ticket_id: int) -> list[Reply]:
        ticket = await tickets.get_resident_ticket(
            turn.session, ticket_id=ticket_id, resident_id=turn.resident.id
        )
        if ticket is None:
            # Not theirs, or none: one answer either way (never confirm others' tickets).
            raise ForgedAction(act.MY_OPEN, forged.NOT_OWN, ticket_id)
        turn.go(FLOW_IDLE)
        header = self._t(
            turn,
            "my.header",
            number=ticket.number,
            kind=self._t(turn, labels.KIND[ticket.kind]),
            status=self._status(turn, ticket),
            deadline=format_when(ticket.deadline_at, self.zone, exact=ticket.urgent),
        )
        # The timeline and the latest messages, within one messenger message.
        text = await self.view.render(turn.session, turn.lang, ticket, header=header)
        rows: list[tuple[Button, ...]] = []
        if tickets.is_open(ticket):
            rows.append(
                (Button(self._t(turn, "my.write"), act.with_arg(act.MY_WRITE, str(ticket.id))),)
            )
        else:
            rows.extend(await self.closure.ticket_buttons(turn, ticket))
        rows.append((Button(self._t(turn, "my.back"), act.MY_LIST),))
        return [Reply(text=text, buttons=tuple(rows))]

    async def begin_followup(self, turn: Turn, ticket_id: int) -> list[Reply]:
        ticket = await tickets.get_resident_ticket(
            turn.session, ticket_id=ticket_id, resident_id=turn.resident.id
        )
        if ticket is None:
            raise ForgedAction(act.MY_WRITE, forged.NOT_OWN, ticket_id)
        if not tickets.is_open(ticket):
            return [self._menu(turn, "my.closed", number=ticket.number)]
        turn.go(FLOW_FOLLOWUP, "text")
        turn.data = {"ticket_id": ticket.id, "number": ticket.number}
        return [self.prompt_screen(turn)]

    def prompt_screen(self, turn: Turn) -> Reply:
        if turn.flow == FLOW_RATING:
            return Reply(
                text=self._t(turn, "rating.comment"),
                buttons=((Button(self._t(turn, "btn.skip"), act.FORM_NEXT),),),
            )
        return Reply(
            text=self._t(turn, "my.write_prompt", number=turn.data.get("number", "")),
            buttons=(self._nav(turn, back=False),),
        )

    async def followup(self, turn: Turn) -> list[Reply]:
        ticket_id = int(turn.data["ticket_id"])
        parsed = _followup_input(turn.event)
        if isinstance(parsed, _Invalid):
            # A closed or foreign ticket is reported before a bad input.
            ticket = await tickets.get_resident_ticket(
                turn.session, ticket_id=ticket_id, resident_id=turn.resident.id
            )
            if ticket is None or not tickets.is_open(ticket):
                turn.go(FLOW_IDLE)
                return [self._menu(turn, "my.not_found")]
            return [self._again_prompt(turn, parsed.key, **parsed.params)]
        text, attachment = parsed
        number = await self.append(turn, ticket_id, text, attachment)
        turn.go(FLOW_IDLE)
        if number is None:
            return [self._menu(turn, "my.not_found")]
        return [self._menu(turn, "my.added", number=number)]

    def _again_prompt(self, turn: Turn, key: str, **params: Any) -> Reply:
        screen = self.prompt_screen(turn)
        return Reply(
            text=Markup(self._t(turn, key, **params) + "\n\n" + screen.text), buttons=screen.buttons
        )

    async def rate(self, turn: Turn, arg: str) -> list[Reply] | None:
        ticket_part, _, stars_part = arg.partition(":")
        if not (forged.is_id(ticket_part) and stars_part.isdigit()):
            raise ForgedAction(act.RATE, forged.MALFORMED)
        ticket = await tickets.get_resident_ticket(
            turn.session, ticket_id=int(ticket_part), resident_id=turn.resident.id
        )
        if ticket is None:
            raise ForgedAction(act.RATE, forged.NOT_OWN, int(ticket_part))
        try:
            rate(ticket, stars=int(stars_part), now=turn.now)
        except TransitionError as error:
            return [self._menu(turn, labels.RATING_ERROR[error.code])]
        audit.record(
            turn.session,
            actor=turn.actor,
            action="ticket.rated",
            subject=f"ticket:{ticket.id}",
            now=turn.now,
            details={"stars": int(stars_part)},
        )
        turn.effects.append(TicketRated(ticket.id))
        turn.go(FLOW_RATING, "comment")
        turn.data = {"ticket_id": ticket.id, "number": ticket.number}
        return [self.prompt_screen(turn)]

    async def rating_comment(self, turn: Turn) -> list[Reply]:
        event = turn.event
        if event.kind is not EventKind.TEXT or not (event.text or "").strip():
            return [self._again_prompt(turn, "form.error.text_expected")]
        ticket = await tickets.get_resident_ticket(
            turn.session, ticket_id=int(turn.data["ticket_id"]), resident_id=turn.resident.id
        )
        turn.go(FLOW_IDLE)
        if ticket is None:
            return [self._menu(turn, "my.not_found")]
        ticket.rating_comment = (event.text or "").strip()[:RATING_COMMENT_MAX]
        turn.effects.append(TicketRated(ticket.id))
        return [self._menu(turn, "rating.thanks")]


@dataclass(frozen=True, slots=True)
class _Invalid:
    """A follow-up input that cannot be added: the catalog key of the error, its parameters."""

    key: str
    params: dict[str, Any]


FollowupInput = tuple[str | None, tuple[str, str, str | None] | None]


def _followup_input(event: Incoming) -> FollowupInput | _Invalid:
    """What a follow-up adds to the thread: (text, attachment), or why it cannot be added."""
    if event.kind is EventKind.TEXT:
        text = (event.text or "").strip()
        if not text:
            return _Invalid("form.error.empty", {})
        if len(text) > FOLLOWUP_MAX:
            return _Invalid("form.error.too_long", {"count": len(text), "limit": FOLLOWUP_MAX})
        return text, None
    if event.attachment is not None:
        attachment = (event.attachment.kind, event.attachment.ref, event.attachment.file_name)
        caption = (event.text or "").strip()
        if len(caption) > CAPTION_MAX:
            return _Invalid("form.error.too_long", {"count": len(caption), "limit": CAPTION_MAX})
        return caption or None, attachment
    if event.location is not None:
        location = f"{event.location.latitude},{event.location.longitude}"
        return None, ("location", location, None)
    return _Invalid("form.error.text_expected", {})
