"""``citybot keywords``: list, add, remove, test and report, each change audited; bad input
gets a clear answer and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import run_admin
from bot.cli import _parser
from bot.config import load_settings
from storage import recategorize
from storage.models import AuditEntry, Ticket


async def _admin(database_url: str, *argv: str) -> int:
    settings = load_settings({"CITYBOT_DATABASE_URL": database_url})
    return await run_admin(settings, _parser().parse_args(list(argv)))


async def _audit(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.action.startswith("keywords."))
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


async def test_list_add_remove_and_test(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _admin(database_url, "keywords", "list", "housing") == 0
    listing = capsys.readouterr().out.splitlines()
    assert "housing\tліфт\t1\tdefault" in listing
    assert all(line.startswith("housing\t") for line in listing)

    text = "Добрий день, на майданчику біля школи зламаний батут"
    assert await _admin(database_url, "keywords", "test", text) == 0
    before = capsys.readouterr().out
    assert "батут" not in before

    assert (
        await _admin(
            database_url, "keywords", "add", "improvement", "Батут", "ліхтар", "--weight", "2"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "added to improvement: батут" in out and "already in improvement: ліхтар" in out
    assert await _admin(database_url, "keywords", "test", text) == 0
    ranking = capsys.readouterr().out.splitlines()
    assert ranking[0].startswith("1. improvement")
    assert "батут (батут)" in ranking[0] and "майданчик (майданчику)" in ranking[0]
    assert len(ranking) == 6

    assert await _admin(database_url, "keywords", "remove", "improvement", "БАТУТ") == 0
    assert "removed from improvement: батут" in capsys.readouterr().out
    assert await _admin(database_url, "keywords", "list", "improvement") == 0
    assert "батут" not in capsys.readouterr().out

    entries = await _audit(sessionmaker)
    assert [(e.action, e.actor, e.subject) for e in entries] == [
        ("keywords.add", "cli", "category:improvement"),
        ("keywords.remove", "cli", "category:improvement"),
    ]
    assert entries[0].details == {"phrases": ["батут"], "weight": 2.0}
    assert entries[1].details == {"phrase": "батут"}

    assert await _admin(database_url, "keywords", "test", "👍") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("1. other") and "no keyword matched" in out


async def test_bad_input_changes_nothing(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _admin(database_url, "keywords", "add", "housing", "ок", "!!!") == 2
    assert "at least one letter" in capsys.readouterr().err
    assert await _admin(database_url, "keywords", "add", "housing", "кран", "--weight", "50") == 2
    assert "weight" in capsys.readouterr().err
    assert await _admin(database_url, "keywords", "remove", "housing", "немає такого") == 1
    assert "is not in housing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parser().parse_args(["keywords", "add", "weather", "дощ"])
    assert await _admin(database_url, "keywords", "list", "housing") == 0
    assert "\tок\t" not in capsys.readouterr().out
    assert await _audit(sessionmaker) == []


async def test_report_suggested_against_final(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _admin(database_url, "keywords", "report") == 0
    assert "no tickets with a suggestion yet" in capsys.readouterr().out
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        for number, suggested, chosen in (
            ("ВД-2026-000001", "housing", "housing"),
            ("ВД-2026-000002", "housing", "housing"),
            ("ВД-2026-000003", "improvement", "housing"),
            ("ВД-2026-000004", None, "social"),
        ):
            session.add(
                Ticket(
                    number=number,
                    kind="feedback",
                    status="new",
                    channel="viber",
                    queue_code="housing" if chosen == "housing" else "social",
                    category=chosen,
                    suggested_category=suggested,
                    received_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    async with sessionmaker() as session, session.begin():
        ticket = (
            await session.scalars(select(Ticket).where(Ticket.number == "ВД-2026-000002"))
        ).one()
        await recategorize.change_category(
            session, ticket, category="roads_transport", actor="staff:7002", now=now
        )
    assert await _admin(database_url, "keywords", "report") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "suggested = the resident's choice: 2 of 3 (67%)",
        "  suggested \\ chosen\thousing",
        "  housing\t2",
        "  improvement\t1",
        "suggested = the final category (after staff changes): 1 of 3 (33%)",
        "  suggested \\ final\thousing\troads_transport",
        "  housing\t1\t1",
        "  improvement\t1\t0",
        "category changes by staff: 1",
        "ВД-2026-000002\thousing -> roads_transport\tsuggested housing",
    ]
