"""The runtime is built once, in one expression, and frozen: no part is swapped or patched in
after the start (issue 14). Built against the fake Telegram and Viber servers."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import Runtime, build_runtime
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN, bot_settings

pytestmark = pytest.mark.migrated_database


async def test_the_runtime_is_frozen(database_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as telegram, FakeViber(VIBER_TOKEN) as viber:
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=telegram.base_url,
            viber_token=VIBER_TOKEN,
            viber_api_url=viber.base_url,
            staff_desks="web,telegram",
        )
        async with build_runtime(settings) as runtime:
            # Every part is there from the start...
            assert runtime.telegram is not None and runtime.viber is not None
            assert runtime.desk is not None and runtime.staff is not None
            assert runtime.delivery is not None
            assert set(runtime.senders) == {"telegram", "viber"}
            # ...and none can be replaced, removed or added.
            with pytest.raises(dataclasses.FrozenInstanceError):
                runtime.desk = None  # type: ignore[misc]
            with pytest.raises(dataclasses.FrozenInstanceError):
                del runtime.viber
            with pytest.raises(dataclasses.FrozenInstanceError):
                runtime.notifier = object()  # type: ignore[attr-defined]
            assert dataclasses.is_dataclass(Runtime)


async def test_without_channels_the_optional_parts_are_none(database_url: str) -> None:
    async with build_runtime(bot_settings(database_url)) as runtime:
        assert runtime.telegram is None and runtime.viber is None and runtime.desk is None
        assert runtime.staff is None and runtime.delivery is None
        assert dict(runtime.senders) == {}
        with pytest.raises(dataclasses.FrozenInstanceError):
            runtime.telegram = None  # type: ignore[misc]
