"""What people type fits where it is stored: every limit the flows accept against the column it
goes to (read from the models' metadata), text cleaned of what PostgreSQL refuses, and the
database errors a retry cannot fix told apart from those it can."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import JSON, Boolean, Text

from bot.telegram.staff import service as staff_service
from bot.telegram.staff.news.text import TEXT_MAX as NEWS_TEXT_MAX
from broadcasts.rss import TITLE_MAX as RSS_TITLE_MAX
from handlers.polls import OPTION_MAX, QUESTION_MAX
from handlers.staff.tickets import context as ticket_context
from handlers.staff.tickets import lookup as ticket_lookup
from handlers.tickets.forms import (
    FOLLOWUP_MAX,
    FORMS,
    RATING_COMMENT_MAX,
    Input,
    Invalid,
    Step,
    check_text,
)
from messaging.contract import (
    FILE_NAME_MAX,
    Attachment,
    Contact,
    EventKind,
    Identity,
    Incoming,
)
from messaging.text import clean_text, clip_file_name
from storage.db import create_engine, is_sqlite
from storage.errors import failure_reason, is_permanent
from storage.models import Base
from storage.residents import NAME_MAX
from tests.conftest import set_connections_allowed

ROOT = Path(__file__).resolve().parent.parent

# Where each answer of the ticket forms is stored (a form step missing here fails the test: say
# where a new one goes).
STEP_COLUMNS: dict[str, tuple[str, ...]] = {
    "category": ("tickets.category",),
    "legal_topic": ("tickets.category",),
    "appeal_type": ("tickets.appeal_type",),
    "full_name": ("tickets.full_name",),
    "address": ("tickets.address",),
    "body": ("tickets.body",),
    "contact": ("tickets.contact",),
    "urgent": ("tickets.urgent",),
    "urgent_reason": ("tickets.urgent_reason",),
    "anonymous": ("tickets.anonymous",),
    "attachments": (),
}

# Every other limit on text that residents or staff type (or that comes from outside) and that
# is stored, with the columns it goes to.
OTHER_LIMITS: list[tuple[str, int, tuple[str, ...]]] = [
    ("resident's messenger name", NAME_MAX, ("residents.name", "tickets.full_name")),
    ("follow-up to a ticket", FOLLOWUP_MAX, ("ticket_messages.text",)),
    ("rating comment", RATING_COMMENT_MAX, ("tickets.rating_comment",)),
    ("attachment file name", FILE_NAME_MAX, ("ticket_messages.attachment_name",)),
    ("news document name", FILE_NAME_MAX, ("broadcasts.media_name",)),
    ("staff member's name", staff_service.STAFF_NAME_MAX, ("staff_accounts.name",)),
    ("staff template text", ticket_lookup.TEMPLATE_TEXT_MAX, ("templates.text",)),
    (
        "extension or refusal reason",
        staff_service.REASON_MAX,
        ("tickets.extension_reason", "tickets.refusal_comment", "ticket_messages.text"),
    ),
    ("notice kept in a thread", ticket_context.NOTICE_TEXT_MAX, ("ticket_messages.text",)),
    ("news draft", NEWS_TEXT_MAX, ("broadcasts.text",)),
    ("RSS item title", RSS_TITLE_MAX, ("broadcasts.title",)),
    ("poll question", QUESTION_MAX, ("polls.question", "broadcasts.text")),
    ("poll option", OPTION_MAX, ("polls.options",)),
]


def column(name: str) -> Column[object]:
    table, _, field = name.partition(".")
    return Base.metadata.tables[table].c[field]


def capacity(name: str) -> int | None:
    """The longest text the column holds; None when unbounded (TEXT, JSON)."""
    kind = column(name).type
    if isinstance(kind, String) and not isinstance(kind, Text):
        return kind.length
    assert isinstance(kind, Text | JSON), f"{name} is {kind!r}, not a text column"
    return None


def form_limits() -> Iterator[tuple[str, Step]]:
    for kind, steps in FORMS.items():
        for step in steps:
            yield f"{kind.value}.{step.key}", step


def test_every_form_answer_fits_its_column() -> None:
    too_long = []
    for where, step in form_limits():
        assert step.key in STEP_COLUMNS, f"{where}: which column does it go to?"
        for name in STEP_COLUMNS[step.key]:
            if isinstance(column(name).type, Boolean):
                assert step.choices == ("yes", "no"), where
                continue
            room = capacity(name)
            if room is None:
                continue
            longest = (
                max(len(choice) for choice in step.choices)
                if step.input is Input.CHOICE
                else step.max_length
            )
            if longest > room:
                too_long.append(f"{where}: {longest} > {name} ({room})")
    assert too_long == []


def test_every_other_limit_fits_its_columns() -> None:
    too_long = [
        f"{what}: {limit} > {name} ({capacity(name)})"
        for what, limit, names in OTHER_LIMITS
        for name in names
        if (room := capacity(name)) is not None and limit > room
    ]
    assert too_long == []


def test_template_names_fit_their_column() -> None:
    room = capacity("templates.name")
    assert room is not None
    pattern = ticket_lookup.TEMPLATE_NAME
    assert pattern.match("a" * room) and not pattern.match("a" * (room + 1))


def _reply_address_step() -> Step:
    return next(step for _, step in form_limits() if step.input is Input.REPLY_ADDRESS)


def test_a_postal_address_longer_than_tickets_contact_is_refused_with_its_own_message() -> None:
    step = _reply_address_step()
    room = capacity("tickets.contact")
    assert room is not None
    address = ("вул. Дуже Довга, буд. 1, кв. 2, м. Кривий Ріг, 50000; " * 6)[:290]
    with pytest.raises(Invalid) as refused:
        check_text(step, address)
    assert refused.value.key == "form.error.reply_address_too_long"
    assert refused.value.params == {"count": 290, "limit": room}
    assert check_text(step, address[:room]) == address[:room].strip()


def test_clean_text_removes_what_postgresql_refuses_and_composes() -> None:
    assert clean_text("a\x00b\x00") == "ab"
    assert clean_text("lone \ud800 surrogate") == "lone \ufffd surrogate"
    # A pair split in two code points is joined into the character it stands for.
    assert clean_text("\ud83d\ude00") == "😀"
    # "й" typed as "и" + combining breve is stored as the one letter.
    assert clean_text("Сергі\u0438\u0306") == "Сергій"
    plain = "Звичайний текст 🙂"
    assert clean_text(plain) is plain
    for cleaned in ("a\x00b", "\ud800", "и\u0306"):
        clean_text(cleaned).encode("utf-8")
        assert clean_text(clean_text(cleaned)) == clean_text(cleaned)


def test_clip_file_name_keeps_the_extension() -> None:
    assert clip_file_name("a" * 300 + ".pdf", 255) == "a" * 251 + ".pdf"
    assert clip_file_name("short.pdf", 255) == "short.pdf"
    assert clip_file_name("b" * 300, 255) == "b" * 255


def test_an_incoming_event_is_cleaned_where_it_is_built() -> None:
    event = Incoming(
        identity=Identity(channel="viber", external_id="id\x00", name="Ок\x00сана \ud800"),
        kind=EventKind.DOCUMENT,
        update_key="message:1",
        text="підпис\x00",
        contact=Contact(phone="+380\x0067", name="\udc00"),
        attachment=Attachment(kind="document", ref="r", file_name="\x00" + "д" * 300 + ".pdf"),
    )
    assert event.identity == Identity(channel="viber", external_id="id", name="Оксана \ufffd")
    assert event.text == "підпис"
    assert event.contact == Contact(phone="+38067", name="\ufffd")
    assert event.attachment is not None and event.attachment.file_name is not None
    assert len(event.attachment.file_name) == FILE_NAME_MAX
    assert event.attachment.file_name.endswith("д.pdf")
    assert event.kind is EventKind.DOCUMENT


_probe = MetaData()
PROBE = Table(
    "poison_probe",
    _probe,
    Column("id", Integer, primary_key=True),
    Column("short", String(5)),
    Column("number", Integer),
)


async def _refusal(database_url: str, **values: object) -> SQLAlchemyError | None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_probe.create_all)
        try:
            async with engine.begin() as connection:
                await connection.execute(insert(PROBE).values(**values))
        except SQLAlchemyError as error:
            return error
        return None
    finally:
        await engine.dispose()


async def test_data_the_database_refuses_is_permanent(database_url: str) -> None:
    refused: dict[str, dict[str, object]] = {
        "too long": {"short": "x" * 10},
        "NUL": {"short": "a\x00b"},
        "out of range": {"number": 2**40},
    }
    for what, values in refused.items():
        error = await _refusal(database_url, **values)
        if is_sqlite(database_url):
            # SQLite takes all of them: nothing to fail on (the limits and the cleaning above
            # are what keeps such values out of it).
            assert error is None, what
            continue
        assert error is not None and is_permanent(error), (what, error)
        assert "22" in failure_reason(error), failure_reason(error)
    if is_sqlite(database_url):
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                with pytest.raises(SQLAlchemyError) as raised:
                    await connection.execute(text("SELECT zeroblob(2000000000)"))
        finally:
            await engine.dispose()
        assert is_permanent(raised.value), raised.value


async def test_a_database_refusing_connections_is_not_permanent(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        await set_connections_allowed(pg_url, False)
        try:
            with pytest.raises(SQLAlchemyError) as raised:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        finally:
            await set_connections_allowed(pg_url, True)
    finally:
        await engine.dispose()
    assert not is_permanent(raised.value)


async def test_statements_are_never_logged_with_their_parameters(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert engine.sync_engine.hide_parameters
        with pytest.raises(SQLAlchemyError) as raised:
            async with engine.connect() as connection:
                await connection.execute(
                    text("SELECT * FROM no_such_table WHERE name = :name"),
                    {"name": "Поліна Отрутенко"},
                )
    finally:
        await engine.dispose()
    assert "Отрутенко" not in str(raised.value)


def test_every_engine_is_made_by_storage_db() -> None:
    """``hide_parameters`` holds for every engine only if they all come from one place."""
    makers = re.compile(r"\b(create_async_engine|engine_from_config|async_engine_from_config)\(")
    found = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "bench", "broadcasts", "handlers", "migrations", "storage")
        for path in (ROOT / folder).rglob("*.py")
        if makers.search(path.read_text(encoding="utf-8"))
    ]
    assert found == ["storage/db.py"]
