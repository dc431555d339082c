"""The Telegram adapter: registration, webhook secret, de-duplication, blocking, odd input,
outages in polling mode."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_runtime
from bot.config import Settings, SettingsError
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.channel import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.telegram.staff.stats import install_stats
from storage.models import ProcessedUpdate, Resident
from tests.conftest import set_connections_allowed
from tests.harness import (
    TELEGRAM_TOKEN,
    TelegramResident,
    bot_settings,
    find_resident,
    running_bot,
)
from tests.staff_world import ADMIN, staff_world

pytestmark = pytest.mark.migrated_database

SECRET = "Webhook_secret-123"
OTHER_TOKEN = "987654321:AAF_second-bot-token-for-tests_98765"


def _settings(database_url: str, fake: FakeTelegram, **extra: Any) -> Settings:
    values = {"telegram_token": TELEGRAM_TOKEN, "telegram_api_url": fake.base_url, **extra}
    return bot_settings(database_url, **values)


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
        return resp.status


def _update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_780_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "X"},
            "from": {"id": user_id, "is_bot": False, "first_name": "X"},
            "text": text,
        },
    }


async def test_webhook_mode_registers_with_secret_and_commands(database_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(database_url, fake, telegram_mode="webhook", webhook_secret=SECRET)
        async with running_bot(settings):
            info = fake.webhook_info
            assert info["url"] == f"{settings.public_url}/telegram/webhook"
            assert fake.calls_to("setWebhook")[-1]["secret_token"] == SECRET
            uk = fake.get_commands("all_private_chats", "uk")
            en = fake.get_commands("all_private_chats", "en")
            default = fake.get_commands("all_private_chats", "")
            names = [c["command"] for c in uk]
            assert names[0] == "start"
            assert {
                "appeal",
                "inforequest",
                "legalaid",
                "feedback",
                "mytickets",
                "settings",
                "help",
                "stop",
                "mydata",
                "forget",
            } <= set(names)
            help_index = names.index("help")
            assert uk[help_index]["description"] == "Довідка"
            assert en[help_index]["description"] == "Help"
            assert default == uk


async def test_webhook_rejects_a_missing_or_wrong_secret(database_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(database_url, fake, telegram_mode="webhook", webhook_secret=SECRET)
        async with running_bot(settings) as runtime:
            url = f"{settings.public_url}/telegram/webhook"
            body = json.dumps(_update(1000, 77, "/start")).encode()
            plain = {"Content-Type": "application/json"}
            assert await _post(url, body, plain) == 403
            wrong = {**plain, "X-Telegram-Bot-Api-Secret-Token": "guess"}
            assert await _post(url, body, wrong) == 403
            assert await _count(runtime.sessionmaker, ProcessedUpdate) == 0
            assert await _count(runtime.sessionmaker, Resident) == 0
            right = {**plain, "X-Telegram-Bot-Api-Secret-Token": SECRET}
            assert await _post(url, b"{not json", right) == 400
            # The fake sends the right secret: accepted.
            fake.user(77, first_name="X")
            update = await fake.send_text(77, "/start")
            assert update.status == 200


async def test_webhook_mode_without_a_secret_does_not_start(database_url: str) -> None:
    """Without a secret anyone could post an update "from" an administrator: refused before
    anything is built or registered (the CLI says so as a configuration error, exit 2)."""
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(database_url, fake, telegram_mode="webhook", webhook_secret="")
        assert settings.webhook_secret is None
        with pytest.raises(SettingsError, match="CITYBOT_WEBHOOK_SECRET"):
            async with build_runtime(settings):
                pass
        assert fake.calls_to("setWebhook") == []


async def test_a_webhook_handler_without_a_secret_believes_no_update(database_url: str) -> None:
    """Defence in depth: a Telegram channel built without a secret (whatever the caller) answers
    every webhook call 403. Here an unsigned /stats "from" the administrator, in the operator
    chat, runs nothing and audits nothing."""
    async with staff_world(database_url) as world:
        runtime = world.runtime
        assert runtime.telegram is not None and runtime.staff is not None
        channel = TelegramChannel(
            bot=runtime.telegram.bot,
            pipeline=runtime.pipeline,
            catalog=runtime.catalog,
            webhook_secret=None,
            staff=runtime.staff,
        )
        install_stats(
            channel.dispatcher,
            bot=channel.bot,
            sessionmaker=runtime.sessionmaker,
            catalog=runtime.catalog,
            clock=world.clock,
            zone=runtime.settings.zone,
            operator_chat_id=runtime.settings.operator_chat_id,
        )
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, channel.handle_webhook)
        update = {
            "update_id": 91_000,
            "message": {
                "message_id": 9_100,
                "date": 1_780_000_000,
                "chat": {"id": world.chat_id, "type": "supergroup", "title": "Звернення"},
                "from": {"id": ADMIN, "is_bot": False, "first_name": "Ірина"},
                "text": "/stats",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        body = json.dumps(update).encode()
        before = len(world.chat())
        async with TestServer(app, host="127.0.0.1") as server:
            url = str(server.make_url(WEBHOOK_PATH))
            plain = {"Content-Type": "application/json"}
            for extra in ({}, {SECRET_HEADER: ""}, {SECRET_HEADER: "guess"}):
                assert await _post(url, body, {**plain, **extra}) == 403, extra
        assert await world.audit("stats.viewed") == []
        assert len(world.chat()) == before
        # The same update through the bot's own webhook, signed: the administrator is obeyed.
        assert (await world.say(ADMIN, "/stats")).status == 200
        assert len(await world.audit("stats.viewed")) == 1


async def test_duplicate_update_is_processed_once_in_both_modes(database_url: str) -> None:
    # Both runs share one database, each with its own bot whose update ids start again at 1
    # (as after a change of bot token): claims are per bot, so the second run is not mistaken
    # for duplicates of the first.
    for mode, token in (("webhook", TELEGRAM_TOKEN), ("polling", OTHER_TOKEN)):
        async with FakeTelegram(token) as fake:
            settings = _settings(database_url, fake, telegram_mode=mode, telegram_token=token)
            async with running_bot(settings) as runtime:
                resident = TelegramResident(fake, 4242, polling=mode == "polling")
                await resident.start()
                before = len(fake.messages(4242))
                first = await fake.send_text(4242, "/help")
                await resident._settle(first)
                after_first = len(fake.messages(4242))
                assert after_first == before + 1
                again = await fake.push_update(dict(first))
                await resident._settle(again)
                assert len(fake.messages(4242)) == after_first, mode
                async with runtime.sessionmaker() as session:
                    claims = await session.scalar(
                        select(func.count())
                        .select_from(ProcessedUpdate)
                        .where(ProcessedUpdate.update_key == f"{fake.bot_id}:{first['update_id']}")
                    )
                assert claims == 1


async def test_block_and_unblock_via_my_chat_member(database_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(database_url, fake, telegram_mode="webhook")
        async with running_bot(settings) as runtime:
            resident = TelegramResident(fake, 31337, polling=False)
            await resident.start()
            assert (await fake.block(31337)).status == 200
            stored = await find_resident(runtime.sessionmaker, "telegram", "31337")
            assert stored is not None and not stored.is_active and stored.blocked_at is not None
            assert (await fake.unblock(31337)).status == 200
            stored = await find_resident(runtime.sessionmaker, "telegram", "31337")
            assert stored is not None and stored.is_active and stored.blocked_at is None


async def test_a_failed_send_to_a_blocked_user_marks_them_inactive(database_url: str) -> None:
    """The answer could not be delivered (403): the resident is marked blocked, the webhook
    still acknowledges (the update itself was stored)."""
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(database_url, fake, telegram_mode="webhook")
        async with running_bot(settings) as runtime:
            resident = TelegramResident(fake, 999, polling=False)
            await resident.start()
            update = _update(5_000_000, 999, "/help")
            fake.deactivate(999)
            assert (await fake.push_update(update)).status == 200
            stored = await find_resident(runtime.sessionmaker, "telegram", "999")
            assert stored is not None and not stored.is_active


async def test_odd_input_gets_a_polite_answer(database_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(database_url, fake, telegram_mode="webhook")
        async with running_bot(settings):
            resident = TelegramResident(fake, 1234, polling=False)
            await resident.start()
            cases = [
                fake.send_sticker(1234),
                fake.send_voice(1234),
                fake.send_photo(1234, caption="<b>фото</b>"),
                fake.send_document(1234, file_name="скан.pdf"),
                fake.send_location(1234, 47.91, 33.39),
                fake.send_contact(1234),
                fake.send_text(1234, "<i>unclosed & <b>" + "я" * 4000),
                fake.send_text(1234, "🙂" * 2000),
                fake.send_text(1234, "/start@citybot_test_bot"),
            ]
            for call in cases:
                before = len(fake.messages(1234))
                update = await call
                assert update.status == 200
                assert len(fake.messages(1234)) == before + 1
            assert not [e for e in fake.errors if "parse entities" in e.description]


async def test_group_messages_are_not_resident_messages(database_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(database_url, fake, telegram_mode="webhook")
        async with running_bot(settings) as runtime:
            fake.add_group(-1001234, "Оператори", members=(501,), admins=(501,))
            update = await fake.send_text(501, "/start", chat_id=-1001234)
            assert update.status == 200
            assert await _count(runtime.sessionmaker, Resident) == 0
            assert fake.messages(-1001234) == []


async def test_polling_database_outage_loses_no_update(pg_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(pg_url, fake)
        async with running_bot(settings) as runtime:
            resident = TelegramResident(fake, 2024, polling=True)
            await set_connections_allowed(pg_url, False)
            try:
                await fake.send_text(2024, "/start")
                # The bot tries, fails, and does not confirm the update.
                await fake.wait_for_calls("getUpdates", count=3, timeout=10)
                assert fake.pending_updates()
                assert fake.messages(2024) == []
            finally:
                await set_connections_allowed(pg_url, True)
            await fake.wait_for_messages(2024, 1, timeout=40)
            assert "Криворізької міської ради" in resident.last_text()
            assert await find_resident(runtime.sessionmaker, "telegram", "2024") is not None


async def test_stopping_right_after_a_batch_confirms_it(tmp_path: Any) -> None:
    """Stop arrives while the reply to an update is in flight: the poller finishes the batch
    and confirms it on the way out, so the next start is not handed it again."""
    async with FakeTelegram(TELEGRAM_TOKEN, latency=0.3) as fake:
        settings = _settings(f"sqlite+aiosqlite:///{tmp_path}/bot.db", fake)
        async with running_bot(settings):
            update = await fake.send_text(4242, "/help")
            # The reply has reached the fake, which answers it 0.3 s later: stop now.
            await fake.wait_for_messages(4242, 1, timeout=20)
        assert len(fake.messages(4242)) == 1
        assert all(u["update_id"] != update["update_id"] for u in fake.pending_updates())
