"""The resident's side of tickets, as the conversation sees it: the commands, buttons and inputs
of the four filing flows, "my tickets" (``my_tickets``) and the personal-data commands
(``personal_data``), dispatched to the part that owns them; choosing a kind, starting a form
(``form`` is its engine) and submitting it.

Every step's state lives in the conversation state (the database), so a restart in the middle of
a flow continues where it was. Ticket creation and the effects for the staff side happen in the
resident's transaction: the registration number is given only once the ticket is stored
(``storage.filing``, the one way a ticket is filed). A feedback or an appeal about an open
incident is not filed at once: the resident is told the council knows and chooses to follow
the incident or to file anyway (``incidents``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from handlers import actions as act
from handlers.tickets import closure
from handlers.tickets.form import CAPTION_MAX, STEP_CONFIRM, STEP_CONSENT, FormEngine, Prefill
from handlers.tickets.forms import NEEDS_CONSENT, Input
from handlers.tickets.incidents import FLOW_INCIDENT, ResidentIncidents
from handlers.tickets.my_tickets import FLOW_FOLLOWUP, FLOW_RATING, MY_TICKETS_SHOWN, MyTickets
from handlers.tickets.personal_data import FLOW_FORGET, PersonalData
from handlers.turn import FLOW_IDLE, Turn
from messaging import labels
from messaging.contract import Button, Reply, TicketFiled
from messaging.i18n import Catalog, Markup
from messaging.text import format_when
from storage import log_context, tickets
from storage.deadlines import DEFAULT_FEEDBACK_DAYS, DEFAULT_LEGAL_AID_DAYS, TicketKind
from storage.filing import Attachment, FilingPolicy, Follows, TicketForm, file_ticket
from storage.models import Ticket

__all__ = [
    "CAPTION_MAX",
    "COMMAND_KINDS",
    "FLOWS",
    "MY_TICKETS_SHOWN",
    "Prefill",
    "ResidentTickets",
    "TicketPolicy",
]

FLOW_TICKET = "ticket"
FLOW_CHOOSE = "ticket_kind"
FLOWS = frozenset(
    {
        FLOW_TICKET,
        FLOW_CHOOSE,
        FLOW_FOLLOWUP,
        FLOW_RATING,
        FLOW_FORGET,
        FLOW_INCIDENT,
        *closure.FLOWS,
    }
)

COMMAND_KINDS = {
    "feedback": TicketKind.FEEDBACK,
    "appeal": TicketKind.APPEAL,
    "inforequest": TicketKind.INFO_REQUEST,
    "legalaid": TicketKind.LEGAL_AID,
}


@dataclass(frozen=True, slots=True)
class TicketPolicy:
    zone: ZoneInfo
    per_hour: int = 3
    per_day: int = 10
    feedback_days: int = DEFAULT_FEEDBACK_DAYS
    legal_aid_days: int = DEFAULT_LEGAL_AID_DAYS

    @property
    def filing(self) -> FilingPolicy:
        """The terms ``storage.filing`` gives a new ticket."""
        return FilingPolicy(
            zone=self.zone, feedback_days=self.feedback_days, legal_aid_days=self.legal_aid_days
        )


class ResidentTickets(FormEngine):
    def __init__(self, catalog: Catalog, policy: TicketPolicy) -> None:
        super().__init__(catalog, policy.zone)
        self.policy = policy
        # "Питання вирішено?" and what follows it; the ticket as "my tickets" shows it.
        self.closure = closure.ResidentClosure(catalog, policy.zone, self)
        self.mine = MyTickets(catalog, policy.zone, self.closure)
        self.view = self.mine.view
        self.personal = PersonalData(catalog, policy.zone)
        # "Ми вже знаємо про це" at filing, following an incident, "resolved for you?".
        self.incidents = ResidentIncidents(catalog, policy.zone, policy.filing, self)

    # -- entry points called by the conversation --------------------------------------------

    async def command(self, turn: Turn, command: str) -> list[Reply] | None:
        if command in COMMAND_KINDS:
            return await self._start(turn, COMMAND_KINDS[command])
        if command == "mytickets":
            return await self.mine.my_tickets(turn)
        if command == "mydata":
            return await self.personal.my_data(turn)
        if command == "forget":
            turn.go(FLOW_FORGET, STEP_CONFIRM)
            return [self.personal.forget_screen(turn)]
        return None

    async def action(self, turn: Turn, action: str) -> list[Reply] | None:
        """A button of ours, or None if not ours; raises ``ForgedAction`` for a ticket that is
        not the resident's."""
        replies = await self.closure.action(turn, action)
        if replies is None:
            replies = await self.incidents.action(turn, action)
        if replies is not None:
            return replies
        verb, arg = act.split(action)
        if action == act.FILE:
            return [self._kind_screen(turn)]
        if verb == act.FILE and arg in TicketKind.__members__.values():
            if turn.flow == FLOW_TICKET:
                return None  # a kind button of an earlier message: stale, the draft is kept
            return await self._start(turn, TicketKind(arg))
        if action == act.FORM_CANCEL:
            turn.go(FLOW_IDLE)
            return [self._menu(turn, "form.cancelled")]
        if action == act.FORGET_YES and turn.flow == FLOW_FORGET:
            return await self.personal.forget(turn)
        if turn.flow == FLOW_TICKET and (verb == act.CHOOSE or action.startswith("form:")):
            return await self._form_action(turn, action)
        # "My tickets", a follow-up, a rating (or None: not ours).
        return await self.mine.action(turn, action)

    async def input(self, turn: Turn) -> list[Reply] | None:
        """A non-button event while one of our flows is active; None if not ours."""
        if turn.flow == FLOW_TICKET:
            return await self._form_input(turn)
        if turn.flow == FLOW_INCIDENT:
            return [self.incidents.screen(turn)]
        if turn.flow == FLOW_FOLLOWUP:
            return await self.mine.followup(turn)
        if turn.flow == FLOW_RATING:
            return await self.mine.rating_comment(turn)
        if turn.flow in closure.FLOWS:
            return await self.closure.input(turn)
        return None

    def current_screen(self, turn: Turn) -> Reply | None:
        if turn.flow == FLOW_CHOOSE:
            return self._kind_screen(turn)
        if turn.flow == FLOW_FORGET:
            return self.personal.forget_screen(turn)
        if turn.flow == FLOW_TICKET:
            return self._form_screen(turn)
        if turn.flow == FLOW_INCIDENT:
            return self.incidents.screen(turn)
        if turn.flow in (FLOW_FOLLOWUP, FLOW_RATING):
            return self.mine.prompt_screen(turn)
        if turn.flow in closure.FLOWS:
            return self.closure.current_screen(turn)
        return None

    def after_consent(self, turn: Turn) -> list[Reply] | None:
        """Consent given while a flow waited for it: continue that flow (at the first step
        not answered already by what the resident sent before)."""
        if turn.flow == FLOW_TICKET and turn.step == STEP_CONSENT:
            kind = TicketKind(turn.data["kind"])
            turn.go(FLOW_TICKET, self._first_missing(turn, kind))
            return [self._form_screen(turn)]
        return None

    async def start(
        self, turn: Turn, kind: TicketKind, prefill: Prefill | None = None
    ) -> list[Reply]:
        """Start filing ``kind`` (with what the resident already sent, if anything)."""
        return await self._start(turn, kind, prefill)

    async def refusal_to_file(self, turn: Turn) -> Reply | None:
        """Why this resident may not file now (ban, flood limit), or None."""
        return await self._refusal_to_file(turn)

    async def append(
        self,
        turn: Turn,
        ticket_id: int,
        text: str | None,
        attachment: tuple[str, str, str | None] | None,
    ) -> str | None:
        """``MyTickets.append``: what a kept free-text draft adds to an open ticket."""
        return await self.mine.append(turn, ticket_id, text, attachment)

    # -- choosing and starting a flow -------------------------------------------------------

    def _kind_screen(self, turn: Turn) -> Reply:
        turn.go(FLOW_CHOOSE)
        rows = tuple(
            (Button(self._t(turn, labels.KIND_BUTTON[kind]), act.with_arg(act.FILE, kind.value)),)
            for kind in TicketKind
        )
        return Reply(
            text=self._t(turn, "file.choose"), buttons=(*rows, self._nav(turn, back=False))
        )

    async def _refusal_to_file(self, turn: Turn) -> Reply | None:
        """Why this resident may not file now (ban, flood limit), or None."""
        resident = turn.resident
        if resident.banned_at is not None:
            return self._menu(turn, "file.banned")
        session, now = turn.session, turn.now
        hour = await tickets.count_filed_since(
            session, resident_id=resident.id, since=now - timedelta(hours=1)
        )
        day = await tickets.count_filed_since(
            session, resident_id=resident.id, since=now - timedelta(days=1)
        )
        if hour >= self.policy.per_hour:
            return Reply(text=self._t(turn, "file.flood_hour", count=self.policy.per_hour))
        if day >= self.policy.per_day:
            return Reply(text=self._t(turn, "file.flood_day", count=self.policy.per_day))
        return None

    async def _start(
        self, turn: Turn, kind: TicketKind, prefill: Prefill | None = None
    ) -> list[Reply]:
        refusal = await self._refusal_to_file(turn)
        if refusal is not None:
            turn.go(FLOW_IDLE)
            return [self._with_menu(turn, refusal)]
        turn.go(FLOW_TICKET)
        turn.data = {"kind": kind.value, "answers": {}, "attachments": []}
        intro = [Reply(text=self._t(turn, labels.FORM_INTRO[kind.value]))]
        if prefill is not None:
            intro.extend(self._prefill(turn, kind, prefill))
        if kind in NEEDS_CONSENT and not turn.resident.has_consent:
            turn.step = STEP_CONSENT
            return [*intro, self._form_screen(turn)]
        turn.step = self._first_missing(turn, kind)
        return [*intro, self._form_screen(turn)]

    async def _form_action(self, turn: Turn, action: str) -> list[Reply] | None:
        verb, arg = act.split(action)
        if action == act.FORM_BACK:
            if not self._back(turn):
                turn.go(FLOW_CHOOSE)
                return [self._kind_screen(turn)]
            return [self._form_screen(turn)]
        if action == act.FORM_SUBMIT and turn.step == STEP_CONFIRM:
            return await self._submit(turn)
        step = self._step(turn)
        if action == act.FORM_NEXT and step is not None and step.input is Input.ATTACHMENTS:
            self._advance(turn)
            return [self._form_screen(turn)]
        if verb == act.CHOOSE and step is not None and step.input is Input.CHOICE:
            if arg not in step.choices:
                return None
            self._answers(turn)[step.key] = arg
            self._advance(turn)
            return [self._form_screen(turn)]
        # A stale button from an earlier step: not taken (the resident is told, and shown
        # where they are).
        return None

    # -- submitting -------------------------------------------------------------------------

    async def _submit(self, turn: Turn) -> list[Reply]:
        kind = self._kind(turn)
        refusal = await self._refusal_to_file(turn)
        if refusal is not None:
            # The draft stays in the state: nothing the resident wrote is lost.
            return [Reply(text=Markup(refusal.text), buttons=self._form_screen(turn).buttons)]
        if kind in NEEDS_CONSENT and not turn.resident.has_consent:
            turn.step = STEP_CONSENT
            return [self._form_screen(turn)]
        # The council may know already (an open incident): the resident chooses to follow it
        # or to file anyway; the draft waits in the state meanwhile.
        answers = self._answers(turn)
        category = answers.get("category")
        prompt = await self.incidents.prompt_at_filing(
            turn, kind, category, str(answers.get("body") or "")
        )
        if prompt is not None:
            return prompt
        ticket = await self._create(turn, kind)
        turn.go(FLOW_IDLE)
        return [self.registered(turn, ticket)]

    async def _create(self, turn: Turn, kind: TicketKind, follows: Follows | None = None) -> Ticket:
        steps = {s.key for s in self._steps(turn, kind)}
        answers = {k: v for k, v in self._answers(turn).items() if k in steps}
        form = TicketForm(
            kind=kind,
            channel=turn.account.channel,
            body=answers.get("body"),
            category=answers.get("category") or answers.get("legal_topic"),
            suggested_category=turn.data.get("suggested"),
            appeal_type=answers.get("appeal_type"),
            urgent=answers.get("urgent") == "yes",
            urgent_reason=answers.get("urgent_reason"),
            anonymous=kind is TicketKind.FEEDBACK and answers.get("anonymous", "yes") == "yes",
            full_name=answers.get("full_name") or turn.resident.name,
            address=answers.get("address"),
            contact=answers.get("contact"),
            attachments=tuple(
                Attachment(item["kind"], item["ref"], item.get("name"), item.get("caption"))
                for item in self._attachments(turn)
            ),
        )
        ticket = await file_ticket(
            turn.session,
            resident=turn.resident,
            form=form,
            now=turn.now,
            policy=self.policy.filing,
            actor=turn.actor,
            follows=follows,
        )
        turn.effects.append(TicketFiled(ticket.id))
        log_context.ticket_number.set(ticket.number)
        return ticket

    # -- what the closure flows use (handlers.tickets.closure.Filing) -----------------------

    async def create_ticket(
        self, turn: Turn, kind: TicketKind, follows: Follows | None = None
    ) -> Ticket:
        return await self._create(turn, kind, follows)

    def registered(self, turn: Turn, ticket: Ticket) -> Reply:
        """The answer to a filed ticket: its number and deadline (a service target for feedback
        and legal aid, a legal term for the others)."""
        key = (
            "file.registered_target"
            if ticket.kind in (TicketKind.FEEDBACK, TicketKind.LEGAL_AID)
            else "file.registered"
        )
        return self._menu(
            turn,
            key,
            number=ticket.number,
            deadline=format_when(ticket.deadline_at, self.zone, exact=ticket.urgent),
        )
