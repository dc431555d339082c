"""The questions each kind of ticket asks, and how answers are checked.

Declarative on purpose: a step is data (what to ask, how to check it, when to skip it), so the
four flows share one engine and the law's required fields are visible in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from storage.deadlines import TicketKind
from storage.vocabulary import CATEGORY_QUEUES, AppealType

MAX_ATTACHMENTS = 10
BODY_MAX = 4000
# A follow-up to a ticket (ticket_messages.text) and the comment to a rating (tickets.
# rating_comment, longer ones are cut). Every limit here must fit its column: checked against
# the schema by tests/test_input_limits.py.
FOLLOWUP_MAX = BODY_MAX
RATING_COMMENT_MAX = 2000
# tickets.contact holds 256: an e-mail (at most 254), a phone, or a postal address to answer to.
CONTACT_MAX = 254
REPLY_ADDRESS_MAX = 256


class Input(StrEnum):
    CHOICE = "choice"  # one of ``choices`` by button (or its label typed)
    TEXT = "text"
    NAME = "name"  # a full name: two or more words of letters
    CONTACT = "contact"  # e-mail or phone
    REPLY_ADDRESS = "reply_address"  # e-mail, phone or postal address (Law 2939-VI art. 19)
    ATTACHMENTS = "attachments"  # optional photos, documents, location; "Next" moves on


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    input: Input
    min_length: int = 1
    max_length: int = 256
    choices: tuple[str, ...] = ()
    # Asked only when this returns True for the answers so far.
    when: Callable[[Mapping[str, Any]], bool] | None = None
    # Requires consent to personal-data processing (the resident's own details).
    personal: bool = False


LEGAL_TOPICS = ("housing", "family", "labour", "social", "property", "consumer", "other")
CATEGORIES = tuple(CATEGORY_QUEUES)
YES_NO = ("yes", "no")

FORMS: dict[TicketKind, tuple[Step, ...]] = {
    TicketKind.FEEDBACK: (
        Step("category", Input.CHOICE, choices=CATEGORIES),
        Step("body", Input.TEXT, min_length=3, max_length=BODY_MAX),
        Step("attachments", Input.ATTACHMENTS),
        # Anonymous feedback is fine (it is not an official appeal, Law 393/96 art. 8).
        Step("anonymous", Input.CHOICE, choices=YES_NO, personal=True),
    ),
    # Law 393/96-ВР art. 5: full name, place of residence, substance; e-mail/contact for an
    # electronic appeal.
    TicketKind.APPEAL: (
        Step("appeal_type", Input.CHOICE, choices=tuple(t.value for t in AppealType)),
        Step("category", Input.CHOICE, choices=CATEGORIES),
        Step("full_name", Input.NAME, min_length=5, max_length=256, personal=True),
        Step("address", Input.TEXT, min_length=5, max_length=500, personal=True),
        Step("body", Input.TEXT, min_length=10, max_length=BODY_MAX),
        Step("attachments", Input.ATTACHMENTS),
        Step("contact", Input.CONTACT, max_length=CONTACT_MAX, personal=True),
    ),
    # Law 2939-VI art. 19(5): name; postal or e-mail address or phone; description.
    TicketKind.INFO_REQUEST: (
        Step("full_name", Input.NAME, min_length=5, max_length=256, personal=True),
        Step("contact", Input.REPLY_ADDRESS, max_length=REPLY_ADDRESS_MAX, personal=True),
        Step("body", Input.TEXT, min_length=5, max_length=BODY_MAX),
        Step("urgent", Input.CHOICE, choices=YES_NO),
        # Art. 20(2): 48 hours only with a stated reason.
        Step(
            "urgent_reason",
            Input.TEXT,
            min_length=10,
            max_length=1000,
            when=lambda answers: answers.get("urgent") == "yes",
        ),
    ),
    TicketKind.LEGAL_AID: (
        Step("legal_topic", Input.CHOICE, choices=LEGAL_TOPICS),
        Step("body", Input.TEXT, min_length=10, max_length=BODY_MAX),
        Step("attachments", Input.ATTACHMENTS),
        Step("contact", Input.CONTACT, max_length=CONTACT_MAX, personal=True),
    ),
}

# Kinds that carry personal data by their nature: they need consent before the flow starts.
NEEDS_CONSENT = frozenset({TicketKind.APPEAL, TicketKind.INFO_REQUEST, TicketKind.LEGAL_AID})

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]{2,}$")
_PHONE_CHARS = re.compile(r"[\s\-().]")
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['’ʼ`\-][^\W\d_]+)*\.?$")


def normalize_phone(text: str) -> str | None:
    """``+38 (067) 123-45-67`` -> ``+380671234567``; None if it is not a phone number."""
    compact = _PHONE_CHARS.sub("", text.strip())
    digits = compact[1:] if compact.startswith("+") else compact
    if not digits.isdigit() or not 10 <= len(digits) <= 15:
        return None
    if not compact.startswith("+") and len(digits) == 10 and digits.startswith("0"):
        # A Ukrainian number written nationally.
        return "+38" + digits
    return "+" + digits if compact.startswith("+") or len(digits) > 10 else digits


def is_email(text: str) -> bool:
    return len(text) <= 254 and _EMAIL.match(text.strip()) is not None


class Invalid(Exception):
    """An answer that does not fit; ``key`` names the catalog text that explains why."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def check_text(step: Step, raw: str) -> str:
    """The cleaned answer to a text-like step, or Invalid."""
    text = raw.strip()
    if not text:
        raise Invalid("form.error.empty")
    if len(text) > step.max_length:
        # A postal address that does not fit is rare: say how to write it shorter, or what
        # else to give.
        key = (
            "form.error.reply_address_too_long"
            if step.input is Input.REPLY_ADDRESS
            else "form.error.too_long"
        )
        raise Invalid(key, count=len(text), limit=step.max_length)
    if step.input is Input.NAME:
        _check_name(text)
    elif step.input is Input.CONTACT:
        return _contact(text)
    elif step.input is Input.REPLY_ADDRESS:
        return _reply_address(text)
    if len(text) < step.min_length:
        raise Invalid("form.error.too_short", count=step.min_length)
    return text


def _check_name(text: str) -> None:
    words = text.split()
    if len(words) < 2 or not all(_NAME_WORD.match(word) for word in words):
        raise Invalid("form.error.name")


def _contact(text: str) -> str:
    """An e-mail address as given, or a phone number in one form."""
    if is_email(text):
        return text
    phone = normalize_phone(text)
    if phone is None:
        raise Invalid("form.error.contact")
    return phone


def _reply_address(text: str) -> str:
    """Where the answer goes: an e-mail address, a phone number or a postal address."""
    if is_email(text):
        return text
    phone = normalize_phone(text)
    if phone is not None:
        return phone
    # Otherwise a postal address: long enough to have a street and a house number.
    if len(text) < 10 or not any(ch.isdigit() for ch in text):
        raise Invalid("form.error.reply_address")
    return text


def applicable_steps(kind: TicketKind, answers: Mapping[str, Any], *, consent: bool) -> list[Step]:
    """The steps this resident is asked, in order (conditions and consent applied)."""
    steps = []
    for step in FORMS[kind]:
        if step.when is not None and not step.when(answers):
            continue
        if step.personal and not consent and kind is TicketKind.FEEDBACK:
            # Without consent, feedback can only be anonymous: the question is skipped.
            continue
        steps.append(step)
    return steps
