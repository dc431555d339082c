"""consultations (issue 18): public consultations on draft decisions, their questions,
residents' and organisations' submissions with answers and staff decisions, the registry of
civil-society organisations, invitations, and the report made at the close

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, storage.models.UTCDateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("document_url", sa.Text(), nullable=True),
        sa.Column("document_ref", sa.Text(), nullable=True),
        sa.Column("document_name", sa.String(length=256), nullable=True),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("districts", sa.JSON(), nullable=False),
        _at("opens_at"),
        _at("closes_at"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        _at("created_at"),
        _at("published_at", nullable=True),
        _at("closed_at", nullable=True),
        _at("reminded_at", nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
    )
    _index("consultations", "closes_at")
    _index("consultations", "status")
    op.create_table(
        "consultation_questions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("consultation_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        _fk("consultation_questions", "consultation_id", "consultations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_questions")),
        sa.UniqueConstraint(
            "consultation_id", "position", name="uq_consultation_questions_position"
        ),
    )
    _index("consultation_questions", "consultation_id")
    op.create_table(
        "organisations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("contact_person", sa.String(length=256), nullable=True),
        sa.Column("contact", sa.String(length=256), nullable=True),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("districts", sa.JSON(), nullable=False),
        sa.Column("representative_id", BIG_ID, nullable=True),
        _at("linked_at", nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        _at("code_expires_at", nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _fk("organisations", "representative_id", "residents", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_organisations_code_hash")),
    )
    _index("organisations", "representative_id")
    op.create_table(
        "consultation_submissions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("consultation_id", BIG_ID, nullable=False),
        sa.Column("resident_id", BIG_ID, nullable=False),
        sa.Column("on_behalf", sa.BigInteger(), nullable=False),
        sa.Column("organisation_id", BIG_ID, nullable=True),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("district", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("file_kind", sa.String(length=16), nullable=True),
        sa.Column("file_ref", sa.Text(), nullable=True),
        sa.Column("file_name", sa.String(length=256), nullable=True),
        _at("consent_at"),
        _at("submitted_at"),
        _at("updated_at"),
        _at("erased_at", nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        _at("decided_at", nullable=True),
        _fk("consultation_submissions", "consultation_id", "consultations"),
        _fk("consultation_submissions", "resident_id", "residents"),
        _fk("consultation_submissions", "organisation_id", "organisations", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_submissions")),
        sa.UniqueConstraint(
            "consultation_id", "resident_id", "on_behalf", name="uq_consultation_submissions_one"
        ),
    )
    _index("consultation_submissions", "consultation_id")
    _index("consultation_submissions", "resident_id")
    op.create_table(
        "consultation_answers",
        sa.Column("submission_id", BIG_ID, nullable=False),
        sa.Column("question_id", BIG_ID, nullable=False),
        sa.Column("choice", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        _fk("consultation_answers", "submission_id", "consultation_submissions"),
        _fk("consultation_answers", "question_id", "consultation_questions"),
        sa.PrimaryKeyConstraint(
            "submission_id", "question_id", name=op.f("pk_consultation_answers")
        ),
    )
    op.create_table(
        "organisation_invitations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("organisation_id", BIG_ID, nullable=False),
        sa.Column("consultation_id", BIG_ID, nullable=True),
        sa.Column("meeting", sa.Text(), nullable=True),
        _at("meeting_at", nullable=True),
        sa.Column("sent_by", sa.BigInteger(), nullable=True),
        _at("sent_at"),
        sa.Column("broadcast_id", BIG_ID, nullable=True),
        sa.Column("response", sa.String(length=16), nullable=True),
        _at("responded_at", nullable=True),
        _fk("organisation_invitations", "organisation_id", "organisations"),
        _fk("organisation_invitations", "consultation_id", "consultations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_invitations")),
    )
    _index("organisation_invitations", "organisation_id")
    _index("organisation_invitations", "consultation_id")
    op.create_table(
        "consultation_reports",
        sa.Column("consultation_id", BIG_ID, nullable=False),
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("csv", sa.Text(), nullable=False),
        _at("created_at"),
        _fk("consultation_reports", "consultation_id", "consultations"),
        sa.PrimaryKeyConstraint("consultation_id", name=op.f("pk_consultation_reports")),
        sa.UniqueConstraint("token", name=op.f("uq_consultation_reports_token")),
    )


def downgrade() -> None:
    op.drop_table("consultation_reports")
    for column in ("consultation_id", "organisation_id"):
        op.drop_index(
            op.f(f"ix_organisation_invitations_{column}"), table_name="organisation_invitations"
        )
    op.drop_table("organisation_invitations")
    op.drop_table("consultation_answers")
    for column in ("resident_id", "consultation_id"):
        op.drop_index(
            op.f(f"ix_consultation_submissions_{column}"), table_name="consultation_submissions"
        )
    op.drop_table("consultation_submissions")
    op.drop_index(op.f("ix_organisations_representative_id"), table_name="organisations")
    op.drop_table("organisations")
    op.drop_index(
        op.f("ix_consultation_questions_consultation_id"), table_name="consultation_questions"
    )
    op.drop_table("consultation_questions")
    op.drop_index(op.f("ix_consultations_status"), table_name="consultations")
    op.drop_index(op.f("ix_consultations_closes_at"), table_name="consultations")
    op.drop_table("consultations")
