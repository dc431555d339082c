"""What every consultation and organisation operation shares: the parts it works with
(``ConsultationCore``), the shapes a desk hands in, the refusal codes it renders
(``staff.consult.<code>``), the bounds of what staff type, and the checks of them.

No messenger SDK here: every desk calls these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from handlers.staff.core import EDITORS, Actor, Reason, Refused, StaffCall, StaffCore
from handlers.staff.tickets.context import Within
from messaging.i18n import Catalog
from storage.consultations import QuestionDraft
from storage.organisations import OrganisationKind
from storage.vocabulary import District, Role, Topic

# Refusal codes (``Refused.details["code"]``).
EMPTY: Final = "empty"  # a title, summary, name or question left empty
TOO_LONG: Final = "too_long"
BAD_TOPIC: Final = "bad_topic"
BAD_DISTRICT: Final = "bad_district"
BAD_KIND: Final = "bad_kind"
BAD_DATES: Final = "bad_dates"  # closes before it opens, or already past
BAD_LINK: Final = "bad_link"  # a document link that is not http(s)
NO_QUESTIONS: Final = "no_questions"
BAD_OPTIONS: Final = "bad_options"  # a choice question with one option, or too many
BAD_DECISION: Final = "bad_decision"
NO_REASON: Final = "no_reason"  # rejected (or partly) without a reason
NOT_DRAFT: Final = "not_draft"
NOT_OPEN: Final = "not_open"
NOT_CLOSED: Final = "not_closed"
NO_COMMENT: Final = "no_comment"  # a decision on a submission without a comment
NO_TARGET: Final = "no_target"  # an invitation to neither a consultation nor a meeting

TITLE_MAX: Final = 200
SUMMARY_MAX: Final = 3000
QUESTION_MAX: Final = 500
OPTION_MAX: Final = 60
OPTIONS_MAX: Final = 8
QUESTIONS_MAX: Final = 10
LINK_MAX: Final = 1000
NAME_MAX: Final = 200
REASON_MAX: Final = 2000
OUTCOME_MAX: Final = 2000
MEETING_MAX: Final = 500

TOPICS: Final = frozenset(topic.value for topic in Topic)
DISTRICTS: Final = frozenset(d.value for d in District if d is not District.WHOLE_CITY)
KINDS: Final = frozenset(kind.value for kind in OrganisationKind)


@dataclass(frozen=True, slots=True)
class ConsultationCore:
    """The parts the consultation operations use, built once by the composition root.

    ``wake``: tell the delivery engine something was planned; ``public_url``: where the bot is
    reached from outside (the report's link; None: the outcome message names no link);
    ``default_language``: the language of residents whose own has no catalog, and of the
    report."""

    core: StaffCore
    catalog: Catalog
    zone: ZoneInfo
    wake: Callable[[], None] = field(default=lambda: None)
    default_language: str = "uk"
    public_url: str | None = None

    @asynccontextmanager
    async def call(
        self, actor: Actor, within: Within | None = None, *, roles: Collection[Role] = EDITORS
    ) -> AsyncIterator[StaffCall | Refused]:
        """``StaffCore.call``, joining the desk's transaction when it opened one (the chat
        desk claims its update in it)."""
        session = within.session if within is not None else None
        after = within.after if within is not None else None
        async with self.core.call(actor, roles=roles, session=session, after=after) as call:
            yield call

    def report_link(self, token: str) -> str | None:
        if not self.public_url:
            return None
        return f"{self.public_url.rstrip('/')}/consultations/report/{token}.pdf"


@dataclass(frozen=True, slots=True)
class Draft:
    """A new consultation as staff describe it. ``districts`` empty: the whole city."""

    title: str
    summary: str
    topic: str
    opens_at: datetime
    closes_at: datetime
    questions: tuple[QuestionDraft, ...]
    districts: tuple[str, ...] = ()
    document_url: str | None = None
    document_ref: str | None = None
    document_name: str | None = None


@dataclass(frozen=True, slots=True)
class OrganisationDraft:
    name: str
    kind: str
    contact_person: str | None = None
    contact: str | None = None
    topics: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()


def invalid(code: str, **details: object) -> Refused:
    return Refused(Reason.INVALID, {"code": code, **details})


def check_text(text: str, limit: int, *, required: bool = True) -> Refused | None:
    if required and not text.strip():
        return invalid(EMPTY)
    if len(text) > limit:
        return invalid(TOO_LONG, limit=limit)
    return None


def check_places(topics: Collection[str], districts: Collection[str]) -> Refused | None:
    if not set(topics) <= TOPICS:
        return invalid(BAD_TOPIC)
    unknown = sorted(set(districts) - DISTRICTS)
    if unknown:
        return invalid(BAD_DISTRICT, districts=unknown)
    return None


def check_questions(questions: Collection[QuestionDraft]) -> Refused | None:
    if not questions:
        return invalid(NO_QUESTIONS)
    if len(questions) > QUESTIONS_MAX:
        return invalid(TOO_LONG, limit=QUESTIONS_MAX)
    for question in questions:
        bad = check_text(question.text, QUESTION_MAX)
        if bad is not None:
            return bad
        options = question.options
        if len(options) == 1 or len(options) > OPTIONS_MAX:
            return invalid(BAD_OPTIONS)
        if any(not option.strip() or len(option) > OPTION_MAX for option in options):
            return invalid(BAD_OPTIONS)
    return None


def check_link(url: str | None) -> Refused | None:
    if url is None:
        return None
    if len(url) > LINK_MAX:
        return invalid(TOO_LONG, limit=LINK_MAX)
    if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        return invalid(BAD_LINK)
    return None


def check_draft(draft: Draft, now: datetime) -> Refused | None:
    return (
        check_text(draft.title, TITLE_MAX)
        or check_text(draft.summary, SUMMARY_MAX)
        or check_places((draft.topic,), draft.districts)
        or check_link(draft.document_url)
        or check_questions(draft.questions)
        or (
            invalid(BAD_DATES)
            if draft.closes_at <= draft.opens_at or draft.closes_at <= now
            else None
        )
    )


def check_organisation(draft: OrganisationDraft) -> Refused | None:
    if draft.kind not in KINDS:
        return invalid(BAD_KIND)
    return (
        check_text(draft.name, NAME_MAX)
        or check_text(draft.contact_person or "", NAME_MAX, required=False)
        or check_text(draft.contact or "", NAME_MAX, required=False)
        or check_places(draft.topics, draft.districts)
    )
