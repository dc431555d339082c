"""The report of a consultation for officials: participants by district and kind, the answers
to each question with their shares, and every comment with the staff decision on it.

Two forms from one set of figures:
- the document (PDF, fpdf2 with matplotlib's DejaVu Sans for Cyrillic), which the outcome
  message links to. It is read by participants too, so residents appear in it by district only
  ("a resident, Pokrovskyi district"); organisations by name (they speak publicly);
- the CSV staff export, one row per submission with the name given, through
  ``storage.csv_safe`` (every cell formula-safe).

Texts are the council's language (``ConsultationCore.default_language``).
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import matplotlib
from fpdf import FPDF
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.staff.consultations.context import ConsultationCore
from messaging import labels
from messaging.i18n import Catalog
from messaging.text import local_time
from storage import consultations, organisations
from storage.consultations import AnswerValue, Participation
from storage.csv_safe import SafeCsvWriter
from storage.models import Consultation, ConsultationQuestion, ConsultationSubmission

_FONTS = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
_FONT = "DejaVu"
# The PDF's font has no emoji: characters past the Basic Multilingual Plane are left out of
# the document (the CSV keeps every character).
_BMP_END = 0xFFFF


@dataclass(frozen=True, slots=True)
class Report:
    pdf: bytes
    csv: str
    participants: int


@dataclass(frozen=True, slots=True)
class _Figures:
    consultation: Consultation
    questions: Sequence[ConsultationQuestion]
    participation: Participation
    choices: dict[int, dict[int, int]]
    submissions: Sequence[ConsultationSubmission]
    answers: dict[int, dict[int, AnswerValue]]
    organisation_names: dict[int, str]


async def _figures(session: AsyncSession, consultation: Consultation) -> _Figures:
    submissions = await consultations.submissions(session, consultation_id=consultation.id)
    names = {
        organisation.id: organisation.name for organisation in await organisations.listing(session)
    }
    return _Figures(
        consultation=consultation,
        questions=await consultations.questions_of(session, consultation.id),
        participation=await consultations.participation(session, consultation_id=consultation.id),
        choices=await consultations.choice_counts(session, consultation_id=consultation.id),
        submissions=submissions,
        answers=await consultations.all_answers(session, consultation_id=consultation.id),
        organisation_names=names,
    )


async def build_report(
    session: AsyncSession, core: ConsultationCore, consultation: Consultation
) -> Report:
    figures = await _figures(session, consultation)
    writer = _Writer(core.catalog, core.default_language, core)
    # Seconds of CPU for a large consultation (about 5 s for 1,000 long comments): off the
    # event loop, or every resident's update and desk page waits for it. The figures are
    # loaded rows and plain values; nothing in the writer touches the session.
    pdf = await asyncio.to_thread(writer.pdf, figures)
    csv = await asyncio.to_thread(writer.csv, figures)
    return Report(pdf=pdf, csv=csv, participants=len(figures.submissions))


def share(count: int, total: int) -> str:
    """A share as a whole percentage (0 of 0 is 0%)."""
    return f"{round(100 * count / total) if total else 0}%"


def _printable(text: str) -> str:
    return "".join(char for char in text if ord(char) <= _BMP_END)


class Widths:
    """Character widths in the document's current font, each measured once: fpdf2's
    ``get_string_width`` copies the graphics state at every call, so measuring every word of
    a thousand comments that way took most of the report's time."""

    def __init__(self, document: FPDF) -> None:
        self._document = document
        self._known: dict[tuple[str, float, str], float] = {}

    def of(self, text: str) -> float:
        document = self._document
        style, size = document.font_style, document.font_size_pt
        total = 0.0
        for char in text:
            key = (style, size, char)
            width = self._known.get(key)
            if width is None:
                width = self._known[key] = document.get_string_width(char)
            total += width
        return total


def wrap(widths: Widths, text: str, width: float) -> list[str]:
    """``text`` broken into rows no wider than ``width``, each word measured once (a word
    wider than a row is broken between characters). fpdf2's own ``multi_cell`` measures the
    row so far at every character, which made the report of 200 long comments take 8 s."""
    rows: list[str] = []
    space = widths.of(" ")
    for paragraph in text.split("\n"):
        row, used = "", 0.0
        for word in paragraph.split(" "):
            size = widths.of(word)
            if row and used + space + size <= width:
                row, used = f"{row} {word}", used + space + size
                continue
            if row:
                rows.append(row)
            row, used = word, size
            while used > width:
                head, rest, head_size = _split_word(widths, row, width)
                rows.append(head)
                row, used = rest, used - head_size
        rows.append(row)
    return rows


def _split_word(widths: Widths, word: str, width: float) -> tuple[str, str, float]:
    """The longest start of ``word`` that fits ``width`` (at least one character)."""
    used = 0.0
    for index, char in enumerate(word):
        size = widths.of(char)
        if used + size > width and index > 0:
            return word[:index], word[index:], used
        used += size
    return word, "", used


@cache
def _font_path(name: str) -> str:
    return os.path.join(_FONTS, name)


def new_document() -> FPDF:
    """An A4 document with DejaVu Sans (regular and bold), a page begun."""
    document = FPDF()
    document.set_auto_page_break(auto=True, margin=15)
    document.add_font(_FONT, "", _font_path("DejaVuSans.ttf"))
    document.add_font(_FONT, "B", _font_path("DejaVuSans-Bold.ttf"))
    document.set_font(_FONT, "", 11)
    document.add_page()
    return document


def close_fonts(document: FPDF) -> None:
    """Close the font files fpdf2 opened (fontTools reads them lazily and keeps them open
    until closed; left to the garbage collector they would leak a file per report)."""
    for font in document.fonts.values():
        close = getattr(font, "close", None)
        if close is not None:
            close()


