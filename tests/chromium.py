"""Debian's Chromium for the browser tests, driven by Playwright (no browser download)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

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


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
