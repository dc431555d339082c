"""A consultation's life, for every desk: create it (a draft), publish it (announced through
the delivery engine to the residents of its topic and districts and to the representatives of
interested organisations), record the staff decision on each comment, close it (the report is
made and stored, and every participant is told the outcome with a link to it); and read it.

Creating, publishing, deciding and closing are for editors and administrators; every role
reads. Each operation writes one audit record in its transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from handlers.consultations.texts import ConsultationTexts
from handlers.staff.consultations.context import (
    BAD_DECISION,
    NO_COMMENT,
    NO_REASON,
    NOT_DRAFT,
    NOT_OPEN,
    OUTCOME_MAX,
    REASON_MAX,
    ConsultationCore,
    Draft,
    check_draft,
    check_text,
    invalid,
)
from handlers.staff.consultations.report import build_report
from handlers.staff.core import EVERY_ROLE, Actor, Done, Outcome, Reason, Refused, StaffCall
from handlers.staff.tickets.context import Within
from messaging.i18n import LANGUAGES
from storage import consultations
from storage.consultations import ConsultationStatus, Decision
from storage.models import (
    Consultation,
    ConsultationQuestion,
    ConsultationReport,
    ConsultationSubmission,
)


@dataclass(frozen=True, slots=True)
class Published:
    consultation: Consultation
    recipients: int


@dataclass(frozen=True, slots=True)
class Closed:
    consultation: Consultation
    report_token: str
    link: str | None
    recipients: int


@dataclass(frozen=True, slots=True)
class ConsultationCard:
    consultation: Consultation
    questions: Sequence[ConsultationQuestion]
    submissions: Sequence[ConsultationSubmission]


def _audit(call: StaffCall, action: str, consultation_id: int, **details: object) -> None:
    call.audit(action, subject=f"consultation:{consultation_id}", **details)


async def _wake(core: ConsultationCore) -> None:
    core.wake()


@asynccontextmanager
async def _in_state(
    core: ConsultationCore,
    actor: Actor,
    consultation_id: int,
    within: Within | None,
    status: ConsultationStatus,
    code: str,
) -> AsyncIterator[tuple[StaffCall, Consultation] | Refused]:
    """A call on one consultation, locked, in ``status``: the call and the row, or the refusal
    (not staff, wrong role, no such consultation, another state: ``code``)."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            yield call
            return
        found = await consultations.get(call.session, consultation_id, lock=True)
        if found is None:
            yield Refused(Reason.NOT_FOUND)
        elif found.status != status.value:
            yield Refused(Reason.STATE, {"code": code})
        else:
            yield call, found


async def create(
    core: ConsultationCore, actor: Actor, draft: Draft, *, within: Within | None = None
) -> Outcome[Consultation]:
    """A new consultation, as a draft: nothing is sent until it is published."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        bad = check_draft(draft, call.now)
        if bad is not None:
            return bad
        consultation = consultations.new_draft(call.session, created_by=call.staff.id, now=call.now)
        _write(consultation, draft)
        await call.session.flush()
        await consultations.add_questions(call.session, consultation.id, draft.questions)
        _audit_draft(call, "consultation.create", consultation, draft)
        return Done(consultation)


def _write(consultation: Consultation, draft: Draft) -> None:
    """The draft's fields on the row, as ``create`` and ``revise`` both store them."""
    consultation.title = draft.title.strip()
    consultation.summary = draft.summary.strip()
    consultation.topic = draft.topic
    consultation.districts = sorted(set(draft.districts))
    consultation.opens_at = draft.opens_at
    consultation.closes_at = draft.closes_at
    consultation.document_url = draft.document_url
    consultation.document_ref = draft.document_ref
    consultation.document_name = draft.document_name


def _audit_draft(call: StaffCall, action: str, consultation: Consultation, draft: Draft) -> None:
    _audit(
        call,
        action,
        consultation.id,
        topic=draft.topic,
        districts=list(consultation.districts),
        questions=len(draft.questions),
    )


async def revise(
    core: ConsultationCore,
    actor: Actor,
    consultation_id: int,
    draft: Draft,
    *,
    within: Within | None = None,
) -> Outcome[Consultation]:
    """Rewrite a draft (every field and the questions, as ``create`` checks them); once it is
    published residents have seen it and may have answered, so only a draft changes."""
    state = ConsultationStatus.DRAFT
    async with _in_state(core, actor, consultation_id, within, state, NOT_DRAFT) as found:
        if isinstance(found, Refused):
            return found
        call, consultation = found
        bad = check_draft(draft, call.now)
        if bad is not None:
            return bad
        _write(consultation, draft)
        await consultations.replace_questions(call.session, consultation.id, draft.questions)
        _audit_draft(call, "consultation.revise", consultation, draft)
        return Done(consultation)


async def publish(
    core: ConsultationCore, actor: Actor, consultation_id: int, *, within: Within | None = None
) -> Outcome[Published]:
    """Open a draft and announce it once to everyone it concerns, each in their language."""
    draft = ConsultationStatus.DRAFT
    async with _in_state(core, actor, consultation_id, within, draft, NOT_DRAFT) as found:
        if isinstance(found, Refused):
            return found
        call, consultation = found
        if consultation.closes_at <= call.now:
            return invalid("bad_dates")
        consultation.status = ConsultationStatus.OPEN.value
        consultation.published_at = call.now
        texts = ConsultationTexts(core.catalog, core.zone)
        planned = await consultations.plan_by_language(
            call.session,
            kind=consultations.KIND_ANNOUNCE,
            ref=str(consultation.id),
            title=consultation.title,
            texts={lang: str(texts.announce(lang, consultation)) for lang in LANGUAGES},
            buttons={lang: texts.announce_buttons(lang, consultation) for lang in LANGUAGES},
            audience=await consultations.announcement_audience(call.session, consultation),
            default_language=core.default_language,
            created_by=call.staff.id,
            now=call.now,
        )
        _audit(call, "consultation.publish", consultation.id, recipients=planned.recipients)
        call.later(_wake, core)
        return Done(Published(consultation, planned.recipients))


