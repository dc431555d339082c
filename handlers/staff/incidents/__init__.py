"""The staff core's incident operations (issue 17), for every desk.

Each operation takes the ``IncidentCore`` (built once by the composition root), the acting
staff member (``Actor``), its arguments, and optionally the desk's open transaction
(``Within``); it checks the role in one place (``StaffCore.call``), writes the audit record and
returns ``Done`` with a value or a typed ``Refused`` (``Refused.details["code"]``: the codes in
``context``) that a desk renders in its own words.

- ``open_incident(core, actor, Draft(...))`` → ``Opened`` — title, category, districts (none:
  the whole city), description, expected time, and ``ticket_ids`` to link at once (a spike
  alert's: ``broadcasts.spikes.Spike.draft``).
- ``update(core, actor, id, Change(...))`` → ``Delivered`` — status investigating ↔ working,
  description, expected time; the update reaches every follower and linked resident once
  through the delivery engine; ``notify_district`` also sends it as urgent news (editors).
- ``link`` / ``unlink`` one ticket, ``link_many`` a list of ids → ``Linked``;
  ``suggestions`` → the unlinked open tickets the matcher says are about it.
- ``resolve(core, actor, id, answer)`` → ``Resolved`` — closes the linked feedback tickets
  with the answer recorded on each, sends the final update with "resolved for you?".
- ``send_legal_answers(core, actor, id, ticket_ids)`` → ``LegalAnswers`` — the answer as the
  legal answer of linked appeals and information requests, ticket by ticket, once each.
- ``card`` and ``listing`` read (every role).

Roles: every operation that changes something is for administrators, editors and operators
(the head of department reads); the district news flag needs an editor or an administrator.
"""

from handlers.staff.incidents.answers import LegalAnswers, send_legal_answers
from handlers.staff.incidents.context import (
    Change,
    Delivered,
    Draft,
    IncidentCore,
    Linked,
    Resolved,
)
from handlers.staff.incidents.lifecycle import (
    IncidentCard,
    Opened,
    card,
    listing,
    open_incident,
    resolve,
    update,
)
from handlers.staff.incidents.links import Suggestion, link, link_many, suggestions, unlink

__all__ = [
    "Change",
    "Delivered",
    "Draft",
    "IncidentCard",
    "IncidentCore",
    "LegalAnswers",
    "Linked",
    "Opened",
    "Resolved",
    "Suggestion",
    "card",
    "link",
    "link_many",
    "listing",
    "open_incident",
    "resolve",
    "send_legal_answers",
    "suggestions",
    "unlink",
    "update",
]
