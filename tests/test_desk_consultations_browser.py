"""Consultations in Chromium, with the keyboard alone: an editor reaches a consultation from the
navigation and records a decision on a comment; no accessibility violation, no script or CSP
error. SQLite only (tests/test_desk_consultations.py runs both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.staff import consultations as ops
from handlers.staff.core import Actor, Desk
from storage.consultations import QuestionDraft
from storage.models import ConsultationSubmission
from storage.vocabulary import Role
from tests.chromium import chromium
from tests.desk_browser import DESKTOP, check_a11y, open_tab, sign_in
from tests.desk_world import desk_world
from tests.test_desk_consultations import _submit
from tests.test_desk_incidents_browser import _tab_to
from tests.test_staff_core_tickets import done

pytestmark = pytest.mark.migrated_database


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_decide_with_the_keyboard(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        olena = await world.account("olena", Role.EDITOR, name="Олена Редактор")
        actor = Actor(olena.id, desk=Desk.WEB)
        core = world.runtime.consultations
        draft = ops.Draft(
            title="Правила благоустрою",
            summary="Проєкт змінює правила прибирання дворів.",
            topic="decisions",
            opens_at=world.clock(),
            closes_at=world.clock() + timedelta(days=7),
            questions=(QuestionDraft("Чи підтримуєте?", ("Так", "Ні")),),
            document_url="https://kr.gov.ua/draft.pdf",
        )
        number = done(await ops.create(core, actor, draft)).id
        done(await ops.publish(core, actor, number))
        submission = await _submit(world, number)
        tab = await open_tab(browser, world, viewport=DESKTOP)
        await sign_in(tab, world, olena)
        page = tab.page

        await page.locator("main").focus()
        await _tab_to(page, 'a[href="/desk/consultations"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.get_by_role("heading", name="Обговорення").wait_for()
        await check_a11y(page)
        await _tab_to(page, f'a[href="/desk/consultations/{number}"]')
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await check_a11y(page)

        await _tab_to(page, f"#decision-{submission}")
        while await page.evaluate("document.activeElement.value") != "partly":
            await page.keyboard.press("ArrowDown")
        await _tab_to(page, f"#reason-{submission}")
        await page.keyboard.type("Частину врахуємо")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.get_by_text("Рішення записано").wait_for()
        await check_a11y(page)
        assert tab.errors == []
        async with world.runtime.sessionmaker() as session:
            row = await session.get(ConsultationSubmission, submission)
        assert row is not None and row.decision == "partly"
        assert row.decision_reason == "Частину врахуємо"
