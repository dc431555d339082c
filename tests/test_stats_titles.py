"""/stats lists recent broadcasts by title: a title (or, without one, the news text) that holds
markup — the stored Telegram HTML of a news item, Markdown typed into a title or a feed — is
shown as plain words, never as raw tags or asterisks, and nothing in it becomes markup."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.stats_text import plain_title
from storage.models import Broadcast
from tests.staff_world import OPERATOR, staff_world
from tests.stats_seed import NOW

pytestmark = pytest.mark.migrated_database


async def _broadcast(
    sessionmaker: async_sessionmaker[AsyncSession], *, title: str | None, text: str
) -> None:
    started = NOW - timedelta(hours=1)
    async with sessionmaker() as session, session.begin():
        session.add(
            Broadcast(
                kind="news",
                title=title,
                text=text,
                status="finished",
                created_at=started,
                started_at=started,
            )
        )


def test_plain_title_drops_tags_and_markdown_and_decodes_entities() -> None:
    assert plain_title('<b>Ремонт</b> <a href="https://kr.gov.ua">мосту</a>') == "Ремонт мосту"
    assert plain_title("**Увага**: __вода__ ~~світло~~ `газ`") == "Увага: вода світло газ"
    assert plain_title("Тарифи &amp; пільги\n&lt;2026&gt;") == "Тарифи & пільги <2026>"
    # Lone asterisks and underscores are words, not markup.
    assert plain_title("2*3*4 = 24, snake_case") == "2*3*4 = 24, snake_case"


async def test_stats_shows_news_titles_as_plain_text(database_url: str) -> None:
    async with staff_world(database_url) as world:
        sessionmaker = world.runtime.sessionmaker
        await _broadcast(
            sessionmaker,
            title=None,
            text="<b>Ремонт</b> <i>мосту</i> &amp; шляхопроводу\nз 1 грудня",
        )
        await _broadcast(sessionmaker, title="**Увага**: <tg-spoiler>вода</tg-spoiler>", text="x")
        await _broadcast(sessionmaker, title="Тарифи &lt;b&gt; 2026", text="y")
        before = len(world.chat())
        await world.say(OPERATOR, "/stats")
        posted = [m for m in world.chat()[before:] if "Останні розсилки" in (m.get("text") or "")]
        assert posted, [m.get("text") for m in world.chat()[before:]]
        text = posted[0]["text"]
        assert "Ремонт мосту & шляхопроводу з 1 грудня" in text
        assert "Увага: вода" in text
        # Typed as text, shown as text (escaped for the HTML parse mode, not taken as a tag).
        assert "Тарифи <b> 2026" in text
        for raw in ("<b>", "</b>", "<i>", "**", "&amp;", "&lt;", "tg-spoiler"):
            assert raw not in text.replace("Тарифи <b> 2026", ""), raw
        # Nothing of the titles became formatting either.
        call = next(
            c for c in world.telegram.calls_to("sendMessage") if "Останні розсилки" in c["text"]
        )
        assert "<b>Ремонт" not in call["text"] and "&lt;b&gt; 2026" in call["text"]
