"""Public consultations on draft decisions and the registry of civil-society organisations
(issue 18, duties 3, 5 and 10 of the department): the consultation and its questions, each
resident's (or organisation's) submission with its answers and the staff decision on its
comment, the organisations and their representatives, and the invitations staff send them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId


class Consultation(Base):
    """A draft decision put to residents: what it is (title, plain-language summary, the
    document as a link or a file), whom it concerns (a topic, districts; none: the whole city),
    when it is open, and where it stands (draft → open → closed)."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    summary: Mapped[str] = mapped_column(Text)
    # The draft document: an https link, or a file a messenger can send by its ref.
    document_url: Mapped[str | None] = mapped_column(Text)
    document_ref: Mapped[str | None] = mapped_column(Text)
    document_name: Mapped[str | None] = mapped_column(String(256))
    # ``storage.vocabulary.Topic`` code; its subscribers hear of it.
    topic: Mapped[str] = mapped_column(String(32))
    # District codes; empty: the whole city.
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime] = mapped_column(index=True)
    # draft | open | closed (``storage.consultations.ConsultationStatus``).
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # When staff were told its closing time had come (``broadcasts.consultations``): once.
    reminded_at: Mapped[datetime | None]
    # What the council did with the results (told to every participant at the close).
    outcome: Mapped[str | None] = mapped_column(Text)


class ConsultationQuestion(Base):
    """One question of a consultation: a choice among ``options``, or free text (no options)."""

    __tablename__ = "consultation_questions"
    __table_args__ = (
        UniqueConstraint("consultation_id", "position", name="uq_consultation_questions_position"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON, default=list)


class Organisation(Base):
    """A civil-society organisation in the council's registry: what it is, whom staff talk to,
    the resident who represents it in the bot (linked by a one-time code), and the topics and
    districts it cares about (which consultations it hears of)."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    # ngo | party | religious | initiative (``storage.consultations.OrganisationKind``).
    kind: Mapped[str] = mapped_column(String(16))
    contact_person: Mapped[str | None] = mapped_column(String(256))
    contact: Mapped[str | None] = mapped_column(String(256))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    representative_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="SET NULL"), index=True
    )
    linked_at: Mapped[datetime | None]
    # The live one-time code, as its SHA-256 (the code itself is shown to staff once).
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConsultationSubmission(Base):
    """What one resident said in one consultation, for themselves or (``organisation_id``) on
    behalf of the organisation they represent: one of each, editable until the close. The
    district is copied at submission so that the counts stay after ``/forget``; the name, the
    comment and the file are erased then (``erased_at``)."""

    __tablename__ = "consultation_submissions"
    __table_args__ = (
        UniqueConstraint(
            "consultation_id", "resident_id", "on_behalf", name="uq_consultation_submissions_one"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    resident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    # 0: the resident's own; else the organisation's id (a key the unique constraint can use
    # on both databases, where a NULL would never collide).
    on_behalf: Mapped[int] = mapped_column(BigInteger, default=0)
    organisation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("organisations.id", ondelete="SET NULL")
    )
    name: Mapped[str | None] = mapped_column(String(256))
    district: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    file_kind: Mapped[str | None] = mapped_column(String(16))
    file_ref: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(String(256))
    consent_at: Mapped[datetime]
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]
    # The staff decision on the comment: accepted | partly | rejected, with the reason.
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None]


class ConsultationAnswer(Base):
    """A submission's answer to one question: the chosen option, or the text written."""

    __tablename__ = "consultation_answers"

    submission_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultation_submissions.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultation_questions.id", ondelete="CASCADE"), primary_key=True
    )
    choice: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)


class Invitation(Base):
    """Staff inviting an organisation to a consultation or to a meeting (``meeting`` names it),
    sent to its representative; ``response`` yes | no once they answer."""

    __tablename__ = "organisation_invitations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    consultation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    meeting: Mapped[str | None] = mapped_column(Text)
    meeting_at: Mapped[datetime | None]
    sent_by: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime]
    # The delivery engine's broadcast that carried it (None: no representative linked yet).
    broadcast_id: Mapped[int | None] = mapped_column(BigId)
    response: Mapped[str | None] = mapped_column(String(16))
    responded_at: Mapped[datetime | None]


class ConsultationReport(Base):
    """The report made at the close: the document (PDF) officials and participants read through
    the link in the outcome message, and the CSV staff export. ``token`` makes the link."""

    __tablename__ = "consultation_reports"

    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(43), unique=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    csv: Mapped[str] = mapped_column(Text, deferred=True)
    created_at: Mapped[datetime]
