"""The resident's side of incidents (issue 17): told at filing that the council already knows,
following an incident, and answering "resolved for you?" after it is resolved.

- Filing: when a feedback or an appeal is submitted and its facts (category, the resident's
  district, now) match an open incident (``storage.incident_match``), nothing is filed yet: the
  resident reads "Ми вже знаємо про це: …, очікуємо …" and chooses. "Follow" stores them as a
  follower and files no ticket (no duplicate for staff to answer); "file anyway" files the
  ticket they wrote and links it to the incident (``suggested``). Either way they then get the
  incident's status updates. The draft stays in the conversation state until they choose.
- "Resolved for you?" (the final update's buttons, ``incsolved:<incident>:<yes|no>``): the
  first answer counts (``incident_answers``). "Yes": their closed linked tickets are marked
  resolved. "No": their linked feedback or legal-aid tickets closed with the incident open again
  for their department; their linked tickets still open (an appeal awaiting its legal answer)
  get the "not resolved" in their thread; a follower with no linked ticket gets a new feedback
  ticket filed for them, linked to the incident (``resident``), so staff see who is still
  without water. Only a recipient of the incident's updates may answer (else a forged action).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from handlers import actions as act
from handlers import forged, screens
from handlers.forged import ForgedAction
from handlers.turn import FLOW_IDLE, Turn
from messaging import labels
from messaging.contract import Button, Reply, ResidentAnswered, TicketFiled
from messaging.i18n import Catalog, Markup
from messaging.text import format_when
from storage import audit, incidents, ticket_events
from storage.deadlines import TicketKind
from storage.filing import FilingPolicy, TicketForm, file_ticket
from storage.incident_match import ReportFacts
from storage.incidents import LinkedBy
from storage.models import Incident, Ticket
from storage.ticket_events import Happened
from storage.ticket_rules import (
    REOPENABLE_KINDS,
    TransitionError,
    answer_resolution,
    closure_round,
    reopen,
)
from storage.tickets import is_open

FLOW_INCIDENT = "incident_prompt"
# The kinds whose filing is checked against open incidents: those with a category.
MATCHED_KINDS = frozenset({TicketKind.FEEDBACK, TicketKind.APPEAL})
YES, NO = "yes", "no"


class IncidentTexts:
    """What residents read about an incident, in their language."""

    def __init__(self, catalog: Catalog, zone: ZoneInfo) -> None:
        self.catalog = catalog
        self.zone = zone

    def expected(self, incident: Incident) -> str | None:
        if incident.expected_at is None:
            return None
        return format_when(incident.expected_at, self.zone, exact=True)

    def prompt(self, language: str, title: str, description: str, expected: str | None) -> Markup:
        """ "Ми вже знаємо про це: …" with what is expected."""
        if expected is None:
            return self.catalog.text(
                language, "incident.match.unknown", title=title, description=description
            )
        return self.catalog.text(
            language, "incident.match", title=title, description=description, expected=expected
        )

    def update(self, language: str, incident: Incident, text: str) -> Markup:
        """A status update: the incident, its status, what staff wrote, what is expected."""
        status = self.catalog.text(language, labels.INCIDENT_STATUS[incident.status])
        parts = [
            self.catalog.text(language, "incident.update", title=incident.title, status=status)
        ]
        if text:
            parts.append(self.catalog.text(language, "incident.update.text", text=text))
        expected = self.expected(incident)
        if expected is not None and incidents.is_open(incident):
            parts.append(self.catalog.text(language, "incident.update.expected", expected=expected))
        return Markup("\n\n".join(parts))

    def resolved(self, language: str, incident: Incident, text: str) -> Markup:
        """The final update: resolved, the incident's answer, and the question."""
        parts = [self.catalog.text(language, "incident.resolved", title=incident.title)]
        if text:
            parts.append(self.catalog.text(language, "incident.update.text", text=text))
        parts.append(self.catalog.text(language, "incident.resolved.ask"))
        return Markup("\n\n".join(parts))

    def solved_buttons(self, language: str, incident_id: int) -> list[list[list[str]]]:
        """The final update's yes/no, as a broadcast stores its buttons (rows of [label,
        action])."""
        return [
            [
                [self.catalog.text(language, "incident.btn.yes"), solved_action(incident_id, YES)],
                [self.catalog.text(language, "incident.btn.no"), solved_action(incident_id, NO)],
            ]
        ]


def solved_action(incident_id: int, answer: str) -> str:
    return act.with_arg(act.INCIDENT_SOLVED, f"{incident_id}:{answer}")


class Filing(Protocol):
    """What the filing flow lends the prompt: file the draft in the conversation state."""

    async def create_ticket(self, turn: Turn, kind: TicketKind) -> Ticket: ...

    def registered(self, turn: Turn, ticket: Ticket) -> Reply: ...


