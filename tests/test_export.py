"""Exports: /export in the operator chat (CSV document through the fake Bot API) and
`citybot export` in the shell — UTF-8 with BOM, columns, personal data only for administrators,
every export audited, non-staff refused."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest

from bot.admin import run_admin
from bot.cli import _parser
from bot.config import load_settings
from storage.export import RESIDENT_COLUMNS, TICKET_COLUMNS, TICKET_PERSONAL
from tests.staff_world import ADMIN, OPERATOR, OTHER_GROUP, OUTSIDER, World, staff_world
from tests.stats_seed import Seed


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Ukrainian text
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def _document(world: World) -> tuple[bytes, str]:
    message = world.chat()[-1]
    document = message["document"]
    data = world.telegram.file_content(document["file_id"])
    assert data is not None
    return data, message.get("caption", "")


async def _seed(world: World) -> str:
    seed = Seed(world.runtime.sessionmaker)
    now = world.clock()
    resident = await seed.resident(created_at=now - timedelta(days=1))
    await seed.ticket(resident_id=resident, received_at=now - timedelta(hours=2))
    # Outside the period: not exported.
    await seed.ticket(resident_id=resident, received_at=now - timedelta(days=40))
    today = world.clock().astimezone(world.runtime.settings.zone).date()
    return f"{(today - timedelta(days=3)).isoformat()} {today.strftime('%d.%m.%Y')}"


async def test_export_personal_data_only_for_admins(database_url: str) -> None:
    async with staff_world(database_url) as world:
        period = await _seed(world)
        await world.say(ADMIN, f"/export tickets {period}")
        data, caption = await _document(world)
        rows = _rows(data)
        assert tuple(rows[0]) == TICKET_COLUMNS + TICKET_PERSONAL
        assert len(rows) == 2 and "Оксана Петренко" in rows[1] and "ternivskyi" in rows[1]
        assert "з персональними даними" in caption
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
        audits = await world.audit("export.tickets")
        assert [(a.actor, a.details["personal"], a.details["rows"]) for a in audits] == [
            (f"staff:{ADMIN}", True, 1),
            (f"staff:{OPERATOR}", False, 1),
        ]
        assert len(await world.audit("export.residents")) == 1


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
