"""Polls in the web desk over real HTTP (bot/desk/polls.py): composed in the browser, sent by
the delivery engine, a Viber resident votes through the fake messenger, and the results page
shows the counts, shares, breakdowns and the chart; bad input and roles; on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select

from bot.schedule import schedule_jobs
from broadcasts.polls import JOB_NAME as POLL_JOB
from storage.models import Poll
from storage.vocabulary import Role
from tests.desk_world import desk_world
from tests.news_world import wait_for
from tests.test_broadcast_helpers import Person, wait_done
from tests.test_desk_news import add_people, post

pytestmark = pytest.mark.migrated_database

VB_VOTER = Person("viber", "VbDeskPollVoter000000001==", "pokrovskyi", ("city_news",))
VB_SILENT = Person("viber", "VbDeskPollSilent00000001==", "ternivskyi", ("city_news",))


async def test_compose_send_vote_and_results(database_url: str) -> None:
    async with desk_world(database_url, quiet_hours="") as world:
        await add_people(world, [VB_VOTER, VB_SILENT])
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        status, page = await browser.get("/desk/polls/new")
        assert status == 200 and 'name="question"' in page
        status, page, path = await post(
            browser,
            "/desk/polls/new",
            [
                ("question", "Чи потрібен новий сквер?"),
                ("options", "Так 🌳\nНі\nБайдуже"),
                ("action", "save"),
            ],
        )
        assert status == 200, page[:400]
        found = re.fullmatch(r"/desk/polls/(\d+)", path)
        assert found is not None, path
        poll_id = int(found.group(1))
        # The preview: the question and the buttons, in both messengers.
        assert "Чи потрібен новий сквер?" in page and "Так 🌳" in page
        assert 'class="phone viber"' in page
        status, page, _ = await post(browser, f"/desk/polls/{poll_id}/send", [("action", "send")])
        assert status == 200
        async with world.runtime.sessionmaker() as session:
            poll = (await session.scalars(select(Poll))).one()
        await wait_done(world.runtime.sessionmaker, poll.broadcast_id)
        assert await world.viber.press_button(VB_VOTER.external_id, "Так 🌳") == 200

        async def voted() -> bool:
            _, page = await browser.get(f"/desk/polls/{poll_id}")
            return "Проголосували 1 з 2" in page

        await wait_for(voted)
        status, page = await browser.get(f"/desk/polls/{poll_id}")
        assert "<td>Так 🌳</td><td>1</td><td>100%</td>" in page
        assert "За районами" in page and "Покровський" in page and "За месенджерами" in page
        async with browser.http.get(world.base + f"/desk/polls/{poll_id}/chart.png") as response:
            assert response.status == 200 and response.content_type == "image/png"
            assert (await response.read()).startswith(b"\x89PNG")
        [sent] = await world.audit("poll.sent")
        assert sent.details["desk"] == "web"
        # Closed early from the page.
        status, page, _ = await post(browser, f"/desk/polls/{poll_id}/close")
        assert status == 200 and "закрите" in page
        status, _ = await browser.get("/desk/polls")
        assert status == 200


async def test_bad_input_and_roles(database_url: str) -> None:
    async with desk_world(database_url) as world:
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        for fields, message in (
            ([("question", ""), ("options", "а\nб")], "poll"),
            ([("question", "Питання?"), ("options", "лише один")], "poll"),
            ([("question", "Питання?"), ("options", "так\nТАК")], "poll"),
            ([("question", "<script>x</script>"), ("options", "а\nб"), ("closes_date", "x")], ""),
        ):
            status, page, _ = await post(browser, "/desk/polls/new", fields)
            assert status == 400, (fields, page[:300])
            assert 'role="alert"' in page and message in page
            assert "<script>x" not in page
        async with world.runtime.sessionmaker() as session:
            assert (await session.scalars(select(Poll))).all() == []
        operator = await world.signed_in(await world.account("petro", Role.OPERATOR))
        for path in ("/desk/polls", "/desk/polls/new", "/desk/polls/1", "/desk/polls/1/chart.png"):
            status, _ = await operator.get(path)
            assert status == 403, path
        status, _, _ = await post(operator, "/desk/polls/new", [("question", "x")])
        assert status == 403


async def test_a_council_on_the_web_desk_alone_still_has_its_news_and_poll_jobs(
    database_url: str,
) -> None:
    """No Telegram staff chat: scheduled news start, RSS drafts arrive and polls close anyway."""
    async with desk_world(database_url) as world:
        runtime = world.runtime
        scheduler = AsyncIOScheduler(timezone=runtime.settings.zone)
        schedule_jobs(
            scheduler,
            runtime.settings,
            sessionmaker=runtime.sessionmaker,
            catalog=runtime.catalog,
            senders=runtime.senders,
            replies=runtime.replies,
            desk=None,
            telegram=None,
            clock=world.clock,
            wake=None,
        )
        ids = {job.id for job in scheduler.get_jobs()}
        assert {"news-scheduled", POLL_JOB} <= ids, ids


async def test_a_scheduled_poll_is_cancelled(database_url: str) -> None:
    async with desk_world(database_url) as world:
        await add_people(world, [VB_VOTER])
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        zone = world.runtime.settings.zone
        start = (world.clock() + timedelta(days=1)).astimezone(zone)
        early = (world.clock() + timedelta(hours=2)).astimezone(zone)
        fields = [
            ("question", "Коли прибирати парк?"),
            ("options", "Субота\nНеділя"),
            ("multiple", "1"),
            ("action", "schedule"),
            ("when_date", start.date().isoformat()),
            ("when_time", start.strftime("%H:%M")),
        ]
        # Closing before it starts is refused, nothing lost.
        status, page, _ = await post(
            browser,
            "/desk/polls/new",
            [
                *fields,
                ("closes_date", early.date().isoformat()),
                ("closes_time", early.strftime("%H:%M")),
            ],
        )
        assert status == 400 and "закрилося б раніше" in page and "Коли прибирати парк?" in page
        status, page, path = await post(browser, "/desk/polls/new", fields)
        assert status == 200 and "Заплановано на" in page, page[:300]
        async with world.runtime.sessionmaker() as session:
            poll = (await session.scalars(select(Poll))).one()
            assert poll.multiple
        status, page, _ = await post(browser, f"{path}/cancel")
        assert status == 200 and "закрите" in page
        assert await world.audit("poll.cancelled")
