"""Public consultations repository (issue 18): consultations and their questions, submissions
with their answers, the staff decisions on comments, the erasure of a resident's words, the
figures of the report, and the planning of what is sent (the announcement, the outcome).

Keyword-only functions over an ``AsyncSession``; the caller commits. A submission is one row
per (consultation, resident, on behalf of whom): saving again replaces its answers, so a
redelivered press or a second submit is an edit, never a second voice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from storage import planning
from storage.models import (
    Consultation,
    ConsultationAnswer,
    ConsultationQuestion,
    ConsultationReport,
    ConsultationSubmission,
    Organisation,
    Resident,
    ResidentTopic,
)
from storage.planning import ButtonsJson, Planned
from storage.vocabulary import District

SOURCE: Final = "consultation"
# Broadcast kinds of what consultations send (``broadcasts.kind``).
KIND_ANNOUNCE: Final = "consultation"
KIND_OUTCOME: Final = "consult_outcome"
KIND_INVITE: Final = "org_invite"


class ConsultationStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Decision(StrEnum):
    """What staff did with a comment."""

    ACCEPTED = "accepted"  # taken into account
    PARTLY = "partly"
    REJECTED = "rejected"  # with the reason


@dataclass(frozen=True, slots=True)
class QuestionDraft:
    """A question as staff write it: no options means free text."""

    text: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AnswerValue:
    choice: int | None = None
    text: str | None = None


def new_draft(session: AsyncSession, *, created_by: int | None, now: datetime) -> Consultation:
    """An empty draft, added to ``session``: its fields are written by the caller before the
    flush (the staff core's ``create`` and ``revise`` write them the same way)."""
    consultation = Consultation(
        status=ConsultationStatus.DRAFT.value, created_by=created_by, created_at=now
    )
    session.add(consultation)
    return consultation


async def add_questions(
    session: AsyncSession, consultation_id: int, questions: Sequence[QuestionDraft]
) -> None:
    for position, question in enumerate(questions):
        session.add(
            ConsultationQuestion(
                consultation_id=consultation_id,
                position=position,
                text=question.text,
                options=list(question.options),
            )
        )
    await session.flush()


async def replace_questions(
    session: AsyncSession, consultation_id: int, questions: Sequence[QuestionDraft]
) -> None:
    """A draft's questions as staff now wrote them (a draft has no answers yet to keep)."""
    await session.execute(
        delete(ConsultationQuestion).where(ConsultationQuestion.consultation_id == consultation_id)
    )
    await session.flush()
    await add_questions(session, consultation_id, questions)


async def get(
    session: AsyncSession, consultation_id: int, *, lock: bool = False
) -> Consultation | None:
    query = select(Consultation).where(Consultation.id == consultation_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def questions_of(session: AsyncSession, consultation_id: int) -> list[ConsultationQuestion]:
    query = (
        select(ConsultationQuestion)
        .where(ConsultationQuestion.consultation_id == consultation_id)
        .order_by(ConsultationQuestion.position)
    )
    return list((await session.scalars(query)).all())


def accepting(consultation: Consultation, now: datetime) -> bool:
    """Whether submissions are taken now: published, opened, not past its closing time."""
    return (
        consultation.status == ConsultationStatus.OPEN.value
        and consultation.opens_at <= now < consultation.closes_at
    )


async def listing(
    session: AsyncSession, *, statuses: Sequence[str] | None = None, limit: int = 50
) -> list[Consultation]:
    query = select(Consultation).order_by(Consultation.id.desc()).limit(limit)
    if statuses is not None:
        query = query.where(Consultation.status.in_(statuses))
    return list((await session.scalars(query)).all())


async def open_now(session: AsyncSession, *, now: datetime, limit: int = 10) -> list[Consultation]:
    """The consultations residents may take part in now, the soonest to close first."""
    query = (
        select(Consultation)
        .where(
            Consultation.status == ConsultationStatus.OPEN.value,
            Consultation.opens_at <= now,
            Consultation.closes_at > now,
        )
        .order_by(Consultation.closes_at, Consultation.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def claim_due(session: AsyncSession, *, now: datetime) -> list[Consultation]:
    """Open consultations whose closing time has come and whose staff were not told yet,
    marked as told: each is claimed by one conditional UPDATE, so two processes (or a rerun)
    tell staff once."""
    due = await session.scalars(
        select(Consultation).where(
            Consultation.status == ConsultationStatus.OPEN.value,
            Consultation.closes_at <= now,
            Consultation.reminded_at.is_(None),
        )
    )
    claimed = []
    for consultation in due.all():
        result = await session.execute(
            update(Consultation)
            .where(Consultation.id == consultation.id, Consultation.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            claimed.append(consultation)
    return claimed


# -- submissions ------------------------------------------------------------------------------


async def submission_of(
    session: AsyncSession, *, consultation_id: int, resident_id: int, on_behalf: int = 0
) -> ConsultationSubmission | None:
    query = select(ConsultationSubmission).where(
        ConsultationSubmission.consultation_id == consultation_id,
        ConsultationSubmission.resident_id == resident_id,
        ConsultationSubmission.on_behalf == on_behalf,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def answers_of(session: AsyncSession, submission_id: int) -> dict[int, AnswerValue]:
    rows = await session.scalars(
        select(ConsultationAnswer).where(ConsultationAnswer.submission_id == submission_id)
    )
    return {row.question_id: AnswerValue(row.choice, row.text) for row in rows}


async def all_answers(
    session: AsyncSession, *, consultation_id: int
) -> dict[int, dict[int, AnswerValue]]:
    """Every submission's answers, by submission id: one query for the whole report."""
    rows = await session.execute(
        select(ConsultationAnswer)
        .join(
            ConsultationSubmission,
            ConsultationSubmission.id == ConsultationAnswer.submission_id,
        )
        .where(ConsultationSubmission.consultation_id == consultation_id)
    )
    found: dict[int, dict[int, AnswerValue]] = {}
    for (row,) in rows.all():
        found.setdefault(row.submission_id, {})[row.question_id] = AnswerValue(row.choice, row.text)
    return found


@dataclass(frozen=True, slots=True)
class Saved:
    submission: ConsultationSubmission
    created: bool


@dataclass(frozen=True, slots=True)
class Words:
    """What a participant wrote besides their answers."""

    name: str
    comment: str | None = None
    file_kind: str | None = None
    file_ref: str | None = None
    file_name: str | None = None


async def save_submission(
    session: AsyncSession,
    *,
    consultation: Consultation,
    resident: Resident,
    channel: str,
    organisation_id: int | None,
    words: Words,
    answers: Mapping[int, AnswerValue],
    now: datetime,
) -> Saved:
    """Create or replace the submission of ``resident`` (for ``organisation_id``, or for
    themselves) with these answers. The caller has checked that the consultation accepts
    submissions and that the answers fit its questions."""
    on_behalf = organisation_id or 0
    found = await submission_of(
        session, consultation_id=consultation.id, resident_id=resident.id, on_behalf=on_behalf
    )
    created = found is None
    submission = found or ConsultationSubmission(
        consultation_id=consultation.id,
        resident_id=resident.id,
        on_behalf=on_behalf,
        organisation_id=organisation_id,
        submitted_at=now,
    )
    if not created and submission.comment != words.comment:
        # A decision was on the comment as it was: the new one awaits its own.
        submission.decision = submission.decision_reason = None
        submission.decided_by = submission.decided_at = None
    submission.name = words.name
    submission.comment = words.comment
    submission.file_kind, submission.file_ref = words.file_kind, words.file_ref
    submission.file_name = words.file_name
    submission.district = resident.district
    submission.channel = channel
    submission.consent_at = now
    submission.updated_at = now
    if created:
        session.add(submission)
    await session.flush()
    await session.execute(
        delete(ConsultationAnswer).where(ConsultationAnswer.submission_id == submission.id)
    )
    for question_id, value in answers.items():
        session.add(
            ConsultationAnswer(
                submission_id=submission.id,
                question_id=question_id,
                choice=value.choice,
                text=value.text,
            )
        )
    await session.flush()
    return Saved(submission, created)


async def submissions(
    session: AsyncSession, *, consultation_id: int
) -> list[ConsultationSubmission]:
    query = (
        select(ConsultationSubmission)
        .where(ConsultationSubmission.consultation_id == consultation_id)
        .order_by(ConsultationSubmission.submitted_at, ConsultationSubmission.id)
    )
    return list((await session.scalars(query)).all())


async def get_submission(
    session: AsyncSession, submission_id: int
) -> ConsultationSubmission | None:
    return await session.get(ConsultationSubmission, submission_id)


@dataclass(frozen=True, slots=True)
class OwnSubmission:
    """A resident's submission as ``/mydata`` lists it."""

    submission: ConsultationSubmission
    title: str
    answers: dict[int, AnswerValue]


async def resident_submissions(session: AsyncSession, *, resident_id: int) -> list[OwnSubmission]:
    query = (
        select(ConsultationSubmission, Consultation.title)
        .join(Consultation, Consultation.id == ConsultationSubmission.consultation_id)
        .where(ConsultationSubmission.resident_id == resident_id)
        .order_by(ConsultationSubmission.id)
    )
    rows = (await session.execute(query)).all()
    return [OwnSubmission(row[0], row[1], await answers_of(session, row[0].id)) for row in rows]


async def erase_resident_words(session: AsyncSession, *, resident_id: int, now: datetime) -> int:
    """``/forget``: the name, comment, file and free-text answers of every submission of the
    resident go; the submission (its district, kind and chosen options) stays, so the counts
    of a consultation do not change. Returns how many submissions were touched."""
    own = select(ConsultationSubmission.id).where(ConsultationSubmission.resident_id == resident_id)
    await session.execute(
        update(ConsultationAnswer)
        .where(ConsultationAnswer.submission_id.in_(own))
        .values(text=None)
        .execution_options(synchronize_session="fetch")
    )
    result = await session.execute(
        update(ConsultationSubmission)
        .where(ConsultationSubmission.resident_id == resident_id)
        .values(
            name=None, comment=None, file_kind=None, file_ref=None, file_name=None, erased_at=now
        )
        .execution_options(synchronize_session="fetch")
    )
    # They no longer represent an organisation either: the link names them.
    await session.execute(
        update(Organisation)
        .where(Organisation.representative_id == resident_id)
        .values(representative_id=None, linked_at=None)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- the report's figures ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Participation:
    """Participants counted by district (None: not given) and by kind."""

    by_district: dict[str | None, int]
    residents: int
    organisations: int


async def participation(session: AsyncSession, *, consultation_id: int) -> Participation:
    # Grouped by the organisation key itself (PostgreSQL does not match a grouped expression
    # with bound parameters); few groups, folded here.
    query = (
        select(ConsultationSubmission.district, ConsultationSubmission.on_behalf, func.count())
        .where(ConsultationSubmission.consultation_id == consultation_id)
        .group_by(ConsultationSubmission.district, ConsultationSubmission.on_behalf)
    )
    by_district: dict[str | None, int] = {}
    residents = organisations = 0
    for district, for_organisation, count in (await session.execute(query)).all():
        by_district[district] = by_district.get(district, 0) + int(count)
        if for_organisation:
            organisations += int(count)
        else:
            residents += int(count)
    return Participation(by_district, residents, organisations)


async def choice_counts(
    session: AsyncSession, *, consultation_id: int
) -> dict[int, dict[int, int]]:
    """For each question, how many submissions chose each option."""
    query = (
        select(ConsultationAnswer.question_id, ConsultationAnswer.choice, func.count())
        .join(
            ConsultationSubmission,
            ConsultationSubmission.id == ConsultationAnswer.submission_id,
        )
        .where(
            ConsultationSubmission.consultation_id == consultation_id,
            ConsultationAnswer.choice.is_not(None),
        )
        .group_by(ConsultationAnswer.question_id, ConsultationAnswer.choice)
    )
    counts: dict[int, dict[int, int]] = {}
    for question_id, choice, count in (await session.execute(query)).all():
        if choice is not None:
            counts.setdefault(question_id, {})[int(choice)] = int(count)
    return counts


async def report_of(session: AsyncSession, consultation_id: int) -> ConsultationReport | None:
    """The stored report with its files (deferred columns, loaded only here)."""
    query = (
        select(ConsultationReport)
        .where(ConsultationReport.consultation_id == consultation_id)
        .options(undefer(ConsultationReport.pdf), undefer(ConsultationReport.csv))
    )
    return (await session.execute(query)).scalar_one_or_none()


async def report_by_token(session: AsyncSession, token: str) -> ConsultationReport | None:
    query = (
        select(ConsultationReport)
        .where(ConsultationReport.token == token)
        .options(undefer(ConsultationReport.pdf))
    )
    return (await session.execute(query)).scalar_one_or_none()


# -- what is sent -----------------------------------------------------------------------------


def _district_matches(districts: Sequence[str]) -> ColumnElement[bool]:
    if not districts:
        return Resident.id.is_not(None)
    return or_(Resident.district.in_(districts), Resident.district == District.WHOLE_CITY.value)


async def interested_representatives(
    session: AsyncSession, *, topic: str, districts: Sequence[str]
) -> list[int]:
    """The representatives (resident ids) of organisations whose topics include ``topic`` (or
    that named none) and whose districts meet ``districts`` (or either is city-wide)."""
    rows = await session.scalars(
        select(Organisation).where(Organisation.representative_id.is_not(None))
    )
    wanted = set(districts)
    ids = []
    for organisation in rows:
        topics_fit = not organisation.topics or topic in organisation.topics
        districts_fit = (
            not wanted or not organisation.districts or wanted & set(organisation.districts)
        )
        if topics_fit and districts_fit and organisation.representative_id is not None:
            ids.append(organisation.representative_id)
    return ids


async def plan_by_language(
    session: AsyncSession,
    *,
    kind: str,
    ref: str,
    title: str,
    texts: Mapping[str, str],
    buttons: Mapping[str, ButtonsJson] | None,
    audience: ColumnElement[bool],
    default_language: str,
    created_by: int | None,
    now: datetime,
) -> Planned:
    """``storage.planning.plan_by_language`` for what consultations send, to people who gave
    their consent (the announcement, an invitation, the outcome)."""
    return await planning.plan_by_language(
        session,
        kind=kind,
        source=SOURCE,
        source_ref=ref,
        title=title,
        texts=texts,
        buttons=buttons,
        audience=and_(Resident.consent_at.is_not(None), audience),
        default_language=default_language,
        created_by=created_by,
        now=now,
    )


async def announcement_audience(
    session: AsyncSession, consultation: Consultation
) -> ColumnElement[bool]:
    """Who hears of a published consultation: subscribed residents who take its topic and live
    in one of its districts (whatever their digest setting: it has a closing date), and the
    representatives of interested organisations."""
    subscribers = and_(
        Resident.subscribed.is_(True),
        exists().where(
            ResidentTopic.resident_id == Resident.id, ResidentTopic.topic == consultation.topic
        ),
        _district_matches(consultation.districts),
    )
    representatives = await interested_representatives(
        session, topic=consultation.topic, districts=consultation.districts
    )
    if not representatives:
        return subscribers
    return or_(subscribers, Resident.id.in_(representatives))


def participants_audience(consultation_id: int) -> ColumnElement[bool]:
    """Everyone who submitted (for themselves or an organisation)."""
    return Resident.id.in_(
        select(ConsultationSubmission.resident_id).where(
            ConsultationSubmission.consultation_id == consultation_id
        )
    )
