"""A consultation draft and an organisation typed as plain text (the operator chat's form):
what each line becomes, and which field is named when one cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from handlers.staff.consultations.context import Draft, OrganisationDraft
from handlers.staff.consultations.text_form import (
    FormError,
    parse_draft,
    parse_organisation,
    parse_questions,
)
from storage.consultations import QuestionDraft

ZONE = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def test_a_draft_line_by_line() -> None:
    draft = parse_draft(
        "  Правила благоустрою  \n"
        "Topic: decisions\n"
        "districts: pokrovskyi,  ternivskyi ,\n"
        "opens: 07.12.2026 09:00\n"
        "closes: 24.12.2026 18:00\n"
        "document: https://kr.gov.ua/draft.pdf\n"
        "? Чи підтримуєте? | Так |  | Ні\n"
        "?Що змінити?\n"
        "Перший рядок опису.\n"
        "https://kr.gov.ua/about — посилання в описі\n",
        zone=ZONE,
        now=NOW,
    )
    assert isinstance(draft, Draft)
    assert draft.title == "Правила благоустрою" and draft.topic == "decisions"
    assert draft.districts == ("pokrovskyi", "ternivskyi")
    assert draft.opens_at == datetime(2026, 12, 7, 9, 0, tzinfo=ZONE)
    assert draft.closes_at == datetime(2026, 12, 24, 18, 0, tzinfo=ZONE)
    assert draft.document_url == "https://kr.gov.ua/draft.pdf"
    assert draft.questions == (
        QuestionDraft("Чи підтримуєте?", ("Так", "Ні")),
        QuestionDraft("Що змінити?"),
    )
    assert draft.summary == "Перший рядок опису.\nhttps://kr.gov.ua/about — посилання в описі"


def test_unreadable_fields_are_named() -> None:
    assert parse_draft("", zone=ZONE, now=NOW) == FormError("title")
    assert parse_draft("Назва\ncloses: завтра", zone=ZONE, now=NOW) == FormError("closes")
    bad_opens = "Назва\ncloses: 24.12.2026 18:00\nopens: 31.02.2026 10:00"
    assert parse_draft(bad_opens, zone=ZONE, now=NOW) == FormError("opens")
    # No "opens": from now.
    draft = parse_draft("Назва\ncloses: 24.12.2026 18:00", zone=ZONE, now=NOW)
    assert isinstance(draft, Draft) and draft.opens_at == NOW and draft.questions == ()


def test_an_organisation_line_by_line() -> None:
    found = parse_organisation(
        "NGO ГО «Зелене місто»\nperson: Марія Коваль\ncontact: +380501234567\n"
        "topics: decisions, events\ndistricts: pokrovskyi"
    )
    assert found == OrganisationDraft(
        name="ГО «Зелене місто»",
        kind="ngo",
        contact_person="Марія Коваль",
        contact="+380501234567",
        topics=("decisions", "events"),
        districts=("pokrovskyi",),
    )
    assert parse_organisation("ngo") == FormError("name")
    assert parse_organisation("ngo Назва\ncolour: green") == FormError("colour")
    assert parse_organisation("ngo Назва\nпросто текст") == FormError("просто текст")


def test_a_forms_questions_box_one_a_line() -> None:
    """The web desk's questions box: the leading "?" optional, blank lines and empty options
    skipped, a single option kept (the core refuses it, so staff see why)."""
    found = parse_questions(
        "Чи підтримуєте? | Так | Ні |\r\n\n  ? Що змінити?  \n<b>Одне</b> | 🌳\n"
    )
    assert found == (
        QuestionDraft("Чи підтримуєте?", ("Так", "Ні")),
        QuestionDraft("Що змінити?"),
        QuestionDraft("<b>Одне</b>", ("🌳",)),
    )
    assert parse_questions("") == () and parse_questions(" \n\n") == ()
