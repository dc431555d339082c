"""``citybot media feed|term|items|correct|fetch`` and the staff correction of an item's topic
and tone (the staff core's operation, from the CLI and from the operator chat's ``/media``),
with its audit record; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import run_admin
from bot.cli import _parser
from bot.config import load_settings
from bot.telegram.staff.commands import media_tags
from handlers.staff.core import Actor, Desk, Reason, Refused, StaffCore
from handlers.staff.press import correct_item
from storage.models import AuditEntry, MediaFeed, MediaItem, WatchTerm
from storage.vocabulary import Role
from tests.media_world import media_server, seed_item
from tests.staff_accounts import add_staff
from tests.staff_world import ADMIN, OPERATOR, staff_world

pytestmark = pytest.mark.migrated_database

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
HEAD = 7301  # the read-only head of department


async def _admin(database_url: str, *argv: str) -> int:
    settings = load_settings({"CITYBOT_DATABASE_URL": database_url})
    return await run_admin(settings, _parser().parse_args(list(argv)))


async def _actions(sessionmaker: async_sessionmaker[AsyncSession], prefix: str) -> list[str]:
    async with sessionmaker() as session:
        found = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        )
        return list(found)


async def _item(session: AsyncSession) -> int:
    return await seed_item(session, at=NOW)


async def test_feeds_are_added_listed_and_removed(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _admin(database_url, "media", "feed", "list") == 0
    assert "no feeds yet" in capsys.readouterr().out
    url = "https://1city.example.ua/rss"
    assert await _admin(database_url, "media", "feed", "add", url, "--name", "Перше  місто") == 0
    assert capsys.readouterr().out == "feed 1 (Перше місто): added\n"
    for bad in ("javascript:alert(1)", "ftp://x/rss", "https://" + "a" * 1100):
        assert await _admin(database_url, "media", "feed", "add", bad) == 1
    assert "refused" in capsys.readouterr().err
    assert await _admin(database_url, "media", "feed", "list") == 0
    assert capsys.readouterr().out == f"1\tПерше місто\t{url}\tenabled\tnever fetched\n"
    assert await _admin(database_url, "media", "feed", "remove", "1") == 0
    assert await _admin(database_url, "media", "feed", "remove", "9") == 1
    assert "no feed 9" in capsys.readouterr().err
    # Added again: enabled, not a second row.
    assert await _admin(database_url, "media", "feed", "add", url) == 0
    assert capsys.readouterr().out.endswith("feed 1 (Перше місто): enabled\n")
    async with sessionmaker() as session:
        (feed,) = (await session.scalars(select(MediaFeed))).all()
        assert feed.enabled
    assert await _actions(sessionmaker, "media.") == [
        "media.feed_added",
        "media.feed_removed",
        "media.feed_enabled",
    ]


async def test_terms_are_added_with_their_lemmas_listed_and_removed(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        await _admin(
            database_url, "media", "term", "add", "Департамент  освіти", "--kind", "department"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("term 1 (department): департамент освіти, matched as ")
    assert "освіта" in out
    assert await _admin(database_url, "media", "term", "add", "департамент освіти") == 0
    assert "already watched" in capsys.readouterr().out
    for bad in ("  ", "🙂🙂", "x" * 200):
        assert await _admin(database_url, "media", "term", "add", bad) == 1
    capsys.readouterr()
    assert await _admin(database_url, "media", "term", "list") == 0
    listing = capsys.readouterr().out
    assert "-\tcouncil\tміська рада\tbuilt-in" in listing
    assert "-\tdistrict\tТернівський район\tbuilt-in" in listing
    assert "1\tdepartment\tдепартамент освіти\t" in listing
    assert await _admin(database_url, "media", "term", "remove", "департамент освіти") == 0
    assert await _admin(database_url, "media", "term", "remove", "немає такого") == 1
    async with sessionmaker() as session:
        assert (await session.scalars(select(WatchTerm))).all() == []
    assert await _actions(sessionmaker, "media.term") == ["media.term_added", "media.term_removed"]


async def test_staff_correct_an_item_from_the_cli_with_audit(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with sessionmaker() as session, session.begin():
        await add_staff(session, OPERATOR, Role.OPERATOR, now=NOW)
        await add_staff(session, HEAD, Role.HEAD, now=NOW)
        item_id = await _item(session)
    assert await _admin(database_url, "media", "items", "--days", "4000") == 0
    assert f"{item_id}\t2026-12-05 09:00\t" in capsys.readouterr().out
    args = ("media", "correct", str(item_id), "--topic", "social", "--tone", "negative")
    assert await _admin(database_url, *args, "--staff", str(OPERATOR)) == 0
    assert capsys.readouterr().out == f"item {item_id}: social, negative\n"
    # The read-only head of department, an unknown account, an unknown item: refused.
    assert await _admin(database_url, *args, "--staff", str(HEAD)) == 1
    assert "refused (role)" in capsys.readouterr().err
    assert await _admin(database_url, *args, "--staff", "999") == 1
    assert "refused (not_staff)" in capsys.readouterr().err
    assert (
        await _admin(
            database_url, "media", "correct", "77", "--tone", "positive", "--staff", str(OPERATOR)
        )
        == 1
    )
    assert "refused (not_found): item: 77" in capsys.readouterr().err
    async with sessionmaker() as session:
        item = await session.get(MediaItem, item_id)
        assert item is not None
        assert (item.topic, item.tone, item.corrected_by) == ("social", "negative", OPERATOR)
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "media.corrected"))
        ).all()
    [entry] = entries
    assert entry.actor == f"staff:{OPERATOR}" and entry.subject == f"media_item:{item_id}"
    assert entry.details["before"] == {"topic": "council_work", "tone": "neutral"}
    assert entry.details["after"] == {"topic": "social", "tone": "negative"}
    assert entry.details["desk"] == "cli"
    assert await _actions(sessionmaker, "staff.denied") == ["staff.denied", "staff.denied"]


async def test_the_core_refuses_unknown_tags(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        await add_staff(session, OPERATOR, Role.OPERATOR, now=NOW)
        item_id = await _item(session)
    core = StaffCore(sessionmaker=sessionmaker, clock=lambda: NOW)
    actor = Actor(OPERATOR, desk=Desk.WEB)
    for topic, tone in ((None, None), ("weather", None), (None, "furious")):
        refused = await correct_item(core, actor, item_id, topic=topic, tone=tone)
        assert isinstance(refused, Refused) and refused.reason is Reason.INVALID
    done = await correct_item(core, actor, item_id, tone="positive")
    assert not isinstance(done, Refused)
    assert (done.value.topic, done.value.tone) == ("council_work", "positive")


def test_media_command_arguments() -> None:
    assert media_tags("12 social negative") == (12, "social", "negative")
    assert media_tags("12 NEGATIVE") == (12, None, "negative")
    assert media_tags("12 housing") == (12, "housing", None)
    for wrong in ("", "x social", "12 social sad", "12 social negative extra", "1" * 13):
        assert media_tags(wrong) is None


async def test_operator_corrects_an_item_in_the_chat(database_url: str) -> None:
    async with staff_world(database_url) as world:
        async with world.runtime.sessionmaker() as session, session.begin():
            item_id = await _item(session)
        await world.say(OPERATOR, f"/media {item_id} housing negative")
        assert world.texts()[-1] == (
            f"✅ Згадку №{item_id} виправлено: Житло та комунальні послуги, 🔴 негативна."
        )
        await world.say(ADMIN, "/media 999 positive")
        assert world.texts()[-1] == "Згадки №999 немає (див. citybot media items)."
        await world.say(ADMIN, "/media")
        assert world.texts()[-1].startswith("Як виправити згадку у ЗМІ")
        [entry] = await world.audit("media.corrected")
        assert entry.actor == f"staff:{OPERATOR}" and entry.details["desk"] == "telegram"


async def test_fetch_from_the_cli(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with media_server() as server:
        assert await _admin(database_url, "media", "feed", "add", server.url("first.xml")) == 0
        capsys.readouterr()
        assert await _admin(database_url, "media", "fetch") == 0
        assert capsys.readouterr().out == "feed 1: ok, 3 new item(s) kept\n"
    async with sessionmaker() as session:
        assert len((await session.scalars(select(MediaItem))).all()) == 3
