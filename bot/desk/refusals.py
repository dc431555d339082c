"""The staff core's refusals (and what the desk itself refuses) in the desk's words, with the
HTTP status each is answered with: the chat desk's texts are ``bot.telegram.staff.refusals``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import markupsafe

from handlers.staff.core import Reason, Refused
from messaging import labels
from messaging.i18n import N_

Text = Callable[..., markupsafe.Markup]

REFUSED: Final[Mapping[Reason, str]] = {
    Reason.NOT_STAFF: N_("desk.refused.not_staff"),
    Reason.ROLE: N_("desk.refused.role"),
    Reason.DEPARTMENT: N_("desk.refused.department"),
    Reason.NOT_FOUND: N_("desk.refused.not_found"),
    Reason.STATE: N_("desk.refused.state"),
    Reason.TOO_LATE: N_("desk.refused.too_late"),
    Reason.INVALID: N_("desk.refused.invalid"),
    Reason.NO_RESIDENT: N_("desk.refused.no_resident"),
    Reason.UNSUPPORTED: N_("desk.refused.unsupported"),
    Reason.TWO_PERSON: N_("desk.refused.two_person"),
}

# Details the desk adds (its own checks, and codes the staff texts do not name).
DESK_CODES: Final[Mapping[str, str]] = {
    "empty": N_("desk.error.empty"),
    "too_long": N_("desk.error.too_long"),
    "file_too_large": N_("desk.error.file_too_large"),
    "file_type": N_("desk.error.file_type"),
    "reason_needed": N_("desk.error.reason_needed"),
    "usage": N_("desk.error.usage"),
    "bad_assignee": N_("desk.error.bad_assignee"),
}

STATUS: Final[Mapping[Reason, int]] = {
    Reason.NOT_STAFF: 403,
    Reason.ROLE: 403,
    Reason.DEPARTMENT: 404,
    Reason.NOT_FOUND: 404,
    Reason.STATE: 409,
    Reason.TOO_LATE: 409,
    Reason.TWO_PERSON: 409,
}


def status_of(refused: Refused) -> int:
    return STATUS.get(refused.reason, 422)


def explain(t: Text, refused: Refused) -> markupsafe.Markup:
    """The refusal's reason, then its detail when the core named one."""
    text = t(REFUSED[refused.reason])
    details = refused.details
    detail_key = None
    if "extension" in details:
        detail_key = labels.STAFF_EXTEND_REFUSED.get(str(details["extension"]))
    elif "code" in details:
        code = str(details["code"])
        detail_key = DESK_CODES.get(code) or labels.STAFF_ERROR.get(code)
    if detail_key is not None:
        return markupsafe.Markup(f"{text} {t(detail_key)}")
    return text
