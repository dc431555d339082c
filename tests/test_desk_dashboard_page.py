"""The Dashboard at /desk/dashboard over real HTTP on both databases: the figures of each
department, the chart of new tickets per day (inline SVG, its data as a table), and who may see
it (heads their departments, administrators all, others refused)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from storage.vocabulary import Role
from tests.desk_seed import NOW, DeskSeed
from tests.desk_world import desk_world

pytestmark = pytest.mark.migrated_database


def department_row(body: str, code: str) -> list[str]:
    block = body.split(f'<tr data-department="{code}">', 1)[1].split("</tr>", 1)[0]
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", block)
    ]


async def test_figures_chart_and_table(database_url: str) -> None:
    async with desk_world(database_url) as world:
        world.clock.now = NOW
        seed = DeskSeed(world.runtime.sessionmaker)
        head = await world.account("olena", Role.HEAD, name="Олена")
        # Closed within 30 days: answered after 2 h, closed after 3 days, on time, rated 4.
        await seed.filed(
            status="closed",
            received_at=NOW - timedelta(days=5),
            deadline_at=NOW + timedelta(days=5),
            first_answer_after=timedelta(hours=2),
            closed_after=timedelta(days=3),
            rating=4,
        )
        # Closed late, answered after 40 minutes, rated 5.
        await seed.filed(
            status="closed",
            category="social",
            received_at=NOW - timedelta(days=20),
            deadline_at=NOW - timedelta(days=15),
            first_answer_after=timedelta(minutes=40),
            closed_after=timedelta(days=9),
            rating=5,
        )
        await seed.filed(deadline_at=NOW - timedelta(hours=1), received_at=NOW - timedelta(days=1))
        await seed.filed(queue="transport", category="roads_transport")

        browser = await world.signed_in(head)
        status, body = await browser.get("/desk/dashboard")
        assert status == 200
        assert department_row(body, "housing") == [
            "Житлово-комунальне господарство",
            "1",  # open
            "1",  # overdue
            "0",  # due within a working day
            "1",  # unassigned
            "1 год 20 хв",  # median first answer: (2 h + 40 min) / 2
            "6 дн 0 год",  # median close: (3 d + 9 d) / 2
            "50 % (1 з 2)",
            "4,5 з 5, оцінок: 2",
        ]
        # Only the head's own department.
        assert 'data-department="transport"' not in body
        # The chart: an image with a title and description, bars with their numbers, a legend,
        # and the same numbers as a table.
        assert re.search(r'<svg class="chart"[^>]*role="img"[^>]*aria-labelledby=', body)
        assert body.count("<rect ") == 3
        assert "Житло та комунальні послуги: 1</title>" in body
        assert 'class="legend"' in body and "Соціальний захист" in body
        table = body.split('<table class="chart-data">', 1)[1].split("</table>", 1)[0]
        assert table.count("<tr>") == 31  # the header and 30 days
        day = (NOW - timedelta(days=5)).strftime("%d.%m.%Y")
        assert re.search(rf"<th scope=\"row\">{day}</th>\s*<td>1</td>", table)
        assert 'style="' not in body and "<script>" not in body

        # English: the same page in the other language.
        await browser.post("/desk/language", {"lang": "en", "back": "/desk/dashboard"})
        status, body = await browser.get("/desk/dashboard")
        assert "Median time to first answer" in body and "1 h 20 min" in body


async def test_who_may_open_the_dashboard(database_url: str) -> None:
    async with desk_world(database_url) as world:
        world.clock.now = NOW
        seed = DeskSeed(world.runtime.sessionmaker)
        await seed.filed()
        await seed.filed(queue="transport", category="roads_transport")
        operator = await world.account("maria", Role.OPERATOR)
        editor = await world.account("ed", Role.EDITOR)
        admin = await world.account("root", Role.ADMIN, departments=None, totp=True)
        other_head = await world.account("ivan", Role.HEAD, departments=("transport",))

        browser = await world.browser()
        async with browser.http.get(
            world.base + "/desk/dashboard", allow_redirects=False
        ) as response:
            assert response.status == 303 and response.headers["Location"] == "/desk/login"
        for account in (operator, editor):
            signed = await world.signed_in(account)
            status, body = await signed.get("/desk/dashboard")
            assert status == 403
            # And the navigation does not offer it.
            _, body = await signed.get("/desk/")
            assert 'href="/desk/dashboard"' not in body
        signed = await world.signed_in(admin)
        status, body = await signed.get("/desk/dashboard")
        assert status == 200
        assert 'data-department="housing"' in body and 'data-department="transport"' in body
        assert 'data-department="legal_aid"' in body  # every department, even an empty one
        signed = await world.signed_in(other_head)
        status, body = await signed.get("/desk/dashboard")
        assert status == 200
        assert 'data-department="transport"' in body and 'data-department="housing"' not in body
        _, body = await signed.get("/desk/")
        assert 'href="/desk/dashboard"' in body
