"""What every incident operation shares: the parts it works with (``IncidentCore``), the
shapes a desk hands in and gets back, the refusal codes it renders, and the steps most
operations take (lock the incident, audit it).

No messenger SDK here: the web desk and the Telegram operator chat both call these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from handlers.staff.core import WORKERS, Actor, Reason, Refused, StaffCall
from handlers.staff.tickets.context import TicketCore, Within
from messaging.i18n import Catalog
from storage import incidents
from storage.models import Incident
from storage.vocabulary import CATEGORY_QUEUES, District, Role

# Refusal codes (``Refused.details["code"]``) a desk renders (``staff.incident.<code>``).
EMPTY_TITLE = "empty_title"
TOO_LONG = "too_long"
BAD_DISTRICT = "bad_district"
BAD_CATEGORY = "bad_category"
BAD_STATUS = "bad_status"
NOT_OPEN = "incident_not_open"
NO_ANSWER = "no_answer"
NOTHING_CHANGED = "nothing_changed"
ELSEWHERE = "elsewhere"  # the ticket is linked to another incident
NOT_LINKED = "not_linked"
WRONG_KIND = "wrong_kind"
ALREADY_ANSWERED = "already_answered"  # the ticket got the incident's answer before

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
ANSWER_MAX = 3500
# How many ticket ids one bulk call takes (a filtered queue's page, or a spike's tickets).
BULK_MAX = 5000
DISTRICTS = frozenset(d.value for d in District if d is not District.WHOLE_CITY)


Background = Callable[[str, Callable[[], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class IncidentCore:
    """The parts the incident operations use, built once by the composition root.

    ``tickets``: the ticket operations' parts (the staff core, the residents' notices, the
    desks' events); ``wake``: tell the delivery engine a broadcast was planned;
    ``default_language``: the language of residents whose own has no catalog; ``two_person``:
    the council's two-person rule for news."""

    tickets: TicketCore
    catalog: Catalog
    wake: Callable[[], None] = field(default=lambda: None)
    default_language: str = "uk"
    # The news rule: the district news of an update waits for a second editor.
    two_person: bool = False
    # Runs work after the commit in the background, owned and in order per key (the bot's
    # outbox); None: the work runs before the operation returns.
    background: Background | None = None

    @asynccontextmanager
    async def call(
        self, actor: Actor, within: Within | None, *, roles: Collection[Role] = WORKERS
    ) -> AsyncIterator[StaffCall | Refused]:
        async with self.tickets.call(actor, within, roles=roles) as call:
            yield call

    @asynccontextmanager
    async def on_incident(
        self,
        actor: Actor,
        incident_id: int,
        within: Within | None,
        *,
        roles: Collection[Role] = WORKERS,
        open_only: bool = True,
    ) -> AsyncIterator[tuple[StaffCall, Incident] | Refused]:
        """A call on one incident, locked: the call and the incident, or the refusal (not
        staff, wrong role, no such incident, or — ``open_only`` — resolved already)."""
        async with self.call(actor, within, roles=roles) as call:
            if isinstance(call, Refused):
                yield call
                return
            incident = await locked_incident(call, incident_id)
            if isinstance(incident, Incident) and open_only and not incidents.is_open(incident):
                incident = Refused(Reason.STATE, {"code": NOT_OPEN, "incident": incident.id})
            yield incident if isinstance(incident, Refused) else (call, incident)


@dataclass(frozen=True, slots=True)
class Draft:
    """A new incident as staff describe it. ``districts`` empty: the whole city; ``ticket_ids``:
    tickets to link at once (a spike alert's, a filtered queue's)."""

    title: str
    category: str | None = None
    districts: tuple[str, ...] = ()
    description: str = ""
    expected_at: datetime | None = None
    ticket_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Change:
    """A status update: what changes (None: unchanged) and what residents are told. ``text``
    empty: the description (new or current) is what they read. ``notify_district``: also send
    it as urgent news to the subscribers of the incident's districts (editors only)."""

    status: incidents.IncidentStatus | None = None
    description: str | None = None
    expected_at: datetime | None = None
    clear_expected: bool = False
    text: str = ""
    notify_district: bool = False


@dataclass(frozen=True, slots=True)
class Linked:
    """What a bulk link did: ``linked`` ids now linked, ``already`` linked before, and the
    ids that could not be linked with why (``not_found``, ``department``, ``elsewhere``)."""

    linked: tuple[int, ...]
    already: tuple[int, ...] = ()
    skipped: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delivered:
    """A status update stored and queued: its id and how many residents it goes to
    (``news`` the urgent news broadcast, when asked for)."""

    update_id: int
    recipients: int
    news_broadcast_id: int | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """The incident closed: the update sent, and the feedback tickets closed with its answer."""

    delivered: Delivered
    closed_tickets: tuple[int, ...]


def check_category(category: str | None) -> Refused | None:
    if category is None or category in CATEGORY_QUEUES:
        return None
    return Refused(Reason.INVALID, {"code": BAD_CATEGORY})


def check_districts(districts: Collection[str]) -> Refused | None:
    unknown = sorted(set(districts) - DISTRICTS)
    if not unknown:
        return None
    return Refused(Reason.INVALID, {"code": BAD_DISTRICT, "districts": unknown})


async def locked_incident(call: StaffCall, incident_id: int) -> Incident | Refused:
    incident = await incidents.get_incident(call.session, incident_id, lock=True)
    return Refused(Reason.NOT_FOUND) if incident is None else incident


def audit_incident(call: StaffCall, action: str, incident: Incident, **details: object) -> None:
    call.audit(action, subject=f"incident:{incident.id}", **details)
