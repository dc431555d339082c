"""Webhooks are answered once the event is stored; the replies follow from the outbox, in the
order the resident wrote. A gate between the bot and the fake Bot API holds every sendMessage,
so the test sees the state between the answer and the reply without timing anything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.sandbox.fakes.telegram import FakeTelegram
from storage.models import ProcessedUpdate
from tests.conftest import free_port
from tests.harness import TELEGRAM_TOKEN, bot_settings, running_bot

pytestmark = pytest.mark.migrated_database

USER = 5_550_001


class GatedApi:
    """A pass-through to the fake Bot API that holds sendMessage calls until ``gate`` is set."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.gate = asyncio.Event()
        self.held = 0
        self.reached = asyncio.Event()
        self.port = free_port()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        if request.path.endswith("/sendMessage"):
            self.held += 1
            self.reached.set()
            await self.gate.wait()
        headers = {"Content-Type": request.headers.get("Content-Type", "")}
        url = self.target + request.path_qs
        body = await request.read()
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=body, headers=headers) as r,
        ):
            return web.Response(body=await r.read(), status=r.status, content_type=r.content_type)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[GatedApi]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        try:
            yield self
        finally:
            self.gate.set()
            await runner.cleanup()


async def test_webhook_answers_before_the_reply_and_replies_keep_their_order(
    database_url: str,
) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake, GatedApi(fake.base_url).running() as gated:
        fake.user(USER, first_name="Оксана")
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=gated.base_url,
            telegram_mode="webhook",
        )
        async with running_bot(settings, settle=False) as runtime:
            first = await fake.send_text(USER, "/start")
            second = await fake.send_text(USER, "/help")
            # Both answered (so stored) while no reply could be sent yet.
            assert (first.status, second.status) == (200, 200)
            async with runtime.sessionmaker() as session:
                stored = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
            assert stored == 2
            assert fake.messages(USER) == []
            assert len(runtime.outbox) == 2
            # The first reply reaches the gate; the second waits for it, not for the gate.
            await asyncio.wait_for(gated.reached.wait(), timeout=10)
            assert gated.held == 1

            gated.gate.set()
            await runtime.outbox.drain()
            texts = [m.get("text") or "" for m in fake.messages(USER)]
            assert len(texts) == 2
            consent, help_text = texts
            # /start of a new resident asks for consent; /help answers after it.
            assert "Що вміє цей бот" not in consent
            assert help_text.startswith("Що вміє цей бот")
            assert len(runtime.outbox) == 0
