"""The sandbox page in a real browser: Debian's Chromium driven by Playwright (no browser download).

A newcomer's path: onboarding in both messengers, a ticket filed from the Viber pane and answered
from the operator pane, and news sent by staff reaching both resident panes. Screenshots of each
step are kept in ``test-artifacts/`` (or ``CITYBOT_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Dialog, Locator, Page, expect

from tests.chromium import SHARED_BROWSER, STEP_TIMEOUT_MS, chromium
from tests.sandbox_client import Sandbox, running_sandbox

pytestmark = SHARED_BROWSER

ARTIFACTS = Path(os.environ.get("CITYBOT_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest_asyncio.fixture(loop_scope="session")  # the loop of the tests and their browser
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@dataclass
class Tab:
    page: Page
    # Script errors, console errors and dialogs seen: a dialog would mean typed text ran.
    errors: list[str]


async def _open(browser: Browser, sandbox: Sandbox) -> Tab:
    page = await browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(STEP_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    async def no_dialogs(dialog: Dialog) -> None:
        # Anything typed by a person is text; a dialog would mean a script ran.
        errors.append(f"dialog opened: {dialog.message}")
        await dialog.dismiss()

    page.on("dialog", no_dialogs)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(sandbox.url + "/")
    return Tab(page, errors)


async def _shot(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _pane(page: Page, name: str) -> Locator:
    return page.locator(f'[data-pane="{name}"]')


async def _say(pane: Locator, text: str) -> None:
    await pane.locator('[data-role="input"]').fill(text)
    await pane.locator('[data-role="send"]').click()


async def _press(pane: Locator, label: str) -> None:
    """Press the newest button (inline or keyboard) showing exactly ``label``."""
    button = pane.locator(
        '[data-role="inline-button"], [data-role="keyboard-button"]',
        has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"),
    ).last
    await button.click()


def _last_bot_message(pane: Locator) -> Locator:
    return pane.locator('[data-role="message"][data-from="bot"]').last


async def _onboard(pane: Locator) -> None:
    await _press(pane, "✅ Погоджуюсь")
    await _press(pane, "Українська")
    await _press(pane, "Готово ✔️")
    await _press(pane, "Усе місто")
    await expect(_last_bot_message(pane)).to_contain_text("Готово!")


async def test_a_newcomer_files_answers_and_broadcasts(
    browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    async with running_sandbox(f"sqlite+aiosqlite:///{tmp_path}/sandbox.db") as sandbox:
        tab = await _open(browser, sandbox)
        page = tab.page
        telegram, viber, staff = _pane(page, "telegram"), _pane(page, "viber"), _pane(page, "staff")
        await expect(page.locator('[data-role="counters"]')).to_be_visible()
        await _shot(page, artifacts, "01-empty")

        # Onboarding in both messengers.
        await _say(telegram, "/start")
        await _onboard(telegram)
        await viber.locator('[data-role="start"]').click()
        await _onboard(viber)
        await _shot(page, artifacts, "02-onboarded")

        # A ticket from the Viber pane; what the resident typed is shown as text.
        typed = "Не працює ліфт <script>alert(1)</script> у під'їзді №3"
        await _say(viber, "/feedback")
        await _press(viber, "Інше")
        await _say(viber, typed)
        await _press(viber, "Далі ➡️")
        await _press(viber, "Ні")
        await expect(_last_bot_message(viber)).to_contain_text(typed)
        await _press(viber, "✅ Надіслати")
        await expect(_last_bot_message(viber)).to_contain_text(re.compile(r"ВД-\d{4}-\d{6}"))
        number = re.search(r"ВД-\d{4}-\d{6}", await _last_bot_message(viber).inner_text())
        assert number is not None
        await _shot(page, artifacts, "03-ticket-filed")

        # Answered from the operator pane, in the ticket's own topic.
        topic = staff.locator('[data-role="topic"]', has_text=number.group())
        await topic.click()
        await expect(staff.locator('[data-role="messages"]')).to_contain_text(typed)
        answer = "Дякуємо! Заявку передано до КП «Житлосервіс», ліфт полагодять до п'ятниці."
        await _say(staff, answer)
        await expect(viber.locator('[data-role="messages"]')).to_contain_text(answer)
        await _shot(page, artifacts, "04-answered")

        # Closed from the card's buttons; the resident confirms it is resolved and rates the
        # answer; staff see both.
        await _press(staff, "✅ Закрити")
        await _press(staff, "✅ Так, закрити")
        await expect(_last_bot_message(viber)).to_contain_text("розгляд завершено")
        # The card was edited in place by the bot, and the page shows the edit.
        card = staff.locator('[data-role="message"]', has_text=number.group()).first
        await expect(card).to_contain_text("Статус: закрито")
        await expect(card).to_contain_text("змінено")
        await expect(_last_bot_message(viber)).to_contain_text("Питання вирішено?")
        await _press(viber, "✅ Так, вирішено")
        await expect(staff.locator('[data-role="messages"]')).to_contain_text(
            "Заявник підтвердив: питання вирішено"
        )
        await _press(viber, "⭐⭐⭐⭐⭐")
        await expect(staff.locator('[data-role="messages"]')).to_contain_text(
            "Заявник оцінив відповідь"
        )
        await _shot(page, artifacts, "04b-closed-and-rated")

        # News from the operator chat (General) reaches both resident panes.
        await staff.locator('[data-role="topic"][data-thread=""]').click()
        news = "Завтра з 9:00 до 13:00 планове відключення води на вул. Соборності"
        await _say(staff, f"/news {news}")
        await _press(staff, "📨 Надіслати зараз")
        # The bot's answer to the press, shown as Telegram shows it (a toast by the input).
        toast = staff.locator('[data-role="error"][data-kind="answer"]')
        await expect(toast).to_contain_text("отримувачів 2")
        await expect(telegram.locator('[data-role="messages"]')).to_contain_text(news)
        await expect(viber.locator('[data-role="messages"]')).to_contain_text(news)
        await expect(page.locator('[data-role="broadcast"]').first).to_be_visible()
        await _shot(page, artifacts, "05-news-delivered")

        # Unsubscribing in Viber (its counterpart of blocking) is one press away, and back.
        subscription = viber.locator('[data-role="subscribed"]')
        await subscription.click()
        await expect(subscription).to_have_attribute("aria-pressed", "false")
        await subscription.click()
        await expect(subscription).to_have_attribute("aria-pressed", "true")

        # Nothing a person typed ran as a script, and the page raised no errors.
        assert tab.errors == []


async def test_two_tabs_on_one_resident_stay_consistent(
    browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    async with running_sandbox(f"sqlite+aiosqlite:///{tmp_path}/sandbox.db") as sandbox:
        tab1, tab2 = await _open(browser, sandbox), await _open(browser, sandbox)
        first, second = tab1.page, tab2.page
        await _say(_pane(first, "telegram"), "/start")
        # The other tab shows the same chat, pushed live, and can carry on from it.
        await expect(_last_bot_message(_pane(second, "telegram"))).to_contain_text("Вітаємо")
        await _press(_pane(second, "telegram"), "✅ Погоджуюсь")
        await expect(_pane(first, "telegram").locator('[data-role="messages"]')).to_contain_text(
            "мов"
        )
        await _shot(second, artifacts, "06-second-tab")
        assert tab1.errors == [] and tab2.errors == []


async def test_news_text_typed_after_news_answers_the_forced_reply(
    browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    """As in Telegram: the bot's question after a bare /news carries a ForceReply for the staff
    member it names, so what they type next is the answer, with no reply to pick by hand."""
    async with running_sandbox(f"sqlite+aiosqlite:///{tmp_path}/sandbox.db") as sandbox:
        tab = await _open(browser, sandbox)
        staff = _pane(tab.page, "staff")
        await _say(staff, "/news")
        await expect(_last_bot_message(staff)).to_contain_text("Надішліть текст новини")
        reply_bar = staff.locator('[data-role="reply-bar"]')
        await expect(reply_bar).to_be_visible()
        await expect(reply_bar).to_contain_text("Надішліть текст новини")
        news = "Сьогодні о 18:00 прибирання у сквері Героїв — приходьте"
        await _say(staff, news)
        await expect(reply_bar).to_be_hidden()
        # The composer got the text: its preview, with the buttons to send it.
        preview = staff.locator('[data-role="message"][data-from="bot"]', has_text=news)
        await expect(preview).to_have_count(1)
        await expect(
            staff.locator('[data-role="inline-button"]', has_text="Надіслати зараз").last
        ).to_be_visible()
        await _shot(tab.page, artifacts, "07-news-forced-reply")
        # Dismissed, a forced reply does not come back on the next refresh.
        await _say(staff, "/news")
        await expect(reply_bar).to_be_visible()
        await staff.locator('[data-role="reply-cancel"]').click()
        await _say(staff, "просто повідомлення в чаті")
        await expect(reply_bar).to_be_hidden()
        assert tab.errors == []


async def test_errors_are_shown_in_ukrainian(browser: Browser, tmp_path: Path) -> None:
    async with running_sandbox(f"sqlite+aiosqlite:///{tmp_path}/sandbox.db") as sandbox:
        tab = await _open(browser, sandbox)
        viber = _pane(tab.page, "viber")
        await _say(viber, "   ")
        error = viber.locator('[data-role="error"]')
        await expect(error).to_have_text("⚠ Viber не надсилає порожніх повідомлень.")
        # The next action clears it.
        await _say(viber, "Добрий день")
        await expect(error).to_be_hidden()
