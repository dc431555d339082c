"""The resident's side of tickets: filing (four guided flows), "my tickets", follow-ups, rating,
and the personal-data commands /mydata and /forget.

Every step's state lives in the conversation state (the database), so a restart in the middle of
a flow continues where it was. Ticket creation and the effects for the staff side happen in the
resident's transaction: the registration number is given only once the ticket is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers import actions as act
from handlers import forged, screens
from handlers.forged import ForgedAction
from handlers.linking import forget_linked, linked_data, messengers_shown
from handlers.tickets import closure
from handlers.tickets.forms import (
    FOLLOWUP_MAX,
    FORMS,
    MAX_ATTACHMENTS,
    NEEDS_CONSENT,
    RATING_COMMENT_MAX,
    Input,
    Invalid,
    Step,
    applicable_steps,
    check_text,
    normalize_phone,
)
from handlers.tickets.timeline import TicketView
from handlers.turn import FLOW_IDLE, Turn
from messaging import labels
from messaging.contract import (
    FILE_KINDS,
    Button,
    EventKind,
    Incoming,
    Reply,
    ResidentWrote,
    TicketFiled,
    TicketRated,
)
from messaging.i18n import Catalog, Markup
from storage import audit, kept_files, polls, tickets
from storage.calendar_store import load_calendar
from storage.deadlines import TicketKind, initial_deadline
from storage.models import Ticket
from storage.ticket_rules import TransitionError, rate
from storage.vocabulary import (
    POLICY_VERSION,
    MessageDirection,
    TicketStatus,
)

FLOW_TICKET = "ticket"
FLOW_CHOOSE = "ticket_kind"
FLOW_FOLLOWUP = "followup"
FLOW_RATING = "rating"
FLOW_FORGET = "forget"
FLOWS = frozenset(
    {FLOW_TICKET, FLOW_CHOOSE, FLOW_FOLLOWUP, FLOW_RATING, FLOW_FORGET, *closure.FLOWS}
)
STEP_CONFIRM = "confirm"
STEP_CONSENT = "consent"

COMMAND_KINDS = {
    "feedback": TicketKind.FEEDBACK,
    "appeal": TicketKind.APPEAL,
    "inforequest": TicketKind.INFO_REQUEST,
    "legalaid": TicketKind.LEGAL_AID,
}
MY_TICKETS_SHOWN = 10
# The longest caption kept with a file: Telegram allows 1,024 characters (4,096 with Premium),
# Viber less; the column is unbounded text. Longer is refused, never cut.
CAPTION_MAX = 4096


@dataclass(frozen=True, slots=True)
class Prefill:
    """What the resident already sent before choosing a flow (a kept free-text draft): the
    flow starts with it and asks only for the rest."""

    body: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    category: str | None = None
    # The category the bot suggested (recorded on the ticket to measure the suggester).
    suggested: str | None = None


@dataclass(frozen=True, slots=True)
class TicketPolicy:
    zone: ZoneInfo
    per_hour: int = 3
    per_day: int = 10
    feedback_days: int = 10
    legal_aid_days: int = 10


class ResidentTickets:
    def __init__(self, catalog: Catalog, policy: TicketPolicy) -> None:
        self.catalog = catalog
        self.policy = policy
        # "Питання вирішено?" and what follows it; the ticket as "my tickets" shows it.
        self.closure = closure.ResidentClosure(catalog, policy.zone, self)
        self.view = TicketView(catalog, policy.zone)

    # -- entry points called by the conversation --------------------------------------------

    async def command(self, turn: Turn, command: str) -> list[Reply] | None:
        if command in COMMAND_KINDS:
            return await self._start(turn, COMMAND_KINDS[command])
        if command == "mytickets":
            return await self._my_tickets(turn)
        if command == "mydata":
            return await self._my_data(turn)
        if command == "forget":
            turn.go(FLOW_FORGET, STEP_CONFIRM)
            return [self._forget_screen(turn)]
        return None

    async def action(self, turn: Turn, action: str) -> list[Reply] | None:
        """A button of ours, or None if not ours; raises ``ForgedAction`` for a ticket that is
        not the resident's."""
        replies = await self.closure.action(turn, action)
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
        if action == act.MY_LIST:
            return await self._my_tickets(turn)
        if verb == act.MY_OPEN and forged.is_id(arg):
            return await self._open(turn, int(arg))
        if verb == act.MY_WRITE and forged.is_id(arg):
            return await self._begin_followup(turn, int(arg))
        if verb == act.RATE:
            return await self._rate(turn, arg)
        if action == act.FORGET_YES and turn.flow == FLOW_FORGET:
            return await self._forget(turn)
        if turn.flow == FLOW_TICKET and (verb == act.CHOOSE or action.startswith("form:")):
            return await self._form_action(turn, action)
        if turn.flow == FLOW_RATING and action == act.FORM_NEXT:
            turn.go(FLOW_IDLE)
            return [self._menu(turn, "rating.thanks")]
        return None

    async def input(self, turn: Turn) -> list[Reply] | None:
        """A non-button event while one of our flows is active; None if not ours."""
        if turn.flow == FLOW_TICKET:
            return await self._form_input(turn)
        if turn.flow == FLOW_FOLLOWUP:
            return await self._followup(turn)
        if turn.flow == FLOW_RATING:
            return await self._rating_comment(turn)
        if turn.flow in closure.FLOWS:
            return await self.closure.input(turn)
        return None

    def current_screen(self, turn: Turn) -> Reply | None:
        if turn.flow == FLOW_CHOOSE:
            return self._kind_screen(turn)
        if turn.flow == FLOW_FORGET:
            return self._forget_screen(turn)
        if turn.flow == FLOW_TICKET:
            return self._form_screen(turn)
        if turn.flow in (FLOW_FOLLOWUP, FLOW_RATING):
            return self._prompt_screen(turn)
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

    # -- helpers ----------------------------------------------------------------------------

    def _t(self, turn: Turn, key: str, **params: Any) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    def _menu(self, turn: Turn, key: str, **params: Any) -> Reply:
        return screens.main_menu(self.catalog, turn.resident, self._t(turn, key, **params))

    def _nav(self, turn: Turn, *, back: bool = True) -> tuple[Button, ...]:
        cancel = Button(self._t(turn, "btn.cancel"), act.FORM_CANCEL)
        return (Button(self._t(turn, "btn.back"), act.FORM_BACK), cancel) if back else (cancel,)

    def format_deadline(self, turn: Turn, deadline: datetime | None, *, exact: bool = False) -> str:
        if deadline is None:
            return "—"
        local = deadline.astimezone(self.policy.zone)
        return local.strftime("%d.%m.%Y %H:%M" if exact else "%d.%m.%Y")

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

    def _prefill(self, turn: Turn, kind: TicketKind, prefill: Prefill) -> list[Reply]:
        """Answer the steps ``prefill`` answers; steps so answered are skipped (``_advance``),
        and Back still reaches them to change them. A body the form does not accept (too
        short for this kind) is asked for again, with the reason."""
        done: list[str] = []
        notes: list[Reply] = []
        answers = self._answers(turn)
        steps = {step.key: step for step in FORMS[kind]}
        if prefill.attachments:
            self._attachments(turn).extend(dict(item) for item in prefill.attachments)
            if "attachments" in steps:
                done.append("attachments")
        category = steps.get("category")
        if category is not None and prefill.category in category.choices:
            answers["category"] = prefill.category
            done.append("category")
        body = steps.get("body")
        if body is not None and prefill.body:
            try:
                answers["body"] = check_text(body, prefill.body)
                done.append("body")
            except Invalid as error:
                notes.append(Reply(text=self._t(turn, error.key, **error.params)))
        turn.data["prefilled"] = done
        if prefill.suggested is not None:
            turn.data["suggested"] = prefill.suggested
        return notes

    def _first_missing(self, turn: Turn, kind: TicketKind) -> str:
        """The first step the resident still has to answer (the confirmation if none)."""
        done = set(turn.data.get("prefilled", ()))
        for step in self._steps(turn, kind):
            if step.key not in done:
                return step.key
        return STEP_CONFIRM

    def _with_menu(self, turn: Turn, reply: Reply) -> Reply:
        return screens.main_menu(self.catalog, turn.resident, Markup(reply.text))

    # -- the form engine --------------------------------------------------------------------

    def _kind(self, turn: Turn) -> TicketKind:
        return TicketKind(turn.data["kind"])

    def _answers(self, turn: Turn) -> dict[str, Any]:
        answers: dict[str, Any] = turn.data.setdefault("answers", {})
        return answers

    def _attachments(self, turn: Turn) -> list[dict[str, Any]]:
        attachments: list[dict[str, Any]] = turn.data.setdefault("attachments", [])
        return attachments

    def _steps(self, turn: Turn, kind: TicketKind) -> list[Step]:
        answers = turn.data.get("answers", {}) if turn.data else {}
        return applicable_steps(kind, answers, consent=turn.resident.has_consent)

    def _step(self, turn: Turn) -> Step | None:
        for step in self._steps(turn, self._kind(turn)):
            if step.key == turn.step:
                return step
        return None

    def _advance(self, turn: Turn) -> None:
        steps = self._steps(turn, self._kind(turn))
        keys = [s.key for s in steps]
        index = keys.index(turn.step) if turn.step in keys else -1
        # Steps answered by what the resident sent before the flow began are not asked.
        done = set(turn.data.get("prefilled", ()))
        index += 1
        while index < len(keys) and keys[index] in done:
            index += 1
        turn.step = keys[index] if index < len(keys) else STEP_CONFIRM

    def _back(self, turn: Turn) -> bool:
        """Go to the previous step; False when already at the first one."""
        keys = [s.key for s in self._steps(turn, self._kind(turn))]
        if turn.step == STEP_CONFIRM:
            turn.step = keys[-1]
            return True
        index = keys.index(turn.step) if turn.step in keys else 0
        if index == 0:
            return False
        turn.step = keys[index - 1]
        return True

    def _form_screen(self, turn: Turn) -> Reply:
        kind = self._kind(turn)
        if turn.step == STEP_CONSENT:
            return Reply(
                text=self._t(turn, "file.needs_consent"),
                buttons=(
                    (Button(self._t(turn, "btn.consent_yes"), act.CONSENT_YES),),
                    (Button(self._t(turn, "btn.policy"), act.CONSENT_POLICY),),
                    self._nav(turn, back=False),
                ),
            )
        if turn.step == STEP_CONFIRM:
            return self._confirm_screen(turn, kind)
        step = self._step(turn)
        if step is None:
            # The state names a step that no longer applies (the form changed): restart it.
            turn.step = self._steps(turn, kind)[0].key
            step = self._step(turn)
            assert step is not None
        keys = [s.key for s in self._steps(turn, kind)]
        progress = self._t(turn, "form.progress", step=keys.index(step.key) + 1, total=len(keys))
        prompt = self.catalog.text(turn.lang, self._prompt_key(kind, step))
        text = Markup(f"{progress}\n{prompt}")
        rows: list[tuple[Button, ...]] = []
        if step.input is Input.CHOICE:
            rows.extend(
                (
                    Button(
                        self._choice_label(turn, step.key, value), act.with_arg(act.CHOOSE, value)
                    ),
                )
                for value in step.choices
            )
        if step.input is Input.ATTACHMENTS:
            count = len(self._attachments(turn))
            if count:
                text = Markup(text + "\n" + self._t(turn, "form.attachments.count", count=count))
            rows.append((Button(self._t(turn, "btn.next"), act.FORM_NEXT),))
        rows.append(self._nav(turn))
        return Reply(text=text, buttons=tuple(rows))

    def _prompt_key(self, kind: TicketKind, step: Step) -> str:
        return labels.FORM_KIND_PROMPT.get((kind.value, step.key)) or labels.FORM_PROMPT[step.key]

    def _choice_label(self, turn: Turn, key: str, value: str) -> str:
        if value in labels.CHOICE_FLAG:
            return self._t(turn, labels.CHOICE_FLAG[value])
        return self._t(turn, labels.CHOICES[key][value])

    def _confirm_screen(self, turn: Turn, kind: TicketKind) -> Reply:
        answers = self._answers(turn)
        lines = [self._t(turn, "form.confirm", kind=self._t(turn, labels.KIND[kind.value]))]
        for step in self._steps(turn, kind):
            if step.input is Input.ATTACHMENTS:
                count = len(self._attachments(turn))
                if count:
                    lines.append(self._t(turn, "form.summary.attachments", count=count))
                continue
            value = answers.get(step.key)
            if value is None:
                continue
            shown = (
                self._choice_label(turn, step.key, value) if step.input is Input.CHOICE else value
            )
            label = self._t(turn, labels.FIELD[step.key])
            lines.append(self._t(turn, "form.summary.line", label=label, value=shown))
        return Reply(
            text=Markup("\n".join(lines)),
            buttons=(
                (Button(self._t(turn, "btn.submit"), act.FORM_SUBMIT),),
                self._nav(turn),
            ),
        )

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

    async def _form_input(self, turn: Turn) -> list[Reply]:
        event = turn.event
        if turn.step in (STEP_CONSENT, STEP_CONFIRM):
            return [self._again(turn, "use_buttons")]
        step = self._step(turn)
        if step is None:
            return [self._form_screen(turn)]
        if event.kind in FILE_KINDS or event.kind is EventKind.LOCATION:
            return self._attach(turn, step)
        if step.input is Input.ATTACHMENTS:
            return [self._again(turn, "form.attachments.hint")]
        if step.input is Input.CHOICE:
            return [self._again(turn, "use_buttons")]
        if event.kind is EventKind.CONTACT and event.contact is not None:
            raw = event.contact.phone
            if step.input in (Input.CONTACT, Input.REPLY_ADDRESS):
                raw = normalize_phone(raw) or raw
        elif event.kind is EventKind.TEXT:
            raw = event.text or ""
        else:
            return [self._again(turn, "form.error.text_expected")]
        try:
            value = check_text(step, raw)
        except Invalid as error:
            return [self._again(turn, error.key, **error.params)]
        self._answers(turn)[step.key] = value
        self._advance(turn)
        return [self._form_screen(turn)]

    def _again(self, turn: Turn, key: str, **params: Any) -> Reply:
        screen = self._form_screen(turn)
        return Reply(
            text=Markup(self._t(turn, key, **params) + "\n\n" + screen.text), buttons=screen.buttons
        )

    def _attach(self, turn: Turn, step: Step) -> list[Reply]:
        """Photos, documents, videos and locations are kept during the body and attachment
        steps; a file's caption is kept with it (or, at the body step, is the body)."""
        kind = self._kind(turn)
        allowed = {s.key for s in self._steps(turn, kind) if s.input is Input.ATTACHMENTS}
        if not allowed or step.key not in ("body", *allowed):
            return [self._again(turn, "form.error.text_expected")]
        attachments = self._attachments(turn)
        if len(attachments) >= MAX_ATTACHMENTS:
            return [self._again(turn, "form.attachments.full", count=MAX_ATTACHMENTS)]
        event = turn.event
        caption = (event.text or "").strip()
        if len(caption) > CAPTION_MAX:
            return [self._again(turn, "form.error.too_long", count=len(caption), limit=CAPTION_MAX)]
        item: dict[str, Any]
        if event.location is not None:
            item = {
                "kind": "location",
                "ref": f"{event.location.latitude},{event.location.longitude}",
                "name": None,
            }
        elif event.attachment is not None:
            item = {
                "kind": event.attachment.kind,
                "ref": event.attachment.ref,
                "name": event.attachment.file_name,
            }
        else:
            return [self._again(turn, "form.error.text_expected")]
        attachments.append(item)
        if step.key == "body" and caption:
            # A photo with a caption answers the question too.
            try:
                self._answers(turn)["body"] = check_text(step, caption)
            except Invalid as error:
                # Not a usable body (too short…): keep the words with the file instead.
                item["caption"] = caption
                return [self._again(turn, error.key, **error.params)]
            self._advance(turn)
            return [self._form_screen(turn)]
        if caption:
            item["caption"] = caption
        key = "form.attachments.added_body" if step.key == "body" else "form.attachments.added"
        return [self._again(turn, key, count=len(attachments))]

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
        ticket = await self._create(turn, kind)
        turn.go(FLOW_IDLE)
        exact = ticket.urgent
        key = (
            "file.registered_target"
            if kind in (TicketKind.FEEDBACK, TicketKind.LEGAL_AID)
            else "file.registered"
        )
        return [
            self._menu(
                turn,
                key,
                number=ticket.number,
                deadline=self.format_deadline(turn, ticket.deadline_at, exact=exact),
            )
        ]

    async def _create(self, turn: Turn, kind: TicketKind) -> Ticket:
        session, resident, now = turn.session, turn.resident, turn.now
        steps = {s.key for s in self._steps(turn, kind)}
        answers = {k: v for k, v in self._answers(turn).items() if k in steps}
        anonymous = kind is TicketKind.FEEDBACK and answers.get("anonymous", "yes") == "yes"
        urgent = answers.get("urgent") == "yes"
        queue_code = await tickets.queue_for_new_ticket(
            session, kind=kind, category=answers.get("category")
        )
        calendar = await load_calendar(session)
        deadline = initial_deadline(
            kind,
            now,
            calendar=calendar,
            zone=self.policy.zone,
            urgent=urgent,
            feedback_days=self.policy.feedback_days,
            legal_aid_days=self.policy.legal_aid_days,
        )
        year = now.astimezone(self.policy.zone).year
        number = await tickets.next_number(session, kind=kind.value, year=year)
        ticket = Ticket(
            number=number,
            kind=kind.value,
            status=TicketStatus.NEW.value,
            resident_id=resident.id,
            # The messenger it was filed from (for a linked person, not always their primary's).
            channel=turn.account.channel,
            queue_code=queue_code,
            category=answers.get("category") or answers.get("legal_topic"),
            suggested_category=turn.data.get("suggested"),
            appeal_type=answers.get("appeal_type"),
            appeal_term="standard" if kind is TicketKind.APPEAL else None,
            urgent=urgent,
            urgent_reason=answers.get("urgent_reason"),
            anonymous=anonymous,
            full_name=None if anonymous else answers.get("full_name") or resident.name,
            address=answers.get("address"),
            contact=None if anonymous else answers.get("contact"),
            body=answers.get("body"),
            received_at=now,
            deadline_at=deadline,
            created_at=now,
            updated_at=now,
        )
        session.add(ticket)
        await session.flush()
        for item in self._attachments(turn):
            tickets.add_message(
                session,
                ticket,
                direction=MessageDirection.RESIDENT,
                now=now,
                text=item.get("caption"),
                attachment=(item["kind"], item["ref"], item.get("name")),
            )
        audit.record(
            session,
            actor=turn.actor,
            action="ticket.filed",
            subject=f"ticket:{ticket.id}",
            now=now,
            details={"number": number, "kind": kind.value, "queue": queue_code},
        )
        turn.effects.append(TicketFiled(ticket.id))
        return ticket

    # -- my tickets, follow-ups, rating -----------------------------------------------------

    def _status(self, turn: Turn, ticket: Ticket) -> str:
        return self._t(turn, labels.STATUS[ticket.status])

    async def _my_tickets(self, turn: Turn) -> list[Reply]:
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

    async def _open(self, turn: Turn, ticket_id: int) -> list[Reply]:
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
            deadline=self.format_deadline(turn, ticket.deadline_at, exact=ticket.urgent),
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

    async def _begin_followup(self, turn: Turn, ticket_id: int) -> list[Reply]:
        ticket = await tickets.get_resident_ticket(
            turn.session, ticket_id=ticket_id, resident_id=turn.resident.id
        )
        if ticket is None:
            raise ForgedAction(act.MY_WRITE, forged.NOT_OWN, ticket_id)
        if not tickets.is_open(ticket):
            return [self._menu(turn, "my.closed", number=ticket.number)]
        turn.go(FLOW_FOLLOWUP, "text")
        turn.data = {"ticket_id": ticket.id, "number": ticket.number}
        return [self._prompt_screen(turn)]

    def _prompt_screen(self, turn: Turn) -> Reply:
        if turn.flow == FLOW_RATING:
            return Reply(
                text=self._t(turn, "rating.comment"),
                buttons=((Button(self._t(turn, "btn.skip"), act.FORM_NEXT),),),
            )
        return Reply(
            text=self._t(turn, "my.write_prompt", number=turn.data.get("number", "")),
            buttons=(self._nav(turn, back=False),),
        )

    async def _followup(self, turn: Turn) -> list[Reply]:
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
        screen = self._prompt_screen(turn)
        return Reply(
            text=Markup(self._t(turn, key, **params) + "\n\n" + screen.text), buttons=screen.buttons
        )

    async def _rate(self, turn: Turn, arg: str) -> list[Reply] | None:
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
        return [self._prompt_screen(turn)]

    async def _rating_comment(self, turn: Turn) -> list[Reply]:
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

    # -- what the closure flows use (handlers.tickets.closure.Filing) -----------------------

    async def create_ticket(self, turn: Turn, kind: TicketKind) -> Ticket:
        return await self._create(turn, kind)

    def registered(self, turn: Turn, ticket: Ticket) -> Reply:
        return self._menu(
            turn,
            "file.registered",
            number=ticket.number,
            deadline=self.format_deadline(turn, ticket.deadline_at, exact=ticket.urgent),
        )

    # -- personal data ----------------------------------------------------------------------

    async def _my_data(self, turn: Turn) -> list[Reply]:
        turn.go(FLOW_IDLE)
        resident = turn.resident
        own = await tickets.resident_tickets(turn.session, resident_id=resident.id, limit=1000)
        export = {
            "profile": {
                "channel": resident.channel,
                "messenger_id": resident.external_id,
                "name": resident.name,
                "language": resident.language,
                "district": resident.district,
                "topics": sorted(resident.topic_codes),
                "digest": resident.digest,
                "subscribed": resident.subscribed,
                "consent_at": _iso(resident.consent_at),
                "policy_version": resident.policy_version,
                "created_at": _iso(resident.created_at),
                "last_seen_at": _iso(resident.last_seen_at),
            },
            "tickets": [
                {
                    "number": t.number,
                    "kind": t.kind,
                    "status": t.status,
                    "received_at": _iso(t.received_at),
                    "deadline_at": _iso(t.deadline_at),
                    # Their answer to "Питання вирішено?" after the last closing.
                    "resolution": t.resolution,
                    "resolution_at": _iso(t.resolution_at),
                    **tickets.personal_fields(t),
                    "messages": [
                        {
                            "from": m.direction,
                            "at": _iso(m.created_at),
                            "text": m.text,
                            "attachment": m.attachment_kind,
                        }
                        for m in await tickets.thread(turn.session, ticket_id=t.id, limit=1000)
                        if m.direction != MessageDirection.NOTE
                    ],
                }
                for t in own
            ],
            "poll_votes": [
                {
                    "poll": vote.poll_id,
                    "question": vote.question,
                    "chosen": list(vote.chosen),
                    "at": _iso(vote.voted_at),
                }
                for vote in await polls.resident_votes(turn.session, resident_id=resident.id)
            ],
            # Both messenger accounts of a person linked in Telegram and Viber.
            **await linked_data(turn),
        }
        summary = self._t(
            turn,
            "mydata.summary",
            summary=screens.summary(self.catalog, resident),
            name=resident.name or "—",
            channel=await messengers_shown(self.catalog, turn),
            tickets=len(own),
            version=resident.policy_version or "—",
        )
        dump = json.dumps(export, ensure_ascii=False, indent=1)
        return [
            Reply(text=summary),
            self._with_menu(turn, Reply(text=self._t(turn, "mydata.export", json=dump))),
        ]

    def _forget_screen(self, turn: Turn) -> Reply:
        return Reply(
            text=self._t(turn, "forget.confirm"),
            buttons=(
                (Button(self._t(turn, "forget.yes"), act.FORGET_YES),),
                (Button(self._t(turn, "btn.cancel"), act.FORM_CANCEL),),
            ),
        )

    async def _forget(self, turn: Turn) -> list[Reply]:
        resident, now = turn.resident, turn.now
        own = await tickets.resident_tickets(turn.session, resident_id=resident.id, limit=100_000)
        for ticket in own:
            erase_ticket(ticket, now=now)
            for message in await tickets.thread(turn.session, ticket_id=ticket.id, limit=100_000):
                message.text = None
                message.attachment_ref = None
                message.attachment_name = None
        # The copies of the files they sent through Viber go too (Telegram's stay Telegram's).
        files = await kept_files.erase_owner(
            turn.session, channel=resident.channel, external_id=resident.external_id
        )
        votes = await polls.unlink_votes(turn.session, resident_id=resident.id, now=now)
        # The other messenger's account too: erased and no longer linked.
        await forget_linked(turn)
        resident.name = None
        resident.consent_at = None
        resident.policy_version = None
        resident.erased_at = now
        audit.record(
            turn.session,
            actor=turn.actor,
            action="resident.forget",
            now=now,
            details={
                "tickets": len(own),
                "polls": votes,
                "files": files,
                "policy_version": POLICY_VERSION,
            },
        )
        turn.go(FLOW_IDLE)
        return [self._menu(turn, "forget.done", count=len(own))]


def erase_ticket(ticket: Ticket, *, now: datetime) -> None:
    """Keep what the council must keep (number, kind, dates, status); erase the rest."""
    ticket.full_name = None
    ticket.address = None
    ticket.contact = None
    ticket.subject = None
    ticket.body = None
    ticket.urgent_reason = None
    ticket.rating_comment = None
    ticket.extension_reason = None
    ticket.refusal_comment = None
    ticket.erased_at = now


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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
