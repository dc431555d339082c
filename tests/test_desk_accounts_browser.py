"""Staff accounts in Chromium: an invitation link as ``citybot staff add`` prints it, the
password, an administrator's second factor set up with a code pyotp computes, then the account
and administrators' pages; axe-core on each page, at a laptop's and a phone's width, with no
script error and no CSP violation."""

from __future__ import annotations

import pyotp
import pytest

from storage import staff_auth
from storage.staff import add_account
from storage.vocabulary import Role
from tests.chromium import SHARED_BROWSER, chromium
from tests.desk_browser import DESKTOP, PHONE, Tab, check_a11y, open_tab, sign_in
from tests.desk_world import DeskWorld, desk_world

pytestmark = [pytest.mark.migrated_database, *SHARED_BROWSER]

PASSWORD = "a long enough pass phrase"


async def _invite_link(world: DeskWorld, login: str, role: Role) -> str:
    async with world.runtime.sessionmaker() as session, session.begin():
        staff = await add_account(
            session, login=login, role=role, now=world.clock(), departments=("housing",)
        )
        token = await staff_auth.create_invite(session, staff, now=world.clock())
    return staff_auth.invite_link(world.base, token)


async def _set_password(tab: Tab, link: str) -> None:
    page = tab.page
    await page.goto(link)
    # The script took the token from the fragment: the paste field is hidden and the address
    # bar no longer shows it.
    await page.get_by_label("Новий пароль", exact=True).wait_for()
    assert not await page.locator("#token").is_visible()
    assert "#" not in page.url
    await check_a11y(page)
    await page.get_by_label("Новий пароль", exact=True).fill(PASSWORD)
    await page.get_by_label("Новий пароль ще раз").fill(PASSWORD)
    await page.get_by_role("button", name="Зберегти пароль і увійти").click()


async def _fits(tab: Tab, width: int) -> None:
    assert await tab.page.evaluate("document.documentElement.scrollWidth") <= width


async def test_an_administrator_from_invitation_to_desk(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        for viewport, login in ((DESKTOP, "admin.one"), (PHONE, "admin.two")):
            link = await _invite_link(world, login, Role.ADMIN)
            tab = await open_tab(browser, world, viewport=viewport)
            page = tab.page
            await _set_password(tab, link)
            # The second factor is set up before any page opens.
            await page.get_by_role("heading", name="Другий фактор входу").wait_for()
            assert await page.locator("svg.qr").count() == 1
            await check_a11y(page)
            await _fits(tab, viewport["width"])
            secret = await page.locator('input[name="secret"]').input_value()
            code = pyotp.TOTP(secret).at(world.clock())
            await page.get_by_label("Код із застосунку-автентифікатора").fill(code)
            await page.get_by_role("button", name="Підтвердити").click()
            await page.get_by_role("button", name="Вийти").wait_for()
            await check_a11y(page)
            for name, heading in (
                ("Мій профіль", "Мій профіль"),
                ("Працівники", "Працівники"),
                ("Журнал дій", "Журнал дій"),
                ("Календар", "Робочий календар"),
                ("Відділи", "Відділи та маршрути"),
                ("Шаблони відповідей", "Шаблони відповідей"),
            ):
                await page.get_by_role("link", name=name, exact=True).first.click()
                await page.get_by_role("heading", name=heading, level=1).wait_for()
                await check_a11y(page)
                await _fits(tab, viewport["width"])
            # An account's page, from the list.
            await page.get_by_role("link", name="Працівники", exact=True).first.click()
            await page.get_by_role("link", name=login).click()
            await page.get_by_role("heading", name="Роль і відділи").wait_for()
            await check_a11y(page)
            await _fits(tab, viewport["width"])
            assert tab.errors == []
            await tab.context.close()


async def test_an_admin_adds_a_colleague_who_signs_in(database_url: str) -> None:
    async with desk_world(database_url) as world, chromium() as browser:
        boss = await world.account("boss", Role.ADMIN, totp=True)
        tab = await open_tab(browser, world)
        await sign_in(tab, world, boss)
        page = tab.page
        await page.goto(world.base + "/desk/admin/staff")
        await page.get_by_label("Логін", exact=True).fill("maria")
        await page.get_by_label("Ім’я", exact=True).fill("Марія Коваль")
        await page.get_by_label("Роль").select_option("operator")
        await page.get_by_label("housing", exact=False).first.check()
        await page.get_by_role("button", name="Додати й отримати посилання").click()
        await page.get_by_role("heading", name="Посилання-запрошення").wait_for()
        await check_a11y(page)
        link = await page.get_by_label("Посилання для входу").input_value()
        assert "/desk/invite#" in link
        # The colleague, at a phone's width, in another browser profile.
        colleague = await open_tab(browser, world, viewport=PHONE)
        await _set_password(colleague, link)
        await colleague.page.get_by_role("button", name="Вийти").wait_for()
        await colleague.page.get_by_role("link", name="Мій профіль").click()
        await colleague.page.get_by_role("heading", name="Мій профіль", level=1).wait_for()
        assert await colleague.page.get_by_text("цей браузер").count() == 1
        await check_a11y(colleague.page)
        await _fits(colleague, PHONE["width"])
        assert tab.errors == [] and colleague.errors == []
