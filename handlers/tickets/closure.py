"""The loop closes with the resident: after staff close a ticket the resident is asked
"Питання вирішено?" (``solved:<ticket>:<round>:<yes|no>``, sent with the closing notice and shown
again in "my tickets" until answered).

- "Так": recorded (``tickets.resolution``, a ``resolved`` event, the audit log), thanks, then the
  star rating (the rating comes second: first whether it helped, then how well).
- "Ні": recorded; a feedback or legal-aid ticket opens again for its department at once
  (``ticket_rules.reopen``); then an optional comment, which goes to the ticket's thread as the
  resident's message. An appeal or an information request stays closed (the law fixes their
  procedure): after the comment the resident is offered what the law allows — for an appeal a
  repeated appeal (Law 393/96-ВР art. 8) or a complaint within a month (art. 16-17); for an
  information request a complaint (Law 2939-VI art. 23) or a new request. Either files a new
  ticket linked to the first (``parent_id``, ``parent_link``), prefilled from it: only what is
  missing is asked (usually just the text).

Staff are told each step in the ticket's thread (``ResidentAnswered``); the comment reaches the
thread as any follow-up does.

A button pressed twice gets "you already answered"; a question from before a reopening ("stale":
the ticket was closed again since, or is open now) changes nothing; a ticket that is not the
resident's is a forged action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from handlers import actions as act
from handlers import forged, screens
from handlers.forged import ForgedAction
from handlers.tickets.followups import FLOW_ANSWERED
from handlers.tickets.forms import (
    CATEGORIES,
    FOLLOWUP_MAX,
    Input,
    Invalid,
    Step,
    applicable_steps,
    check_text,
)
from handlers.turn import FLOW_IDLE, Turn
from messaging import labels
from messaging.contract import (
    FILE_KINDS,
    Button,
    EventKind,
    Reply,
    ResidentAnswered,
    ResidentWrote,
)
from messaging.i18n import Catalog, Markup
from storage import audit, ticket_events, tickets
from storage.deadlines import TicketKind
from storage.filing import Follows
from storage.models import Ticket
from storage.ticket_events import Happened, Link, Resolution
from storage.ticket_rules import (
    REOPENABLE_KINDS,
    TransitionError,
    answer_resolution,
    closure_round,
    reopen,
)
from storage.vocabulary import AppealType, MessageDirection, TicketStatus

FLOW_CLOSURE: Final = "closure"  # steps: rate, comment, offer
FLOW_REFILE: Final = "refile"  # steps: the missing fields' keys, then confirm
FLOWS: Final = frozenset({FLOW_CLOSURE, FLOW_REFILE})
STEP_RATE: Final = "rate"
STEP_COMMENT: Final = "comment"
STEP_OFFER: Final = "offer"
STEP_CONFIRM: Final = "confirm"

YES: Final = "yes"
NO: Final = "no"

# What "not resolved" offers, per kind (the first listed is the first button).
FOLLOW_UPS: Final[dict[str, tuple[Link, ...]]] = {
    TicketKind.APPEAL.value: (Link.REPEATED, Link.COMPLAINT),
    TicketKind.INFO_REQUEST.value: (Link.COMPLAINT, Link.NEW_REQUEST),
}
LINKS: Final = frozenset(link.value for link in Link)
# Law 393/96-ВР art. 17: a complaint no later than one month after the resident learned of the
# decision (here: the closing notice). Only appeals: Law 2939-VI sets no such term.
COMPLAINT_MONTHS: Final = 1
# Information requests have no category of their own: a complaint about one goes by this one
# (the information-policy department), and staff hand it over if need be.
INFO_COMPLAINT_CATEGORY: Final = "council_work"


def resolved_action(ticket_id: int, round_: int, answer: str) -> str:
    return f"{act.RESOLVED}:{ticket_id}:{round_}:{answer}"


def parse_resolved(argument: str) -> tuple[int, int, bool] | None:
    """``<ticket>:<round>:<yes|no>`` -> (ticket id, round, resolved); None if malformed."""
    parts = argument.split(":")
    if len(parts) != 3:
        return None
    ticket, round_, answer = parts
    if not (forged.is_id(ticket) and forged.is_id(round_) and answer in (YES, NO)):
        return None
    return int(ticket), int(round_), answer == YES


def parse_refile(argument: str) -> tuple[int, Link] | None:
    ticket, _, link = argument.partition(":")
    if not forged.is_id(ticket) or link not in LINKS:
        return None
    return int(ticket), Link(link)


def question_buttons(
    catalog: Catalog, language: str, ticket_id: int, round_: int
) -> tuple[Button, ...]:
    return (
        Button(catalog.text(language, "closure.btn.yes"), resolved_action(ticket_id, round_, YES)),
        Button(catalog.text(language, "closure.btn.no"), resolved_action(ticket_id, round_, NO)),
    )


def stars(ticket_id: int) -> tuple[Button, ...]:
    return tuple(Button("⭐" * n, act.with_arg(act.RATE, f"{ticket_id}:{n}")) for n in range(1, 6))


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later (the last day of a shorter month), as terms in months
    are counted (Civil Code art. 254)."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError(moment)


def complaint_allowed(ticket: Ticket, now: datetime) -> bool:
    if ticket.kind != TicketKind.APPEAL or ticket.closed_at is None:
        return True
    return now <= add_months(ticket.closed_at, COMPLAINT_MONTHS)


class Filing(Protocol):
    """What the closure flows use of the ticket flows (``handlers.tickets.flows``)."""

    async def refusal_to_file(self, turn: Turn) -> Reply | None: ...

    async def create_ticket(
        self, turn: Turn, kind: TicketKind, follows: Follows | None = None
    ) -> Ticket: ...

    async def start(self, turn: Turn, kind: TicketKind) -> list[Reply]: ...

    def registered(self, turn: Turn, ticket: Ticket) -> Reply: ...


class ResidentClosure:
    def __init__(self, catalog: Catalog, zone: ZoneInfo, filing: Filing) -> None:
        self.catalog = catalog
        self.zone = zone
        self.filing = filing

    def _t(self, turn: Turn, key: str, **params: Any) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    def _menu(self, turn: Turn, text: str) -> Reply:
        """``text`` as the end of a closure step: with the main menu, or alone when the resident
        is in the middle of another flow (a draft ticket, settings) that must not be lost."""
        if self._busy(turn):
            return Reply(text=Markup(text))
        turn.go(FLOW_IDLE)
        return screens.main_menu(self.catalog, turn.resident, Markup(text))

    @staticmethod
    def _busy(turn: Turn) -> bool:
        # "Answered" (the next message continues the ticket) is no flow of the resident's own.
        return turn.flow not in (FLOW_IDLE, FLOW_ANSWERED, *FLOWS)

    def _join(self, *parts: str) -> Markup:
        return Markup("\n\n".join(part for part in parts if part))

    # -- entry points (called by ResidentTickets) -------------------------------------------

    async def action(self, turn: Turn, action: str) -> list[Reply] | None:
        verb, arg = act.split(action)
        if verb == act.RESOLVED:
            return await self._answer(turn, arg)
        if verb == act.REFILE:
            return await self._begin_refile(turn, arg)
        if turn.flow == FLOW_CLOSURE:
            return await self._closure_action(turn, action)
        if turn.flow == FLOW_REFILE:
            return await self._refile_action(turn, action)
        return None

    async def input(self, turn: Turn) -> list[Reply]:
        if turn.flow == FLOW_CLOSURE and turn.step == STEP_COMMENT:
            return await self._comment(turn)
        if turn.flow == FLOW_REFILE and turn.step != STEP_CONFIRM:
            return self._refile_input(turn)
        screen = self.current_screen(turn)
        return [
            Reply(
                text=self._join(self._t(turn, "closure.use_buttons"), screen.text),
                buttons=screen.buttons,
            )
        ]

    def current_screen(self, turn: Turn) -> Reply:
        data = turn.data
        if turn.flow == FLOW_REFILE:
            return self._refile_screen(turn)
        if turn.step == STEP_RATE:
            skip = (Button(self._t(turn, "btn.skip"), act.FORM_NEXT),)
            return Reply(
                text=self._t(turn, "closure.rate"),
                buttons=(stars(int(data["ticket_id"])), skip),
            )
        if turn.step == STEP_OFFER:
            return self._offer_screen(turn)
        return Reply(
            text=self._t(turn, "closure.comment"),
            buttons=((Button(self._t(turn, "btn.skip"), act.FORM_NEXT),),),
        )

    # -- "Питання вирішено?" ----------------------------------------------------------------

    async def _own(self, turn: Turn, verb: str, ticket_id: int) -> Ticket:
        ticket = await tickets.get_resident_ticket(
            turn.session, ticket_id=ticket_id, resident_id=turn.resident.id
        )
        if ticket is None:
            raise ForgedAction(verb, forged.NOT_OWN, ticket_id)
        return ticket

    async def _answer(self, turn: Turn, arg: str) -> list[Reply]:
        parsed = parse_resolved(arg)
        if parsed is None:
            raise ForgedAction(act.RESOLVED, forged.MALFORMED)
        ticket_id, round_, resolved = parsed
        ticket = await self._own(turn, act.RESOLVED, ticket_id)
        number = ticket.number
        try:
            answer_resolution(ticket, resolved=resolved, round_=round_, now=turn.now)
        except TransitionError as error:
            if error.code == "already_answered":
                return [
                    self._menu(
                        turn,
                        self._t(
                            turn, labels.CLOSURE_ALREADY[ticket.resolution or ""], number=number
                        ),
                    )
                ]
            if tickets.is_open(ticket):
                return [self._menu(turn, self._t(turn, "closure.stale.open", number=number))]
            stale = self._t(turn, "closure.stale", number=number)
            current = closure_round(ticket)
            if current is None or ticket.resolution is not None or self._busy(turn):
                return [self._menu(turn, stale)]
            # Closed again since: the question of this closing, in place of the old one.
            turn.go(FLOW_IDLE)
            ask = self._t(turn, "closure.ask", number=number)
            back = (Button(self._t(turn, "my.back"), act.MY_LIST),)
            buttons = (question_buttons(self.catalog, turn.lang, ticket.id, current), back)
            return [Reply(text=self._join(stale, ask), buttons=buttons)]
        happened = Happened.RESOLVED if resolved else Happened.NOT_RESOLVED
        ticket_events.record(turn.session, ticket, happened, now=turn.now)
        audit.record(
            turn.session,
            actor=turn.actor,
            action="ticket.resolution",
            subject=f"ticket:{ticket.id}",
            now=turn.now,
            details={"number": number, "resolved": resolved},
        )
        data: dict[str, Any] = {
            "ticket_id": ticket.id,
            "number": number,
            "kind": ticket.kind,
            "complaint_ok": complaint_allowed(ticket, turn.now),
        }
        if resolved:
            turn.effects.append(ResidentAnswered(ticket.id, Happened.RESOLVED.value))
            thanks = self._t(turn, "closure.thanks", number=number)
            if ticket.rating is not None or self._busy(turn):
                return [self._menu(turn, thanks)]
            turn.go(FLOW_CLOSURE, STEP_RATE)
            turn.data = data
            screen = self.current_screen(turn)
            return [Reply(text=self._join(thanks, screen.text), buttons=screen.buttons)]
        head = [self._t(turn, "closure.sorry", number=number)]
        if ticket.kind in REOPENABLE_KINDS:
            reopen(ticket, now=turn.now)
            ticket_events.record(turn.session, ticket, Happened.REOPENED, now=turn.now)
            turn.effects.append(ResidentAnswered(ticket.id, Happened.REOPENED.value))
            head.append(self._t(turn, "closure.reopened", number=number))
        else:
            turn.effects.append(ResidentAnswered(ticket.id, Happened.NOT_RESOLVED.value))
        if self._busy(turn):
            # Their draft stays; the comment and the follow-ups wait in "my tickets".
            head.append(self._t(turn, "closure.later"))
            return [self._menu(turn, self._join(*head))]
        turn.go(FLOW_CLOSURE, STEP_COMMENT)
        turn.data = data
        screen = self.current_screen(turn)
        return [Reply(text=self._join(*head, screen.text), buttons=screen.buttons)]

    async def _closure_action(self, turn: Turn, action: str) -> list[Reply] | None:
        number = str(turn.data.get("number", ""))
        if action == act.FORM_NEXT and turn.step == STEP_RATE:
            return [self._menu(turn, self._t(turn, "closure.thanks_end"))]
        if action == act.FORM_NEXT and turn.step == STEP_COMMENT:
            return await self._after_comment(turn, None)
        if action == act.FORM_CANCEL and turn.step == STEP_OFFER:
            return [self._menu(turn, self._t(turn, "closure.offer_declined", number=number))]
        return None

    async def _comment(self, turn: Turn) -> list[Reply]:
        event = turn.event
        text = (event.text or "").strip()
        attachment = None
        if event.kind in FILE_KINDS and event.attachment is not None:
            attachment = (event.attachment.kind, event.attachment.ref, event.attachment.file_name)
        elif event.kind is not EventKind.TEXT or not text:
            screen = self.current_screen(turn)
            error = self._t(turn, "form.error.text_expected")
            return [Reply(text=self._join(error, screen.text), buttons=screen.buttons)]
        if len(text) > FOLLOWUP_MAX:
            screen = self.current_screen(turn)
            error = self._t(turn, "form.error.too_long", count=len(text), limit=FOLLOWUP_MAX)
            return [Reply(text=self._join(error, screen.text), buttons=screen.buttons)]
        ticket = await self._own(turn, act.RESOLVED, int(turn.data["ticket_id"]))
        # Open again (feedback) or closed (an appeal): the comment belongs to the thread either
        # way, and the desk copies it to staff as any message of the resident.
        message_id = await tickets.append_message(
            turn.session,
            ticket,
            direction=MessageDirection.RESIDENT,
            now=turn.now,
            text=text or None,
            attachment=attachment,
        )
        turn.effects.append(ResidentWrote(message_id, ticket.id))
        return await self._after_comment(
            turn, self._t(turn, "closure.comment_added", number=ticket.number)
        )

    async def _after_comment(self, turn: Turn, note: str | None) -> list[Reply]:
        number = str(turn.data.get("number", ""))
        kind = str(turn.data.get("kind", ""))
        if kind not in FOLLOW_UPS:
            end = self._t(turn, "closure.reopened_end", number=number)
            return [self._menu(turn, self._join(note or "", end))]
        turn.step = STEP_OFFER
        screen = self._offer_screen(turn)
        return [Reply(text=self._join(note or "", screen.text), buttons=screen.buttons)]

    def _offer_screen(self, turn: Turn) -> Reply:
        kind = str(turn.data.get("kind", ""))
        ticket_id = int(turn.data["ticket_id"])
        links = list(FOLLOW_UPS.get(kind, ()))
        late = not bool(turn.data.get("complaint_ok", True))
        key = labels.CLOSURE_OFFER[kind]
        if late and kind == TicketKind.APPEAL:
            links = [link for link in links if link is not Link.COMPLAINT]
            key = "closure.offer.appeal_late"
        rows = tuple(
            (
                Button(
                    self._t(turn, labels.CLOSURE_BTN[link.value]),
                    act.with_arg(act.REFILE, f"{ticket_id}:{link.value}"),
                ),
            )
            for link in links
        )
        cancel = (Button(self._t(turn, "closure.btn.not_now"), act.FORM_CANCEL),)
        return Reply(text=self._t(turn, key), buttons=(*rows, cancel))

    # -- a linked ticket --------------------------------------------------------------------

    async def _begin_refile(self, turn: Turn, arg: str) -> list[Reply]:
        parsed = parse_refile(arg)
        if parsed is None:
            raise ForgedAction(act.REFILE, forged.MALFORMED)
        parent = await self._own(turn, act.REFILE, parsed[0])
        link = parsed[1]
        number = parent.number
        if (
            link not in FOLLOW_UPS.get(parent.kind, ())
            or parent.status != TicketStatus.CLOSED
            or parent.resolution != Resolution.NOT_RESOLVED
        ):
            return [self._menu(turn, self._t(turn, "closure.refile.unavailable", number=number))]
        if link is Link.COMPLAINT and not complaint_allowed(parent, turn.now):
            return [self._menu(turn, self._t(turn, "closure.refile.complaint_late", number=number))]
        filed = (await ticket_events.linked_tickets(turn.session, parent_id=parent.id)).get(link)
        if filed is not None:
            # One of each per ticket: a button pressed twice does not file twice.
            text = self._t(turn, "closure.refile.already", number=number, linked=filed.number)
            return [self._menu(turn, text)]
        refusal = await self.filing.refusal_to_file(turn)
        if refusal is not None:
            turn.go(FLOW_IDLE)
            return [screens.main_menu(self.catalog, turn.resident, Markup(refusal.text))]
        kind, answers = self._prefill(parent, link)
        if not turn.resident.has_consent:
            # Consent withdrawn since: the ordinary flow asks for it first (and everything else).
            return await self.filing.start(turn, kind)
        turn.data = {
            "parent_id": parent.id,
            "number": number,
            "link": link.value,
            "kind": kind.value,
            "answers": answers,
        }
        turn.go(FLOW_REFILE, self._next_step(turn))
        intro = self._t(turn, labels.CLOSURE_REFILE_INTRO[link.value], number=number)
        screen = self._refile_screen(turn)
        return [Reply(text=self._join(intro, screen.text), buttons=screen.buttons)]

    @staticmethod
    def _prefill(parent: Ticket, link: Link) -> tuple[TicketKind, dict[str, str]]:
        """The new ticket's kind and what it takes from the first one (never its text: the
        resident says what is still wrong)."""
        answers: dict[str, str] = {}
        for key in ("full_name", "address", "contact"):
            value = getattr(parent, key)
            if value:
                answers[key] = value
        if link is Link.NEW_REQUEST:
            answers["urgent"] = "no"
            return TicketKind.INFO_REQUEST, answers
        if link is Link.COMPLAINT:
            answers["appeal_type"] = AppealType.COMPLAINT.value
        else:
            answers["appeal_type"] = parent.appeal_type or AppealType.APPLICATION.value
        category = parent.category if parent.category in CATEGORIES else INFO_COMPLAINT_CATEGORY
        answers["category"] = category
        return TicketKind.APPEAL, answers

    def _steps(self, turn: Turn) -> list[Step]:
        kind = TicketKind(turn.data["kind"])
        return applicable_steps(kind, turn.data.get("answers", {}), consent=True)

    def _next_step(self, turn: Turn) -> str:
        """The first step the new ticket still needs (text-like steps only: choices are
        prefilled), else the confirmation."""
        answers = turn.data.get("answers", {})
        for step in self._steps(turn):
            if step.input in (Input.CHOICE, Input.ATTACHMENTS):
                continue
            if step.key not in answers:
                return step.key
        return STEP_CONFIRM

    def _prompt(self, turn: Turn, key: str) -> Markup:
        if key == "body":
            return self._t(turn, labels.CLOSURE_REFILE_BODY[turn.data["link"]])
        specific = labels.FORM_KIND_PROMPT.get((turn.data["kind"], key))
        return self._t(turn, specific or labels.FORM_PROMPT[key])

    def _refile_screen(self, turn: Turn) -> Reply:
        cancel = (Button(self._t(turn, "btn.cancel"), act.FORM_CANCEL),)
        if turn.step != STEP_CONFIRM:
            return Reply(text=self._prompt(turn, turn.step), buttons=(cancel,))
        answers = turn.data.get("answers", {})
        link = self._t(turn, labels.CLOSURE_LINK[turn.data["link"]])
        lines = [
            self._t(turn, "closure.refile.confirm"),
            self._t(turn, "closure.parent", link=link, number=str(turn.data.get("number", ""))),
        ]
        for step in self._steps(turn):
            value = answers.get(step.key)
            if value is None or step.input in (Input.CHOICE, Input.ATTACHMENTS):
                continue
            shown = value if len(value) <= 600 else value[:599] + "…"
            lines.append(
                self._t(
                    turn,
                    "closure.refile.line",
                    label=self._t(turn, labels.FIELD[step.key]),
                    value=shown,
                )
            )
        submit = (Button(self._t(turn, "btn.submit"), act.FORM_SUBMIT),)
        return Reply(text=Markup("\n".join(lines)), buttons=(submit, cancel))

    def _refile_input(self, turn: Turn) -> list[Reply]:
        event = turn.event
        step = next((s for s in self._steps(turn) if s.key == turn.step), None)
        if step is None:
            turn.step = self._next_step(turn)
            return [self._refile_screen(turn)]
        try:
            if event.kind is not EventKind.TEXT:
                raise Invalid("form.error.text_expected")
            value = check_text(step, event.text or "")
        except Invalid as error:
            screen = self._refile_screen(turn)
            text = self._join(self._t(turn, error.key, **error.params), screen.text)
            return [Reply(text=text, buttons=screen.buttons)]
        turn.data.setdefault("answers", {})[step.key] = value
        turn.step = self._next_step(turn)
        return [self._refile_screen(turn)]

    async def _refile_action(self, turn: Turn, action: str) -> list[Reply] | None:
        if action == act.FORM_CANCEL:
            return [self._menu(turn, self._t(turn, "form.cancelled"))]
        if action == act.FORM_SUBMIT and turn.step == STEP_CONFIRM:
            return await self._submit(turn)
        if action in (act.FORM_SUBMIT, act.FORM_BACK, act.FORM_NEXT):
            # A button of another screen: show where the resident is.
            return [self._refile_screen(turn)]
        return None

    async def _submit(self, turn: Turn) -> list[Reply]:
        refusal = await self.filing.refusal_to_file(turn)
        if refusal is not None:
            # The draft stays: nothing the resident wrote is lost.
            screen = self._refile_screen(turn)
            return [Reply(text=self._join(refusal.text, screen.text), buttons=screen.buttons)]
        parent = await self._own(turn, act.REFILE, int(turn.data["parent_id"]))
        link = Link(turn.data["link"])
        kind = TicketKind(turn.data["kind"])
        answers = dict(turn.data.get("answers", {}))
        # The form engine's shape (``ResidentTickets._create`` reads it).
        turn.data = {"kind": kind.value, "answers": answers, "attachments": []}
        # Linked to the first, whose timeline and audit say so (storage.filing).
        ticket = await self.filing.create_ticket(turn, kind, Follows(parent, link))
        turn.effects.append(ResidentAnswered(parent.id, Happened.REFILED.value, ticket.id))
        turn.go(FLOW_IDLE)
        return [self.filing.registered(turn, ticket)]

    # -- the ticket in "my tickets" ---------------------------------------------------------

    async def ticket_buttons(self, turn: Turn, ticket: Ticket) -> list[tuple[Button, ...]]:
        """What a closed ticket offers in "my tickets": the "resolved?" question until it is
        answered, the follow-ups after "not resolved", then the rating."""
        rows: list[tuple[Button, ...]] = []
        round_ = closure_round(ticket)
        if round_ is not None and ticket.resolution is None:
            rows.append(question_buttons(self.catalog, turn.lang, ticket.id, round_))
            return rows
        if round_ is not None and ticket.resolution == Resolution.NOT_RESOLVED:
            filed = await ticket_events.linked_tickets(turn.session, parent_id=ticket.id)
            for link in FOLLOW_UPS.get(ticket.kind, ()):
                if link in filed or (
                    link is Link.COMPLAINT and not complaint_allowed(ticket, turn.now)
                ):
                    continue
                action = act.with_arg(act.REFILE, f"{ticket.id}:{link.value}")
                rows.append((Button(self._t(turn, labels.CLOSURE_BTN[link.value]), action),))
        if ticket.rating is None:
            rows.append(stars(ticket.id))
        return rows
