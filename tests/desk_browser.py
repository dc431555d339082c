"""The web desk in a real browser: Debian's Chromium driven by Playwright (no browser download),
with axe-core (shipped by ``axe-playwright-python``) checking each page for accessibility.

``signed_in_page`` signs a staff member in through the login form, as a person would. ``check_a11y``
fails on any serious or critical axe violation and names it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Dialog, Page

from tests.chromium import STEP_TIMEOUT_MS
from tests.desk_world import Account, DeskWorld

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
SERIOUS = frozenset({"serious", "critical"})
POLL_SECONDS = 0.05


async def wait_until(page: Page, expression: str) -> None:
    """Wait for a JavaScript expression to be true. Not ``page.wait_for_function``: its polling
    evaluates the string with ``eval``, which the desk's CSP (no 'unsafe-eval') refuses, so it
    fails whenever the first check is false; ``evaluate`` runs outside the page's CSP."""
    for _ in range(int(STEP_TIMEOUT_MS / 1000 / POLL_SECONDS)):
        if await page.evaluate(expression):
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"still false after {STEP_TIMEOUT_MS} ms: {expression}")


@dataclass
class Tab:
    page: Page
    context: BrowserContext
    # Script errors, console errors (a CSP violation is one) and dialogs seen.
    errors: list[str] = field(default_factory=list)


async def open_tab(
    browser: Browser, world: DeskWorld, *, viewport: dict[str, int] = DESKTOP
) -> Tab:
    """A new browser profile (its own cookies) on the desk's login page."""
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    tab = Tab(page=page, context=context)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)

    async def no_dialogs(dialog: Dialog) -> None:
        tab.errors.append(f"dialog opened: {dialog.message}")
        await dialog.dismiss()

    page.on("dialog", no_dialogs)
    await page.goto(world.base + "/desk/login")
    return tab


async def sign_in(tab: Tab, world: DeskWorld, account: Account) -> None:
    """Through the login form, as a person types it."""
    page = tab.page
    await page.goto(world.base + "/desk/login")
    await page.get_by_label("Логін").fill(account.login)
    await page.get_by_label("Пароль").fill(account.password)
    await page.get_by_role("button", name="Увійти").click()
    if account.totp_secret is not None:
        await page.get_by_label("Код із застосунку-автентифікатора").fill(account.code(world.clock))
        await page.get_by_role("button", name="Увійти").click()
    await page.get_by_role("button", name="Вийти").wait_for()


async def check_a11y(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    results = await Axe().run(page)
    found = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation.get("impact") in SERIOUS
    ]
    assert found == [], "\n".join(found)
