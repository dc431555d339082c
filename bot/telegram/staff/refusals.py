"""The staff core's typed refusals in the operator chat's words: the same catalog keys the chat
used before the core existed."""

from __future__ import annotations

from collections.abc import Callable

from handlers.staff.core import Reason, Refused
from messaging import labels
from messaging.i18n import N_, Markup

Text = Callable[..., Markup]


def denied(t: Text, refused: Refused) -> Markup:
    """The last word of every refusal: another department's ticket, a read-only role, or not
    staff at all."""
    if refused.reason is Reason.DEPARTMENT:
        return t("staff.denied.department")
    if refused.reason is Reason.ROLE:
        return t("staff.denied.read_only")
    return t("staff.denied")


def on_card(t: Text, refused: Refused) -> Markup:
    """A refused card action (a button, or the reason typed for it)."""
    details = refused.details
    if "extension" in details:
        return t(labels.STAFF_EXTEND_REFUSED[str(details["extension"])])
    if "code" in details:
        return t(labels.STAFF_ERROR[str(details["code"])])
    if refused.reason is Reason.NOT_FOUND:
        return t("staff.error.not_found")
    return denied(t, refused)


# Refusals of an answer (or a template answer), by reason.
_ANSWER_KEYS = {
    Reason.INVALID: N_("staff.answer.unsupported"),
    Reason.NO_RESIDENT: N_("staff.answer.no_resident"),
    Reason.UNSUPPORTED: N_("staff.answer.no_media_links"),
}


def on_answer(t: Text, refused: Refused, *, template: str = "") -> Markup:
    if refused.reason is Reason.STATE:
        return t("staff.answer.closed", number=refused.details.get("number", ""))
    if refused.reason is Reason.NOT_FOUND and "name" in refused.details:
        return t("staff.template.not_found", name=template)
    key = _ANSWER_KEYS.get(refused.reason)
    return t(key) if key is not None else denied(t, refused)


def on_template(t: Text, refused: Refused, *, usage: str, name: str) -> Markup:
    """``usage``: the usage text of the command that was refused."""
    if refused.reason is Reason.ROLE:
        return t("staff.template.forbidden")
    if refused.reason is Reason.NOT_FOUND:
        return t("staff.template.not_found", name=name)
    if refused.reason is Reason.INVALID:
        return t(usage)
    return denied(t, refused)


def on_ban(t: Text, refused: Refused) -> Markup:
    if refused.reason is Reason.NO_RESIDENT:
        return t("staff.answer.no_resident")
    code = refused.details.get("code")
    if code == "already_banned":
        return t("staff.ban.already")
    if code == "not_banned":
        return t("staff.unban.not_banned")
    return denied(t, refused)