class ResidentIncidents:
    def __init__(
        self, catalog: Catalog, zone: ZoneInfo, policy: FilingPolicy, filing: Filing
    ) -> None:
        self.catalog = catalog
        self.texts = IncidentTexts(catalog, zone)
        self.policy = policy
        self.filing = filing

    def _t(self, turn: Turn, key: str, **params: Any) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    def _menu(self, turn: Turn, text: Markup) -> Reply:
        turn.go(FLOW_IDLE)
        return screens.main_menu(self.catalog, turn.resident, text)

    # -- at filing ----------------------------------------------------------------------------

    async def prompt_at_filing(
        self, turn: Turn, kind: TicketKind, category: str | None, text: str
    ) -> list[Reply] | None:
        """Before a draft of ``kind`` is filed: the prompt when it matches an open incident
        (the flow moves to ``FLOW_INCIDENT``, the draft kept), else None (file it)."""
        if kind not in MATCHED_KINDS or category is None:
            return None
        places = (
            incidents.parse_location(item.get("ref"))
            for item in turn.data.get("attachments", ())
            if item.get("kind") == incidents.LOCATION
        )
        report = ReportFacts(
            text=text,
            category=category,
            district=turn.resident.district,
            at=turn.now,
            location=next((place for place in places if place is not None), None),
        )
        match = await incidents.match_report(turn.session, report)
        incident = (
            None if match is None else await incidents.get_incident(turn.session, match.incident_id)
        )
        if incident is None:
            return None
        turn.go(FLOW_INCIDENT)
        turn.data["incident"] = {
            "id": incident.id,
            "title": incident.title,
            "description": incident.description,
            "expected": self.texts.expected(incident),
        }
        return [self.screen(turn)]

    def screen(self, turn: Turn) -> Reply:
        shown = turn.data["incident"]
        text = self.texts.prompt(
            turn.lang, shown["title"], shown["description"], shown.get("expected")
        )
        incident_id = str(shown["id"])
        follow = act.with_arg(act.INCIDENT_FOLLOW, incident_id)
        file_anyway = act.with_arg(act.INCIDENT_FILE, incident_id)
        buttons = (
            (Button(self._t(turn, "incident.btn.follow"), follow),),
            (Button(self._t(turn, "incident.btn.file"), file_anyway),),
            (Button(self._t(turn, "btn.cancel"), act.FORM_CANCEL),),
        )
        return Reply(text=text, buttons=buttons)

    async def action(self, turn: Turn, action: str) -> list[Reply] | None:
        """Our buttons, or None (not ours, or a prompt the resident has left: stale)."""
        verb, arg = act.split(action)
        if verb == act.INCIDENT_SOLVED:
            incident_id, _, answer = arg.partition(":")
            return await self._answer(turn, int(incident_id), answer == YES)
        if verb not in (act.INCIDENT_FOLLOW, act.INCIDENT_FILE):
            return None
        shown = turn.data.get("incident") if turn.flow == FLOW_INCIDENT else None
        if shown is None or str(shown["id"]) != arg:
            return None
        if verb == act.INCIDENT_FOLLOW:
            return await self._follow(turn, int(shown["id"]))
        return await self._file_anyway(turn, int(shown["id"]))

    async def _follow(self, turn: Turn, incident_id: int) -> list[Reply]:
        incident = await incidents.get_incident(turn.session, incident_id)
        if incident is None or not incidents.is_open(incident):
            # Resolved (or gone) while the prompt was shown: file what they wrote after all.
            return await self._file_anyway(turn, incident_id)
        added = await incidents.follow(
            turn.session, incident_id=incident_id, resident_id=turn.resident.id, now=turn.now
        )
        if added:
            audit.record(
                turn.session,
                actor=turn.actor,
                action="incident.follow",
                subject=f"incident:{incident_id}",
                now=turn.now,
            )
        turn.data = {}
        return [self._menu(turn, self._t(turn, "incident.followed", title=incident.title))]

    async def _file_anyway(self, turn: Turn, incident_id: int) -> list[Reply]:
        kind = TicketKind(turn.data["kind"])
        ticket = await self.filing.create_ticket(turn, kind)
        incident = await incidents.get_incident(turn.session, incident_id)
        if incident is not None and incidents.is_open(incident):
            await incidents.link_ticket(
                turn.session,
                incident_id=incident_id,
                ticket_id=ticket.id,
                linked_by=LinkedBy.SUGGESTED,
                now=turn.now,
            )
            audit.record(
                turn.session,
                actor=turn.actor,
                action="incident.link",
                subject=f"incident:{incident_id}",
                now=turn.now,
                details={"ticket": ticket.id, "number": ticket.number, "by": LinkedBy.SUGGESTED},
            )
        turn.go(FLOW_IDLE)
        return [self.filing.registered(turn, ticket)]

    # -- "resolved for you?" ------------------------------------------------------------------

    async def _answer(self, turn: Turn, incident_id: int, resolved: bool) -> list[Reply] | None:
        session, resident = turn.session, turn.resident
        if not await incidents.is_recipient(
            session, incident_id=incident_id, resident_id=resident.id
        ):
            raise ForgedAction(act.INCIDENT_SOLVED, forged.NOT_RECEIVED, incident_id)
        incident = await incidents.get_incident(session, incident_id)
        if incident is None or incidents.is_open(incident):
            return None  # not (or no longer) resolved: a stale button
        answer = await incidents.record_answer(
            session,
            incident_id=incident_id,
            resident_id=resident.id,
            resolved=resolved,
            now=turn.now,
        )
        if answer is None:
            return [self._reply(turn, self._t(turn, "incident.answer.again"))]
        own = await incidents.residents_tickets(
            session, incident_id=incident_id, resident_id=resident.id
        )
        ticket_id, text = (
            (None, self._t(turn, "incident.answer.thanks"))
            if resolved
            else await self._not_resolved(turn, incident, own)
        )
        for ticket in own:
            _record_resolution(turn, ticket, resolved=resolved)
        answer.ticket_id = ticket_id
        audit.record(
            session,
            actor=turn.actor,
            action="incident.resolution",
            subject=f"incident:{incident_id}",
            now=turn.now,
            details={"resolved": resolved, "ticket": ticket_id},
        )
        return [self._reply(turn, text)]

    def _reply(self, turn: Turn, text: Markup) -> Reply:
        """The answer with the main menu, unless the resident is in the middle of a flow (a
        draft) that must not be lost."""
        if turn.flow != FLOW_IDLE:
            return Reply(text=text)
        return self._menu(turn, text)

    async def _not_resolved(
        self, turn: Turn, incident: Incident, own: Sequence[Ticket]
    ) -> tuple[int | None, Markup]:
        """Reopen or note their linked tickets; file one for a follower without any."""
        reopened = [t for t in own if not is_open(t) and t.kind in REOPENABLE_KINDS]
        still_open = [t for t in own if is_open(t)]
        for ticket in reopened:
            _set_resolution(turn, ticket, resolved=False)
            reopen(ticket, now=turn.now)
            ticket_events.record(turn.session, ticket, Happened.REOPENED, now=turn.now)
            turn.effects.append(ResidentAnswered(ticket.id, Happened.REOPENED.value))
        for ticket in own:
            if ticket in reopened:
                continue
            if is_open(ticket) or _set_resolution(turn, ticket, resolved=False):
                turn.effects.append(ResidentAnswered(ticket.id, Happened.NOT_RESOLVED.value))
        if reopened:
            first = reopened[0]
            return first.id, self._t(turn, "incident.answer.reopened", number=first.number)
        if still_open:
            first = still_open[0]
            return first.id, self._t(turn, "incident.answer.open", number=first.number)
        if own:
            # Only closed appeals or information requests: the law fixes what follows them.
            return None, self._t(turn, "incident.answer.sorry")
        ticket = await self._file_for_follower(turn, incident)
        return ticket.id, self._t(turn, "incident.answer.filed", number=ticket.number)

    async def _file_for_follower(self, turn: Turn, incident: Incident) -> Ticket:
        body = self.catalog.text(turn.lang, "incident.not_resolved_body", title=incident.title)
        form = TicketForm(
            kind=TicketKind.FEEDBACK,
            channel=turn.account.channel,
            body=str(body),
            category=incident.category,
            anonymous=True,
        )
        ticket = await file_ticket(
            turn.session,
            resident=turn.resident,
            form=form,
            now=turn.now,
            policy=self.policy,
            actor=turn.actor,
        )
        await incidents.link_ticket(
            turn.session,
            incident_id=incident.id,
            ticket_id=ticket.id,
            linked_by=LinkedBy.RESIDENT,
            now=turn.now,
        )
        turn.effects.append(TicketFiled(ticket.id))
        return ticket


def _set_resolution(turn: Turn, ticket: Ticket, *, resolved: bool) -> bool:
    """The ticket's "resolved?" answer from the incident's question, when its current closing
    has none yet; True if recorded (with its timeline event)."""
    round_ = closure_round(ticket)
    if round_ is None:
        return False
    try:
        answer_resolution(ticket, resolved=resolved, round_=round_, now=turn.now)
    except TransitionError:
        return False
    happened = Happened.RESOLVED if resolved else Happened.NOT_RESOLVED
    ticket_events.record(turn.session, ticket, happened, now=turn.now)
    return True


def _record_resolution(turn: Turn, ticket: Ticket, *, resolved: bool) -> None:
    """A "yes" marks their closed linked tickets resolved (a "no" was recorded on reopening)."""
    if resolved and _set_resolution(turn, ticket, resolved=True):
        turn.effects.append(ResidentAnswered(ticket.id, Happened.RESOLVED.value))