class _Writer:
    def __init__(self, catalog: Catalog, lang: str, core: ConsultationCore) -> None:
        self.catalog = catalog
        self.lang = lang
        self.zone = core.zone

    def t(self, key: str, /, **params: object) -> str:
        # The document is plain text: the catalog's markup tags are not used in these keys.
        return str(self.catalog.text(self.lang, key, **params))

    def district(self, code: str | None) -> str:
        if code is None or code not in labels.DISTRICT:
            return self.t("consult.report.no_district")
        return str(self.catalog.text(self.lang, labels.DISTRICT[code]))

    def decision(self, code: str | None) -> str:
        if code is None or code not in labels.CONSULT_DECISION:
            return self.t("consult.decision.none")
        return str(self.catalog.text(self.lang, labels.CONSULT_DECISION[code]))

    def author(self, figures: _Figures, submission: ConsultationSubmission) -> str:
        """Who wrote it, as the public document says it (no resident's name)."""
        if submission.organisation_id is not None:
            name = figures.organisation_names.get(submission.organisation_id, "—")
            return self.t("consult.report.by_organisation", organisation=name)
        return self.t("consult.report.by_resident", district=self.district(submission.district))

    def answer_text(self, question: ConsultationQuestion, value: AnswerValue | None) -> str:
        if value is None:
            return ""
        if value.choice is not None and 0 <= value.choice < len(question.options):
            return question.options[value.choice]
        return value.text or ""

    # -- the document ------------------------------------------------------------------------

    def pdf(self, figures: _Figures) -> bytes:
        document = new_document()
        try:
            return self._write(document, figures)
        finally:
            close_fonts(document)

    def _write(self, document: FPDF, figures: _Figures) -> bytes:
        c = figures.consultation

        widths = Widths(document)

        def line(text: str, *, bold: bool = False, size: int = 11) -> None:
            document.set_font(_FONT, "B" if bold else "", size)
            for row in wrap(widths, _printable(text), document.epw):
                document.cell(0, size * 0.55, row, new_x="LMARGIN", new_y="NEXT")

        line(self.t("consult.report.title", title=c.title), bold=True, size=14)
        line(
            self.t(
                "consult.report.period",
                start=local_time(c.opens_at, self.zone),
                end=local_time(c.closed_at or c.closes_at, self.zone),
            )
        )
        document.ln(3)
        self._participants(line, figures)
        for question in figures.questions:
            document.ln(3)
            self._question(line, figures, question)
        document.ln(3)
        line(self.t("consult.report.comments"), bold=True, size=12)
        commented = [s for s in figures.submissions if s.comment]
        if not commented:
            line(self.t("consult.report.none"))
        for number, submission in enumerate(commented, start=1):
            line(f"{number}. {self.author(figures, submission)}", bold=True)
            line(submission.comment or "")
            decision = self.decision(submission.decision)
            if submission.decision_reason:
                decision = f"{decision}: {submission.decision_reason}"
            line(self.t("consult.report.decision", decision=decision))
            document.ln(2)
        if c.outcome:
            line(self.t("consult.report.outcome"), bold=True, size=12)
            line(c.outcome)
        return bytes(document.output())

    def _participants(self, line: _Line, figures: _Figures) -> None:
        counted = figures.participation
        total = counted.residents + counted.organisations
        line(self.t("consult.report.participants", count=total), bold=True, size=12)
        line(
            self.t(
                "consult.report.kinds",
                residents=counted.residents,
                organisations=counted.organisations,
            )
        )
        ordered = sorted(counted.by_district.items(), key=lambda item: -item[1])
        for code, count in ordered:
            line(f"  {self.district(code)}: {count} ({share(count, total)})")

    def _question(self, line: _Line, figures: _Figures, question: ConsultationQuestion) -> None:
        line(f"{question.position + 1}. {question.text}", bold=True)
        if question.options:
            counts = figures.choices.get(question.id, {})
            answered = sum(counts.values())
            line(self.t("consult.report.answered", count=answered))
            for index, option in enumerate(question.options):
                count = counts.get(index, 0)
                line(f"  {option}: {count} ({share(count, answered)})")
            return
        texts = [
            value.text
            for answers in figures.answers.values()
            if (value := answers.get(question.id)) is not None and value.text
        ]
        line(self.t("consult.report.answered", count=len(texts)))
        for text in texts:
            line(f"  — {text}")

    # -- the CSV -----------------------------------------------------------------------------

    def csv(self, figures: _Figures) -> str:
        out = io.StringIO()
        writer = SafeCsvWriter(out)
        writer.writerow(
            [
                "submission",
                "kind",
                "organisation",
                "name",
                "district",
                "channel",
                "submitted_at",
                "updated_at",
                *(f"q{q.position + 1}: {q.text}" for q in figures.questions),
                "comment",
                "file",
                "decision",
                "reason",
            ]
        )
        for submission in figures.submissions:
            answers = figures.answers.get(submission.id, {})
            organisation = (
                figures.organisation_names.get(submission.organisation_id)
                if submission.organisation_id is not None
                else None
            )
            writer.writerow(
                [
                    submission.id,
                    "organisation" if submission.organisation_id is not None else "resident",
                    organisation,
                    submission.name,
                    submission.district,
                    submission.channel,
                    submission.submitted_at.isoformat(),
                    submission.updated_at.isoformat(),
                    *(self.answer_text(q, answers.get(q.id)) for q in figures.questions),
                    submission.comment,
                    submission.file_name or submission.file_kind,
                    submission.decision,
                    submission.decision_reason,
                ]
            )
        return out.getvalue()


class _Line(Protocol):
    """The shape of the document's one writing step (``pdf``'s ``line``)."""

    def __call__(self, text: str, *, bold: bool = False, size: int = 11) -> None: ...