async def decide(
    core: ConsultationCore,
    actor: Actor,
    submission_id: int,
    decision: str,
    reason: str = "",
    *,
    within: Within | None = None,
) -> Outcome[ConsultationSubmission]:
    """The staff decision on one comment: taken into account, partly, or rejected; a partial
    or a rejection needs its reason (the report shows it). Allowed until the report is made
    and after it (a correction is audited like the first decision)."""
    if decision not in {d.value for d in Decision}:
        return invalid(BAD_DECISION)
    reason = reason.strip()
    if decision != Decision.ACCEPTED.value and not reason:
        return invalid(NO_REASON)
    bad = check_text(reason, REASON_MAX, required=False)
    if bad is not None:
        return bad
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        submission = await consultations.get_submission(call.session, submission_id)
        if submission is None:
            return Refused(Reason.NOT_FOUND)
        if not submission.comment:
            return Refused(Reason.STATE, {"code": NO_COMMENT})
        submission.decision = decision
        submission.decision_reason = reason or None
        submission.decided_by = call.staff.id
        submission.decided_at = call.now
        await _refresh_report(call, core, submission.consultation_id)
        _audit(
            call,
            "consultation.decide",
            submission.consultation_id,
            submission=submission.id,
            decision=decision,
        )
        return Done(submission)


async def _refresh_report(call: StaffCall, core: ConsultationCore, consultation_id: int) -> None:
    """A decision after the close: the stored report (what the link shows) is made again, so
    it never shows a comment without the decision staff recorded since."""
    stored = await consultations.report_of(call.session, consultation_id)
    consultation = await consultations.get(call.session, consultation_id)
    if stored is None or consultation is None:
        return
    await call.session.flush()
    report = await build_report(call.session, core, consultation)
    stored.pdf, stored.csv = report.pdf, report.csv


async def close(
    core: ConsultationCore,
    actor: Actor,
    consultation_id: int,
    outcome: str,
    *,
    within: Within | None = None,
) -> Outcome[Closed]:
    """Close an open consultation (at or before its closing time): make and store the report,
    and tell every participant ``outcome`` with the report's link."""
    outcome = outcome.strip()
    bad = check_text(outcome, OUTCOME_MAX)
    if bad is not None:
        return bad
    opened = ConsultationStatus.OPEN
    async with _in_state(core, actor, consultation_id, within, opened, NOT_OPEN) as found:
        if isinstance(found, Refused):
            return found
        call, consultation = found
        consultation.status = ConsultationStatus.CLOSED.value
        consultation.closed_at = call.now
        consultation.outcome = outcome
        await call.session.flush()
        report = await build_report(call.session, core, consultation)
        token = secrets.token_urlsafe(24)
        call.session.add(
            ConsultationReport(
                consultation_id=consultation.id,
                token=token,
                pdf=report.pdf,
                csv=report.csv,
                created_at=call.now,
            )
        )
        link = core.report_link(token)
        texts = ConsultationTexts(core.catalog, core.zone)
        planned = await consultations.plan_by_language(
            call.session,
            kind=consultations.KIND_OUTCOME,
            ref=str(consultation.id),
            title=consultation.title,
            texts={
                lang: str(texts.outcome(lang, consultation, outcome, link)) for lang in LANGUAGES
            },
            buttons=None,
            audience=consultations.participants_audience(consultation.id),
            default_language=core.default_language,
            created_by=call.staff.id,
            now=call.now,
        )
        _audit(
            call,
            "consultation.close",
            consultation.id,
            participants=report.participants,
            recipients=planned.recipients,
        )
        call.later(_wake, core)
        return Done(Closed(consultation, token, link, planned.recipients))


async def card(
    core: ConsultationCore, actor: Actor, consultation_id: int, *, within: Within | None = None
) -> Outcome[ConsultationCard]:
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        consultation = await consultations.get(call.session, consultation_id)
        if consultation is None:
            return Refused(Reason.NOT_FOUND)
        return Done(
            ConsultationCard(
                consultation,
                await consultations.questions_of(call.session, consultation.id),
                await consultations.submissions(call.session, consultation_id=consultation.id),
            )
        )


async def listing(
    core: ConsultationCore, actor: Actor, *, within: Within | None = None
) -> Outcome[Sequence[Consultation]]:
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        return Done(await consultations.listing(call.session))


@dataclass(frozen=True, slots=True)
class Export:
    csv: str
    pdf: bytes


async def export(
    core: ConsultationCore, actor: Actor, consultation_id: int, *, within: Within | None = None
) -> Outcome[Export]:
    """The report of a consultation (editors: its CSV names who wrote what). A closed one's
    is the stored report; an open one's is made now (the figures so far)."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        consultation = await consultations.get(call.session, consultation_id)
        if consultation is None:
            return Refused(Reason.NOT_FOUND)
        stored = await consultations.report_of(call.session, consultation.id)
        if stored is not None:
            found = Export(stored.csv, stored.pdf)
        else:
            made = await build_report(call.session, core, consultation)
            found = Export(made.csv, made.pdf)
        _audit(call, "consultation.export", consultation.id)
        return Done(found)
