"""Media monitoring in the web desk over real HTTP on both databases: the digest as a page
(tone, topics beside residents' tickets, stories with links, tone by week), and the
correction form (the staff core's operation, audited; the head of department only reads)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import MediaItem
from storage.vocabulary import Role
from tests.desk_seed import NOW, DeskSeed
from tests.desk_world import desk_world
from tests.media_world import seed_item

pytestmark = pytest.mark.migrated_database


async def test_the_page_and_a_correction(database_url: str) -> None:
    async with desk_world(database_url) as world:
        world.clock.now = NOW
        async with world.runtime.sessionmaker() as session, session.begin():
            first = await seed_item(session, at=NOW - timedelta(days=1), tone="negative")
            await seed_item(
                session,
                at=NOW - timedelta(days=2),
                url="javascript:alert(1)",
                title="<script>alert(1)</script> Сквер у Покровському районі",
                topic="improvement",
                tone="positive",
            )
        await DeskSeed(world.runtime.sessionmaker).filed(received_at=NOW - timedelta(days=1))
        maria = await world.account("maria", Role.OPERATOR, name="Марія")
        browser = await world.signed_in(maria)
        status, body = await browser.get("/desk/media")
        assert status == 200
        assert "Згадок у ЗМІ за тиждень: <b>2</b> (попередній тиждень: 0, +2)" in body
        assert '<tr data-topic="housing"><th scope="row">Житло та комунальні послуги</th>' in body
        housing = body.split('data-topic="housing"', 1)[1].split("</tr>", 1)[0]
        assert "<td>0</td><td>+0</td>" in housing and "<td>1</td><td>+1</td>" in housing
        negative = body.split('data-tone="negative"', 1)[1].split("</tr>", 1)[0]
        assert "<td>1</td><td>+1</td>" in negative
        assert 'href="https://1city.example.ua/a" rel="noopener noreferrer"' in body
        # What a feed wrote is escaped; a link that is not http(s) is not a link.
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
        assert 'href="javascript:' not in body
        status, body = await browser.post(
            f"/desk/media/{first}", {"topic": "social", "tone": "positive"}
        )
        assert status == 200 and "Тему й тон виправлено." in body
        assert "виправлено працівником" in body
        status, body = await browser.post(f"/desk/media/{first}", {"tone": "furious"})
        assert status == 422
        status, _ = await browser.post("/desk/media/999", {"tone": "positive"})
        assert status == 404
        async with world.runtime.sessionmaker() as session:
            item = await session.get(MediaItem, first)
            assert item is not None and (item.topic, item.tone) == ("social", "positive")
            assert item.corrected_by == maria.id
        [entry] = await world.audit("media.corrected")
        assert entry.details["desk"] == "web"
        assert entry.details["before"] == {"topic": "council_work", "tone": "negative"}


async def test_the_head_reads_but_may_not_correct(database_url: str) -> None:
    async with desk_world(database_url) as world:
        world.clock.now = NOW
        async with world.runtime.sessionmaker() as session, session.begin():
            item = await seed_item(session, at=NOW - timedelta(hours=3))
        head = await world.account("olena", Role.HEAD)
        browser = await world.signed_in(head)
        status, body = await browser.get("/desk/media")
        assert status == 200 and "Сесія міської ради" in body
        assert f'action="/desk/media/{item}"' not in body
        status, _ = await browser.post(f"/desk/media/{item}", {"tone": "positive"})
        assert status == 403
        async with world.runtime.sessionmaker() as session:
            assert (await session.scalars(select(MediaItem.tone))).one() == "neutral"
