"""A consultation draft written as one plain-text message, for desks where staff type rather than
fill a form (the operator chat; a CLI could read the same from a file):

    Правила благоустрою                     ← the first line: the title
    topic: decisions                        ← a topic code
    districts: pokrovskyi, ternivskyi       ← district codes (none: the whole city)
    opens: 10.12.2026 09:00                 ← optional (now); council time
    closes: 24.12.2026 18:00
    document: https://kr.gov.ua/draft.pdf   ← optional
    ? Чи підтримуєте ви проєкт? | Так | Ні  ← a choice question and its options
    ? Що варто змінити?                     ← a free-text question
    Проєкт змінює правила прибирання…       ← every other line: the summary

An organisation the same way (``parse_organisation``):

    ngo ГО «Зелене місто»                   ← the kind, then the name
    person: Марія Коваль                    ← the contact person (optional)
    contact: +380501234567                  ← how to reach them (optional)
    topics: decisions, events               ← topic codes (none: every topic)
    districts: pokrovskyi                   ← district codes (none: the whole city)

The parser only reads the shape; the bounds (lengths, codes, dates) are the core's to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from handlers.staff.consultations.context import Draft, OrganisationDraft
from storage.consultations import QuestionDraft

FIELDS: Final = frozenset({"topic", "districts", "opens", "closes", "document"})
TIME_FORMAT: Final = "%d.%m.%Y %H:%M"


@dataclass(frozen=True, slots=True)
class FormError:
    """What is missing or unreadable: ``field`` names it (``title``, ``closes``, …)."""

    field: str


def parse_time(text: str, zone: ZoneInfo) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), TIME_FORMAT).replace(tzinfo=zone)
    except ValueError:
        return None


def _question(line: str) -> QuestionDraft:
    text, *options = (part.strip() for part in line[1:].split("|"))
    return QuestionDraft(text, tuple(option for option in options if option))


def parse_questions(text: str) -> tuple[QuestionDraft, ...]:
    """Questions one a line, as in a draft (``Question? | option | option``; no options: free
    text), for a form's questions box: the leading ``?`` may be left out; blank lines skipped."""
    lines = (line.strip() for line in text.splitlines())
    return tuple(_question(line if line.startswith("?") else "?" + line) for line in lines if line)


def parse_draft(text: str, *, zone: ZoneInfo, now: datetime) -> Draft | FormError:
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or not lines[0]:
        return FormError("title")
    title, fields = lines[0], dict[str, str]()
    questions: list[QuestionDraft] = []
    summary: list[str] = []
    for line in lines[1:]:
        key, colon, value = line.partition(":")
        if line.startswith("?"):
            questions.append(_question(line))
        elif colon and key.strip().lower() in FIELDS and not key.strip().startswith("http"):
            fields[key.strip().lower()] = value.strip()
        else:
            summary.append(line)
    closes = parse_time(fields.get("closes", ""), zone)
    if closes is None:
        return FormError("closes")
    opens = parse_time(fields["opens"], zone) if "opens" in fields else now
    if opens is None:
        return FormError("opens")
    districts = tuple(d.strip() for d in fields.get("districts", "").split(",") if d.strip())
    return Draft(
        title=title,
        summary="\n".join(summary).strip(),
        topic=fields.get("topic", ""),
        opens_at=opens,
        closes_at=closes,
        questions=tuple(questions),
        districts=districts,
        document_url=fields.get("document") or None,
    )


ORGANISATION_FIELDS: Final = frozenset({"person", "contact", "topics", "districts"})


def _codes(text: str) -> tuple[str, ...]:
    return tuple(code.strip() for code in text.split(",") if code.strip())


def parse_organisation(text: str) -> OrganisationDraft | FormError:
    lines = [line.strip() for line in text.strip().splitlines()]
    kind, _, name = (lines[0] if lines else "").partition(" ")
    if not kind or not name.strip():
        return FormError("name")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        key, colon, value = line.partition(":")
        if not colon or key.strip().lower() not in ORGANISATION_FIELDS:
            return FormError(key.strip()[:40] or "?")
        fields[key.strip().lower()] = value.strip()
    return OrganisationDraft(
        name=name.strip(),
        kind=kind.strip().lower(),
        contact_person=fields.get("person") or None,
        contact=fields.get("contact") or None,
        topics=_codes(fields.get("topics", "")),
        districts=_codes(fields.get("districts", "")),
    )
