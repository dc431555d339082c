"""What a resident sends outside any flow: never turned away.

- A greeting, thanks or a lone emoji gets a kind short answer (``smalltalk``).
- A message that answers a staff answer continues that ticket: a Telegram Reply on the message
  that carried an answer or notice (``storage.ticket_sends``), or a message typed right after an
  answer (``followups``). It is added to the ticket's thread (staff see it) and the resident is
  told "Додано до звернення …". When several answered tickets are open, the resident is asked
  which, with buttons; the message is kept meanwhile. A closed ticket cannot take a follow-up:
  the message becomes a draft of a new ticket that names the closed one's number.
- Anything else (a text, a photo, a document, a video, a location, any file kind) is kept as a
  draft in the conversation state (a restart loses nothing) and the resident chooses: feedback,
  appeal, request for public information, or not sending it. The category a
  ``CategorySuggester`` ranks first is preselected; the resident can change it. Further
  messages before they choose are gathered into the same draft, up to the form's limits (a
  message that does not fit is refused with the reason, never dropped silently). The chosen
  flow starts with the draft (``flows.Prefill``) and asks only for what is missing.

Leaving the choice for another screen (a menu button, a command) drops the draft, as leaving a
form drops the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from handlers import actions as act
from handlers import forged, screens
from handlers.forged import ForgedAction
from handlers.tickets import smalltalk
from handlers.tickets.flows import Prefill, ResidentTickets
from handlers.tickets.followups import FLOW_ANSWERED, answered_tickets
from handlers.tickets.forms import BODY_MAX, MAX_ATTACHMENTS
from handlers.tickets.suggest import CategorySuggester
from handlers.turn import FLOW_IDLE, Turn
from messaging import labels
from messaging.contract import FILE_KINDS, Button, EventKind, Incoming, Reply
from messaging.i18n import N_, Catalog, Markup
from storage import ticket_sends, tickets
from storage.deadlines import TicketKind
from storage.models import Ticket
from storage.vocabulary import CATEGORY_QUEUES

FLOW_DRAFT: Final = "draft"
STEP_CHOOSE: Final = "choose"
STEP_CATEGORY: Final = "category"
STEP_WHICH: Final = "which"
# How much of the draft's text the choice shows.
PREVIEW: Final = 300
# Texts of several messages are joined with a line break (the staff read them as one).
JOIN: Final = "\n"


@dataclass(frozen=True, slots=True)
class _Content:
    """What one message adds: its words (a text, a caption) and its file or location."""

    text: str
    item: dict[str, Any] | None


class Drafts:
    def __init__(
        self, catalog: Catalog, tickets: ResidentTickets, suggester: CategorySuggester
    ) -> None:
        self.catalog = catalog
        self.tickets = tickets
        self.suggester = suggester

    # -- entry points called by the conversation --------------------------------------------

    async def input(self, turn: Turn) -> list[Reply] | None:
        """A message (not a button) of an onboarded resident outside a ticket flow; None when
        it is not for us (the conversation answers it)."""
        event = turn.event
        if turn.resident.onboarded_at is None or turn.flow not in (
            FLOW_IDLE,
            FLOW_ANSWERED,
            FLOW_DRAFT,
        ):
            return None
        if not _keepable(event):
            return None
        if event.reply_to_message_id is not None:
            ticket_id = await ticket_sends.ticket_of_message(
                turn.session, resident_id=turn.resident.id, message_id=event.reply_to_message_id
            )
            if ticket_id is not None:
                return await self._continue(turn, [ticket_id])
        if event.kind is EventKind.TEXT:
            text = event.text or ""
            talk = smalltalk.classify(text)
            if talk is not None:
                return [self._with_screen(turn, self._t(turn, labels.FREETEXT_SMALLTALK[talk]))]
            if not any(ch.isalnum() for ch in text):
                # Only punctuation: nothing to keep ("…", "?").
                return None
        if turn.flow == FLOW_DRAFT:
            return await self._gather(turn)
        if turn.flow == FLOW_ANSWERED:
            answered = answered_tickets(turn.data, now=turn.now)
            if answered:
                return await self._continue(turn, answered)
        return await self._begin(turn)

    async def action(self, turn: Turn, action: str) -> list[Reply] | None:
        """A draft button, or None when not ours; raises ``ForgedAction`` for a ticket that is
        not the resident's."""
        verb, arg = act.split(action)
        if verb not in (act.DRAFT, act.DRAFT_CATEGORY, act.DRAFT_TO):
            return None
        if turn.flow != FLOW_DRAFT:
            if verb == act.DRAFT_TO and forged.is_id(arg):
                await self._own_ticket(turn, int(arg))
            # A button of a draft already sent or dropped.
            return [self._menu(turn, "freetext.gone")]
        if action == act.DRAFT_DISCARD:
            turn.go(FLOW_IDLE)
            return [self._menu(turn, "freetext.discarded")]
        if action == act.DRAFT_CATEGORIES:
            turn.step = STEP_CATEGORY
            return [self._category_screen(turn)]
        if action in (act.DRAFT_BACK, act.DRAFT_NEW):
            turn.step = STEP_CHOOSE
            return [self._choice(turn)]
        if verb == act.DRAFT_CATEGORY and arg in CATEGORY_QUEUES:
            turn.data["category"] = arg
            turn.data["chosen"] = True
            turn.step = STEP_CHOOSE
            return [self._choice(turn)]
        if verb == act.DRAFT_TO and forged.is_id(arg):
            return await self._draft_to(turn, await self._own_ticket(turn, int(arg)))
        if verb == act.DRAFT and arg in act.DRAFT_KINDS:
            return await self._send_as(turn, TicketKind(arg))
        return None

    def current_screen(self, turn: Turn) -> Reply | None:
        if turn.flow != FLOW_DRAFT:
            return None
        if turn.step == STEP_CATEGORY:
            return self._category_screen(turn)
        if turn.step == STEP_WHICH:
            return self._which_screen(turn)
        return self._choice(turn)

    # -- helpers ----------------------------------------------------------------------------

    def _t(self, turn: Turn, key: str, **params: Any) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    def _menu(self, turn: Turn, key: str, **params: Any) -> Reply:
        return screens.main_menu(self.catalog, turn.resident, self._t(turn, key, **params))

    def _with_screen(self, turn: Turn, text: Markup) -> Reply:
        """``text`` above the draft's screen while there is a draft, else above the menu."""
        screen = self.current_screen(turn)
        if screen is None:
            return screens.main_menu(self.catalog, turn.resident, text)
        return Reply(text=Markup(text + "\n\n" + screen.text), buttons=screen.buttons)

    async def _own_ticket(self, turn: Turn, ticket_id: int) -> Ticket:
        ticket = await tickets.get_resident_ticket(
            turn.session, ticket_id=ticket_id, resident_id=turn.resident.id
        )
        if ticket is None:
            raise ForgedAction(act.DRAFT_TO, forged.NOT_OWN, ticket_id)
        return ticket

    # -- keeping a draft --------------------------------------------------------------------

    async def _begin(self, turn: Turn) -> list[Reply]:
        content = _content(turn.event)
        turn.go(FLOW_DRAFT, STEP_CHOOSE)
        turn.data = {"text": "", "attachments": [], "category": None, "chosen": False}
        refused = self._add(turn, content)
        if refused is not None:
            # Nothing kept (one text longer than a ticket can hold): say why, keep no draft.
            turn.go(FLOW_IDLE)
            turn.data = {}
            return [screens.main_menu(self.catalog, turn.resident, refused)]
        await self._rank(turn)
        return [self._choice(turn)]

    async def _gather(self, turn: Turn) -> list[Reply]:
        refused = self._add(turn, _content(turn.event))
        if refused is not None:
            return [self._with_screen(turn, refused)]
        await self._rank(turn)
        count = len(turn.data["attachments"])
        return [self._with_screen(turn, self._t(turn, "freetext.added", count=count))]

    def _add(self, turn: Turn, content: _Content) -> Markup | None:
        """Add ``content`` to the draft; the reason it was not added (nothing was), or None."""
        data = turn.data
        text: str = data.get("text", "")
        attachments: list[dict[str, Any]] = data.setdefault("attachments", [])
        joined = (text + JOIN + content.text if text else content.text) if content.text else text
        if len(joined) > BODY_MAX:
            return self._t(turn, "freetext.full_text", limit=BODY_MAX, count=len(joined))
        if content.item is not None and len(attachments) >= MAX_ATTACHMENTS:
            return self._t(turn, "freetext.full_files", count=MAX_ATTACHMENTS)
        data["text"] = joined
        if content.item is not None:
            attachments.append(content.item)
        return None

    async def _rank(self, turn: Turn) -> None:
        """Preselect the suggested category, unless the resident chose one."""
        if turn.data.get("chosen") or not turn.data.get("text"):
            return
        ranking = [
            code
            for code in await self.suggester.rank(turn.session, turn.data["text"])
            if code in CATEGORY_QUEUES
        ]
        turn.data["ranking"] = ranking
        turn.data["category"] = ranking[0] if ranking else None

    # -- the screens ------------------------------------------------------------------------

    def _choice(self, turn: Turn) -> Reply:
        data = turn.data
        text: str = data.get("text", "")
        lines = [self._t(turn, "freetext.kept")]
        if data.get("ref"):
            lines.insert(0, self._t(turn, "freetext.closed", number=data["ref"]))
        if text:
            shown = text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"
            lines.append(self._t(turn, "freetext.preview", text=shown))
        count = len(data.get("attachments", []))
        if count:
            lines.append(self._t(turn, "freetext.files", count=count))
        category = data.get("category")
        lines.append(
            self._t(turn, "freetext.category", category=self._category_name(turn, category))
            if category
            else self._t(turn, "freetext.category_none")
        )
        lines.append(self._t(turn, "freetext.how"))
        rows: list[tuple[Button, ...]] = [
            (Button(self._t(turn, labels.FREETEXT_AS[kind]), act.with_arg(act.DRAFT, kind)),)
            for kind in act.DRAFT_KINDS
        ]
        change = (
            N_("freetext.btn.change_category") if category else N_("freetext.btn.pick_category")
        )
        rows.append((Button(self._t(turn, change), act.DRAFT_CATEGORIES),))
        rows.append((Button(self._t(turn, "freetext.btn.discard"), act.DRAFT_DISCARD),))
        return Reply(text=Markup("\n".join(lines)), buttons=tuple(rows))

    def _category_name(self, turn: Turn, code: str) -> str:
        return self._t(turn, labels.CHOICE_CATEGORY[code])

    def _category_screen(self, turn: Turn) -> Reply:
        ranking = [c for c in turn.data.get("ranking", []) if c in CATEGORY_QUEUES]
        # The suggested categories first, then the rest in their usual order.
        order = list(dict.fromkeys([*ranking, *CATEGORY_QUEUES]))
        current = turn.data.get("category")
        rows = tuple(
            (
                Button(
                    ("✅ " if code == current else "") + self._category_name(turn, code),
                    act.with_arg(act.DRAFT_CATEGORY, code),
                ),
            )
            for code in order
        )
        back = (Button(self._t(turn, "freetext.btn.back"), act.DRAFT_BACK),)
        return Reply(text=self._t(turn, "freetext.pick_category"), buttons=(*rows, back))

    def _which_screen(self, turn: Turn) -> Reply:
        rows = [
            (
                Button(
                    self._t(turn, "freetext.btn.ticket", number=item["number"]),
                    act.with_arg(act.DRAFT_TO, str(item["id"])),
                ),
            )
            for item in turn.data.get("tickets", [])
        ]
        rows.append((Button(self._t(turn, "freetext.btn.new"), act.DRAFT_NEW),))
        rows.append((Button(self._t(turn, "freetext.btn.discard"), act.DRAFT_DISCARD),))
        return Reply(text=self._t(turn, "freetext.which"), buttons=tuple(rows))

    # -- follow-ups -------------------------------------------------------------------------

    async def _continue(self, turn: Turn, ticket_ids: list[int]) -> list[Reply]:
        """The message continues one of ``ticket_ids`` (the resident's, answered lately)."""
        found = [
            ticket
            for ticket_id in ticket_ids
            if (
                ticket := await tickets.get_resident_ticket(
                    turn.session, ticket_id=ticket_id, resident_id=turn.resident.id
                )
            )
            is not None
        ]
        open_ = [ticket for ticket in found if tickets.is_open(ticket)]
        content = _content(turn.event)
        if len(open_) == 1:
            return await self._follow_up(turn, open_[0], content)
        if turn.flow != FLOW_DRAFT:
            turn.go(FLOW_DRAFT, STEP_CHOOSE)
            turn.data = {"text": "", "attachments": [], "category": None, "chosen": False}
        refused = self._add(turn, content)
        if open_:
            turn.step = STEP_WHICH
            turn.data["tickets"] = [{"id": t.id, "number": t.number} for t in open_]
        elif found:
            # Closed: a follow-up cannot reopen it; offer a new ticket that names it.
            turn.data.setdefault("ref", found[0].number)
            turn.step = STEP_CHOOSE
        if refused is not None:
            if not (turn.data.get("text") or turn.data.get("attachments")):
                turn.go(FLOW_IDLE)
                turn.data = {}
                return [screens.main_menu(self.catalog, turn.resident, refused)]
            return [self._with_screen(turn, refused)]
        await self._rank(turn)
        return [self.current_screen(turn) or self._choice(turn)]

    async def _follow_up(self, turn: Turn, ticket: Ticket, content: _Content) -> list[Reply]:
        """Add one message to ``ticket``; a draft the resident is choosing for stays."""
        if len(content.text) > BODY_MAX:
            return [
                self._with_screen(
                    turn,
                    self._t(turn, "form.error.too_long", count=len(content.text), limit=BODY_MAX),
                )
            ]
        number = await self._append(turn, ticket.id, content.text, [content.item])
        if number is None:
            # Closed a moment ago: keep the message as a draft of a new ticket instead.
            return await self._continue_closed(turn, ticket, content)
        if turn.flow == FLOW_DRAFT:
            return [self._with_screen(turn, self._t(turn, "my.added", number=number))]
        self._mark(turn, ticket.id)
        return [self._menu(turn, "my.added", number=number)]

    async def _continue_closed(self, turn: Turn, ticket: Ticket, content: _Content) -> list[Reply]:
        if turn.flow != FLOW_DRAFT:
            turn.go(FLOW_DRAFT, STEP_CHOOSE)
            turn.data = {"text": "", "attachments": [], "category": None, "chosen": False}
        turn.data.setdefault("ref", ticket.number)
        turn.step = STEP_CHOOSE
        refused = self._add(turn, content)
        if refused is not None:
            return [self._with_screen(turn, refused)]
        await self._rank(turn)
        return [self._choice(turn)]

    def _mark(self, turn: Turn, ticket_id: int) -> None:
        """The resident is talking about ``ticket_id``: their next message continues it too."""
        turn.go(FLOW_ANSWERED)
        turn.data = {"tickets": [{"id": ticket_id, "at": turn.now.isoformat()}]}

    async def _append(
        self, turn: Turn, ticket_id: int, text: str, items: list[dict[str, Any] | None]
    ) -> str | None:
        """The words and files to the ticket's thread: the words with the first file (as a
        caption), each further file on its own. The ticket's number, None if not open."""
        files = [item for item in items if item is not None]
        first = files[0] if files else None
        number = await self.tickets.append(turn, ticket_id, text or None, _attachment(first))
        for item in files[1:]:
            if number is not None:
                await self.tickets.append(turn, ticket_id, None, _attachment(item))
        return number

    async def _draft_to(self, turn: Turn, ticket: Ticket) -> list[Reply]:
        """The resident chose the ticket the kept draft continues."""
        if not tickets.is_open(ticket):
            turn.data["ref"] = ticket.number
            turn.step = STEP_CHOOSE
            return [self._choice(turn)]
        data = turn.data
        number = await self._append(turn, ticket.id, data.get("text", ""), data["attachments"])
        if number is None:
            turn.data["ref"] = ticket.number
            turn.step = STEP_CHOOSE
            return [self._choice(turn)]
        self._mark(turn, ticket.id)
        return [self._menu(turn, "my.added", number=number)]

    # -- sending the draft as a ticket ------------------------------------------------------

    async def _send_as(self, turn: Turn, kind: TicketKind) -> list[Reply]:
        refusal = await self.tickets.refusal_to_file(turn)
        if refusal is not None:
            # The draft stays: nothing the resident wrote is lost.
            return [self._with_screen(turn, Markup(refusal.text))]
        data = turn.data
        body: str = data.get("text", "")
        if data.get("ref") and body:
            body = self._t(turn, "freetext.ref_line", number=data["ref"]) + JOIN + body
            body = body[:BODY_MAX]
        prefill = Prefill(
            body=body or None,
            attachments=tuple(data.get("attachments", [])),
            category=data.get("category"),
            suggested=(data.get("ranking") or [None])[0],
        )
        return await self.tickets.start(turn, kind, prefill)


def _keepable(event: Incoming) -> bool:
    """A message a draft can keep: words, a file of any kind, a location."""
    if event.kind is EventKind.TEXT:
        return bool((event.text or "").strip())
    if event.kind in FILE_KINDS:
        return event.attachment is not None
    return event.kind is EventKind.LOCATION and event.location is not None


def _content(event: Incoming) -> _Content:
    text = (event.text or "").strip()
    if event.location is not None:
        location = f"{event.location.latitude},{event.location.longitude}"
        return _Content(text, {"kind": "location", "ref": location, "name": None})
    if event.attachment is not None and event.kind in FILE_KINDS:
        attachment = event.attachment
        return _Content(
            text, {"kind": attachment.kind, "ref": attachment.ref, "name": attachment.file_name}
        )
    return _Content(text, None)


def _attachment(item: dict[str, Any] | None) -> tuple[str, str, str | None] | None:
    if item is None:
        return None
    return (str(item["kind"]), str(item["ref"]), item.get("name"))
