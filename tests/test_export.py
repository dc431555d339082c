"""Exports: /export in the operator chat (CSV document through the fake Bot API) and
`citybot export` in the shell — UTF-8 with BOM, columns, personal data only for administrators,
every export audited, non-staff refused; no cell opens as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import run_admin
from bot.cli import _parser
from bot.config import load_settings
from storage import polls
from storage.csv_safe import neutralise
from storage.export import (
    AVAILABLE,
    POLL_COLUMNS,
    RESIDENT_COLUMNS,
    RESIDENT_PERSONAL,
    TICKET_COLUMNS,
    TICKET_PERSONAL,
    ExportKind,
    Period,
    export_csv,
)
from tests.staff_world import ADMIN, OPERATOR, OTHER_GROUP, OUTSIDER, World, staff_world
from tests.stats_seed import NOW, Seed

pytestmark = pytest.mark.migrated_database


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Ukrainian text
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def _document(world: World, chat_id: int | None = None) -> tuple[bytes, str]:
    message = world.chat(chat_id)[-1]
    document = message["document"]
    data = world.telegram.file_content(document["file_id"])
    assert data is not None
    return data, message.get("caption", "")


def _documents(world: World, chat_id: int | None = None) -> list[dict[str, Any]]:
    return [m for m in world.chat(chat_id) if "document" in m]


async def _seed(world: World) -> str:
    seed = Seed(world.runtime.sessionmaker)
    now = world.clock()
    resident = await seed.resident(created_at=now - timedelta(days=1))
    await seed.ticket(resident_id=resident, received_at=now - timedelta(hours=2))
    # Outside the period: not exported.
    await seed.ticket(resident_id=resident, received_at=now - timedelta(days=40))
    # Their cards now, as the minute's catch-up would: later, they would land among the
    # messages the tests read as the chat's last.
    assert await world.desk.post_pending() == 2
    today = world.clock().astimezone(world.runtime.settings.zone).date()
    return f"{(today - timedelta(days=3)).isoformat()} {today.strftime('%d.%m.%Y')}"


async def test_export_personal_data_only_for_admins(database_url: str) -> None:
    async with staff_world(database_url) as world:
        period = await _seed(world)
        world.telegram.open_private_chat(ADMIN)  # the administrator has started the bot
        await world.say(ADMIN, f"/export tickets {period}")
        # The file with personal data is in the administrator's private chat, not in the group,
        # where operators and anyone else in it could download it; the group gets a notice.
        assert _documents(world) == []
        assert "надіслано вам в особистий чат" in world.texts()[-1]
        assert "Ірина Адмін" in world.texts()[-1]
        data, caption = await _document(world, ADMIN)
        rows = _rows(data)
        assert tuple(rows[0]) == TICKET_COLUMNS + TICKET_PERSONAL
        assert len(rows) == 2 and "Оксана Петренко" in rows[1] and "ternivskyi" in rows[1]
        assert "з персональними даними" in caption
        # Without personal columns the file may stay in the group, as before.
        await world.say(OPERATOR, f"/export tickets {period}")
        data, caption = await _document(world)
        rows = _rows(data)
        assert tuple(rows[0]) == TICKET_COLUMNS
        assert not any("Петренко" in cell or "@" in cell for row in rows for cell in row)
        assert "без персональних даних" in caption
        await world.say(OPERATOR, f"/export residents {period}")
        rows = _rows((await _document(world))[0])
        assert tuple(rows[0]) == RESIDENT_COLUMNS and len(rows) == 3  # and who pressed /start
        assert rows[1][RESIDENT_COLUMNS.index("topics")] == "city_news"
        await world.say(OPERATOR, f"/export polls {period}")
        data, caption = await _document(world)
        assert tuple(_rows(data)[0]) == POLL_COLUMNS and caption.startswith("📎 Опитування")
        assert len(_documents(world)) == 3 and len(_documents(world, ADMIN)) == 1
        audits = await world.audit("export.tickets")
        assert [(a.actor, a.details["personal"], a.details["rows"]) for a in audits] == [
            (f"staff:{ADMIN}", True, 1),
            (f"staff:{OPERATOR}", False, 1),
        ]
        assert [a.details["to"] for a in audits] == [ADMIN, world.chat_id]
        assert len(await world.audit("export.residents")) == 1
        assert await world.audit("export.undelivered") == []


async def test_an_admin_who_never_started_the_bot_gets_no_file(database_url: str) -> None:
    async with staff_world(database_url) as world:
        period = await _seed(world)
        await world.say(ADMIN, f"/export residents {period}")
        # Telegram refuses (403): a bot cannot start a conversation. No file anywhere; the group
        # is told how to let the bot write to them.
        assert _documents(world) == [] and world.chat(ADMIN) == []
        assert world.telegram.calls_to("sendDocument")[-1]["chat_id"] == ADMIN
        text = world.texts()[-1]
        assert "Ірина Адмін" in text and "/start" in text and "приватний чат" in text
        [undelivered] = await world.audit("export.undelivered")
        assert undelivered.actor == f"staff:{ADMIN}" and undelivered.details["personal"]
        # Once they have started it, the same command delivers the file privately.
        started = await world.telegram.send_text(ADMIN, "/start")
        assert started.status == 200
        await world.say(ADMIN, f"/export residents {period}")
        assert _documents(world) == []
        rows = _rows((await _document(world, ADMIN))[0])
        assert tuple(rows[0]) == RESIDENT_COLUMNS + RESIDENT_PERSONAL


async def test_export_refusals(database_url: str) -> None:
    async with staff_world(database_url) as world:
        period = await _seed(world)
        await world.say(OUTSIDER, f"/export tickets {period}")
        assert "лише для працівників" in world.texts()[-1]
        [denied] = await world.audit("stats.denied")
        assert denied.details["what"] == "/export"
        await world.say(ADMIN, "/export tickets yesterday today")
        assert "Не розумію період" in world.texts()[-1]
        await world.say(ADMIN, "/export everything")
        assert "Формат" in world.texts()[-1]
        assert await world.audit("export.tickets") == []
        # Not a staff chat at all: the command is left alone.
        before = len(world.chat(OTHER_GROUP))
        await world.say(ADMIN, f"/export tickets {period}", chat_id=OTHER_GROUP)
        assert len(world.chat(OTHER_GROUP)) == before


async def test_shell_export(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with staff_world(database_url) as world:
        period = (await _seed(world)).split()
    settings = load_settings({"CITYBOT_DATABASE_URL": database_url})
    out = tmp_path / "tickets.csv"
    argv = ["export", "tickets", *period, "--out", str(out)]
    assert await run_admin(settings, _parser().parse_args(argv)) == 0
    rows = _rows(out.read_bytes())
    assert tuple(rows[0]) == TICKET_COLUMNS + TICKET_PERSONAL and len(rows) == 2
    argv = ["export", "residents", *period, "--out", str(tmp_path / "r.csv"), "--no-personal"]
    assert await run_admin(settings, _parser().parse_args(argv)) == 0
    assert tuple(_rows((tmp_path / "r.csv").read_bytes())[0]) == RESIDENT_COLUMNS
    assert await run_admin(settings, _parser().parse_args(["export", "tickets", "x", "y"])) == 2
    assert "1 rows" in capsys.readouterr().err


# What a hostile resident (or a careless colleague) types where an export will show it.
HOSTILE = (
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "=1+1",
    "＝1+1",
)


def _spreadsheet_value(text: str) -> Any:
    """A CSV cell as Excel's import reads it: leading tabs and carriage returns are dropped;
    ``=`` starts a formula, so do ``+``, ``-`` and ``@`` unless the rest is a plain number
    (``@`` is Excel's implicit-intersection prefix of a formula); fullwidth ``＝`` folds to ``=``.
    Anything else is data. openpyxl stores a string starting with ``=`` as a formula cell."""
    stripped = text.lstrip("\t\r ").replace("＝", "=", 1)
    if stripped.startswith("="):
        return stripped
    if stripped.startswith(("+", "-")):
        try:
            return float(stripped)
        except ValueError:
            return "=" + stripped
    if stripped.startswith("@"):
        return "=" + stripped[1:]
    return text


def _formulas_after_import(data: bytes, path: Path) -> list[str]:
    """Import the CSV into a workbook, save it as .xlsx, reload it: the cells that are formulas."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for r, row in enumerate(csv.reader(io.StringIO(data.decode("utf-8-sig"))), start=1):
        for c, cell in enumerate(row, start=1):
            sheet.cell(row=r, column=c, value=_spreadsheet_value(cell))
    book.save(path)
    reloaded = openpyxl.load_workbook(path)[book.sheetnames[0]]
    return [str(c.value) for row in reloaded.iter_rows() for c in row if c.data_type == "f"]


def test_the_spreadsheet_model_sees_the_attacks() -> None:
    """The import model above is not toothless: every hostile text would be a formula."""
    for text in HOSTILE:
        value = _spreadsheet_value(text)
        assert isinstance(value, str) and value.startswith("="), text
    assert _spreadsheet_value("-5") == -5.0


def test_neutralise_quotes_strings_and_keeps_numbers() -> None:
    for text in HOSTILE:
        assert neutralise(text) == "'" + text
    assert neutralise(-3) == -3 and neutralise(2.5) == 2.5
    assert neutralise("-5") == "'-5"  # a person's text, even if it looks like a number
    assert neutralise("вул. Соборності, 1") == "вул. Соборності, 1"
    assert (neutralise(None), neutralise(True), neutralise(False)) == ("", "1", "0")


async def test_exports_with_hostile_input_open_without_formulas(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    seed = Seed(sessionmaker)
    day = timedelta(days=1)
    for i, text in enumerate(HOSTILE):
        resident = await seed.resident(name=text, created_at=NOW - day)
        await seed.ticket(
            resident_id=resident,
            full_name=text,
            contact=text,
            address=text,
            body=text,
            received_at=NOW - day + timedelta(minutes=i),
        )
    async with sessionmaker() as session, session.begin():
        await polls.create_poll(
            session, question=HOSTILE[0], options=HOSTILE[1:5], closes_at=NOW + day, now=NOW - day
        )
    zone = ZoneInfo("Europe/Kyiv")
    period = Period((NOW - 2 * day).date(), NOW.date())
    for kind in AVAILABLE:
        for personal in (True, False):
            async with sessionmaker() as session:
                export = await export_csv(
                    session, kind=kind, period=period, zone=zone, personal=personal
                )
            assert export.rows >= 4, kind
            path = tmp_path / f"{kind.value}_{personal}.xlsx"
            assert _formulas_after_import(export.data, path) == [], (kind, personal)
            # Nothing is lost: the quote in front is the only change.
            cells = {cell for row in _rows(export.data) for cell in row}
            shown = HOSTILE[:5] if kind is ExportKind.POLLS else HOSTILE if personal else ()
            assert {"'" + text for text in shown} <= cells, (kind, personal)
