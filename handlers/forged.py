"""Resident actions no button of ours could have sent: refused the same way and audited.

A button's action comes from the client: a modified Telegram client can send any
``callback_data``, and in Viber a button sends its action as text, which anyone can type
(``act:…``). So every resident action is checked, in two places:

- ``check`` — the action's shape: a known verb with a valid argument (a language, topic,
  district, digest, ticket kind or form choice we offer; a ticket or poll id that fits a
  database id; stars 1–5). Anything else is malformed or unknown.
- the handlers — the target: a ticket of another resident (or none), a poll the resident was
  not sent, an option the poll does not have. They raise ``ForgedAction``.

``Conversation`` catches ``ForgedAction`` in one place: nothing is changed, the resident gets
one answer for every case (it never tells whether someone else's ticket exists), and one audit
row ``resident.forged_action`` is written with the resident (the actor), the kind of action (its
verb), the target id where the action names one, and why — never the action's text, which in
Viber is whatever the person typed.

A valid action that only came too late (a stale button of a step the resident has left) is not
forged and not audited: no handler takes it, and ``Conversation`` answers that the message is
out of date, with the resident's current screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from handlers import actions as act
from handlers.tickets.forms import FORMS
from handlers.turn import Turn
from messaging.i18n import LANGUAGES
from storage import audit
from storage.deadlines import TicketKind
from storage.ticket_events import Link
from storage.vocabulary import CATEGORY_QUEUES, Channel, Digest, District, Topic

AUDIT_ACTION: Final = "resident.forged_action"

# Reasons recorded in the audit log.
UNKNOWN: Final = "unknown"  # no such action
MALFORMED: Final = "malformed"  # a known action with an argument no button of ours carries
NOT_OWN: Final = "not_own"  # a ticket that is not the resident's (or does not exist)
NOT_RECEIVED: Final = "not_received"  # a poll (an incident update) not sent to the resident
BAD_OPTION: Final = "bad_option"  # a poll option the poll does not have

# Database ids are 64-bit: longer digit strings are not ids (and would overflow a query).
_ID_DIGITS: Final = 18

_EXACT: Final = frozenset(
    {
        act.CONSENT_YES,
        act.CONSENT_NO,
        act.CONSENT_POLICY,
        act.CONSENT_WITHDRAW,
        act.TOPICS_DONE,
        act.MENU_SETTINGS,
        act.MENU_HELP,
        act.MENU_POLICY,
        act.MENU_STOP,
        act.MENU_SUBSCRIBE,
        act.MENU_NEWS,
        act.MENU,
        act.SETTINGS_LANGUAGE,
        act.SETTINGS_TOPICS,
        act.SETTINGS_DISTRICT,
        act.SETTINGS_DIGEST,
        act.SETTINGS_CONSENT,
        act.SETTINGS_BACK,
        act.FILE,
        act.FORM_BACK,
        act.FORM_CANCEL,
        act.FORM_NEXT,
        act.FORM_SUBMIT,
        act.MY_LIST,
        act.FORGET_YES,
        act.MY_DATA,
        act.FORGET_ASK,
        act.LINK,
        act.LINK_UNLINK,
        act.LINK_UNLINK_YES,
        act.CONSULT_LIST,
    }
)

_CHOICES: Final = frozenset(
    choice for steps in FORMS.values() for s in steps for choice in s.choices
)

# Verbs with an argument: the arguments our buttons carry.
_ARGUMENTS: Final = {
    act.LANGUAGE: frozenset(LANGUAGES),
    act.TOPIC_TOGGLE: frozenset(t.value for t in Topic),
    act.DISTRICT: frozenset(d.value for d in District),
    act.DIGEST: frozenset(d.value for d in Digest),
    act.FILE: frozenset(k.value for k in TicketKind),
    act.CHOOSE: _CHOICES,
    act.DRAFT: act.DRAFT_ARGUMENTS,
    act.DRAFT_CATEGORY: frozenset(CATEGORY_QUEUES),
    act.LINK_PREFER: frozenset(c.value for c in Channel),
}


class ForgedAction(Exception):
    """An action the resident may not take: ``kind`` is its verb, ``target`` the id it names."""

    def __init__(self, kind: str, reason: str, target: int | None = None) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.target = target


def is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= _ID_DIGITS


def _target(text: str) -> int | None:
    return int(text) if is_id(text) else None


def _stars(rest: str) -> bool:
    return rest in ("1", "2", "3", "4", "5")


def _round_answer(rest: str) -> bool:
    round_, _, answer = rest.partition(":")
    return is_id(round_) and answer in ("yes", "no")


def _link(rest: str) -> bool:
    return rest in {item.value for item in Link}


# Verbs whose argument is a ticket id, a colon and what the button says about that ticket.
_AFTER_TICKET: dict[str, Callable[[str], bool]] = {
    act.RATE: _stars,
    act.RESOLVED: _round_answer,
    act.REFILE: _link,
}


def check(action: str) -> None:
    """Raise ``ForgedAction`` unless ``action`` has the shape of one of our buttons."""
    if action in _EXACT:
        return
    verb, argument = act.split(action)
    if verb in _ARGUMENTS:
        if argument not in _ARGUMENTS[verb]:
            raise ForgedAction(verb, MALFORMED)
        return
    if verb in (act.MY_OPEN, act.MY_WRITE, act.DRAFT_TO, act.INCIDENT_FOLLOW, act.INCIDENT_FILE):
        if not is_id(argument):
            raise ForgedAction(verb, MALFORMED)
        return
    if verb in _AFTER_TICKET:
        ticket, _, rest = argument.partition(":")
        if not (is_id(ticket) and _AFTER_TICKET[verb](rest)):
            raise ForgedAction(verb, MALFORMED, _target(ticket))
        return
    if verb == act.INCIDENT_SOLVED:
        incident, _, answer = argument.partition(":")
        if not (is_id(incident) and answer in ("yes", "no")):
            raise ForgedAction(verb, MALFORMED, _target(incident))
        return
    if verb == act.POLL_VOTE or verb in act.CONSULT_VERBS:
        # Votes are parsed (and refused the same way) by handlers.polls, consultation actions
        # by handlers.consultations.actions.
        return
    # Not a verb of ours: recorded without any of its text.
    raise ForgedAction(UNKNOWN, UNKNOWN)


# What the target id of an action names, where it is not a ticket.
_NOUNS: Final = {
    act.POLL_VOTE: "poll",
    act.INCIDENT_FOLLOW: "incident",
    act.INCIDENT_FILE: "incident",
    act.INCIDENT_SOLVED: "incident",
    **{verb: "consultation" for verb in act.CONSULT_VERBS - {act.CONSULT_INVITE}},
    act.CONSULT_INVITE: "invitation",
}


def record(turn: Turn, forged: ForgedAction) -> None:
    """The one audit row of a refused action."""
    subject = None
    if forged.target is not None:
        noun = _NOUNS.get(forged.kind, "ticket")
        subject = f"{noun}:{forged.target}"
    audit.record(
        turn.session,
        actor=turn.actor,
        action=AUDIT_ACTION,
        subject=subject,
        now=turn.now,
        details={"kind": forged.kind, "target": forged.target, "reason": forged.reason},
    )
