"""The staff core's consultation and organisation operations (issue 18), for every desk.

- ``create`` → a draft consultation; ``revise`` it while it is a draft; ``publish`` →
  announced to residents of its topic and districts and to interested organisations'
  representatives (delivery engine);
  ``decide`` on a comment; ``close`` → the report (PDF + CSV) stored and the outcome sent to
  every participant with the report's link; ``card``, ``listing``, ``export`` read.
- ``register`` / ``edit`` an organisation, ``issue_code`` for its representative, ``invite``
  organisations to a consultation or a meeting, ``responses`` and ``registry`` read.

Roles: changes are for editors and administrators; every role reads (``export``: editors, as
its CSV names the participants).
"""

from handlers.staff.consultations.context import ConsultationCore, Draft, OrganisationDraft
from handlers.staff.consultations.lifecycle import (
    Closed,
    ConsultationCard,
    Export,
    Published,
    card,
    close,
    create,
    decide,
    export,
    listing,
    publish,
    revise,
)
from handlers.staff.consultations.registry import (
    Code,
    Invite,
    Invited,
    edit,
    invite,
    issue_code,
    register,
    registry,
    responses,
)

__all__ = [
    "Closed",
    "Code",
    "ConsultationCard",
    "ConsultationCore",
    "Draft",
    "Export",
    "Invite",
    "Invited",
    "OrganisationDraft",
    "Published",
    "card",
    "close",
    "create",
    "decide",
    "edit",
    "export",
    "invite",
    "issue_code",
    "listing",
    "publish",
    "register",
    "registry",
    "responses",
    "revise",
]
