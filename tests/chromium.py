"""Debian's Chromium for the browser tests, driven by Playwright (no browser download).

``chromium()`` launches a browser for the block and closes it after. A module marked with
``SHARED_BROWSER`` runs its tests in the worker's session event loop instead, where
``chromium()`` gives every test the one browser the worker launched (Playwright's driver and
Chromium start once, ~2 s of CPU each time) and closes, at the end of the block, every browser
profile (context) the test opened: no test sees a page, cookie or storage of another."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Playwright, async_playwright

CHROMIUM = os.environ.get("CITYBOT_CHROMIUM", "/usr/bin/chromium")
# The flags the machine needs: no sandboxing as root, and no calls to Google's services (the
# network is closed; without these Chromium keeps trying).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HAVE_CHROMIUM = Path(CHROMIUM).exists()
# The bot answers within milliseconds; the page refreshes on server-sent events.
STEP_TIMEOUT_MS = 15_000

# ``pytestmark`` of a browser test module: its tests (and the async fixtures it marks
# ``loop_scope="session"``) run in the session's event loop, and share the worker's browser.
SHARED_BROWSER = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.usefixtures("shared_chromium"),
]


class _Shared:
    """The worker's browser, in the session's event loop (Playwright objects live in one loop)."""

    loop: asyncio.AbstractEventLoop | None = None
    playwright: Playwright | None = None
    browser: Browser | None = None


async def _launch(playwright: Playwright) -> Browser:
    if not HAVE_CHROMIUM:
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_chromium() -> AsyncIterator[None]:
    """Lets ``chromium()`` share one browser in the session loop; closes it when the worker ends."""
    _Shared.loop = asyncio.get_running_loop()
    try:
        yield
    finally:
        _Shared.loop = None
        if _Shared.browser is not None:
            await _Shared.browser.close()
            _Shared.browser = None
        if _Shared.playwright is not None:
            await _Shared.playwright.stop()
            _Shared.playwright = None


async def _shared_browser() -> Browser:
    if _Shared.browser is None or not _Shared.browser.is_connected():
        if _Shared.playwright is None:
            _Shared.playwright = await async_playwright().start()
        _Shared.browser = await _launch(_Shared.playwright)
    return _Shared.browser


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if _Shared.loop is asyncio.get_running_loop():
        browser = await _shared_browser()
        assert browser.contexts == [], "a browser profile of an earlier test is still open"
        try:
            yield browser
        finally:
            for context in browser.contexts:
                await context.close()
        return
    async with async_playwright() as playwright:
        launched = await _launch(playwright)
        try:
            yield launched
        finally:
            await launched.close()
