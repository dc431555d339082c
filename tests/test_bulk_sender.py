"""The broadcast engine's lean Telegram sender and the aiogram one pass the same contract tests
against the fake Bot API: what residents see, and how each refusal is typed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from bot.config import TELEGRAM_API_URL
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.bulk import BulkTelegramSender
from bot.telegram.channel import create_bot
from bot.telegram.sender import TelegramSender
from messaging.contract import (
    Button,
    Media,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
    Reply,
    Sender,
    TransientChannelError,
)
from tests.harness import TELEGRAM_TOKEN

BUTTONS = ((Button("Так", "poll:1:0"), Button("Ні", "poll:1:1")),)
SenderFactory = Callable[[str], contextlib.AbstractAsyncContextManager[Sender]]


@contextlib.asynccontextmanager
async def bulk(base_url: str) -> AsyncIterator[Sender]:
    sender = BulkTelegramSender(api_url=base_url, token=TELEGRAM_TOKEN)
    try:
        yield sender
    finally:
        await sender.close()


@contextlib.asynccontextmanager
async def aiogram(base_url: str) -> AsyncIterator[Sender]:
    bot = create_bot(TELEGRAM_TOKEN, base_url, default_api_url=TELEGRAM_API_URL)
    try:
        yield TelegramSender(bot)
    finally:
        await bot.session.close()


@pytest.fixture(params=["bulk", "aiogram"])
def make_sender(request: pytest.FixtureRequest) -> SenderFactory:
    return bulk if request.param == "bulk" else aiogram


async def test_text_split_markup_and_buttons(make_sender: SenderFactory) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake, make_sender(fake.base_url) as sender:
        await fake.send_text(10, "hi")
        text = "<b>Заголовок</b> &amp; &lt;script&gt;\n\n" + ("Абзац тексту. " * 40 + "\n\n") * 20
        sent = await sender.send("10", Reply(text=text, buttons=BUTTONS))
        messages = fake.messages(10)
        assert len(messages) == 3 and all(len(m["text"]) <= 4096 for m in messages)
        assert messages[0]["text"].startswith("Заголовок & <script>")
        assert messages[0]["entities"][0]["type"] == "bold"
        assert "reply_markup" not in messages[0]
        keyboard = messages[-1]["reply_markup"]["inline_keyboard"]
        assert [b["callback_data"] for b in keyboard[0]] == ["poll:1:0", "poll:1:1"]
        assert sent.message_id == str(messages[-1]["message_id"])


async def test_photo_with_caption_and_a_caption_too_long(make_sender: SenderFactory) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake, make_sender(fake.base_url) as sender:
        photo = await fake.send_photo(10, caption="фото")
        file_id = photo["message"]["photo"][-1]["file_id"]
        await sender.send("10", Reply(text="<i>Підпис</i>", media=Media("photo", file_id)))
        last = fake.messages(10)[-1]
        assert last["caption"] == "Підпис" and last["photo"]
        before = len(fake.messages(10))
        await sender.send("10", Reply(text="д" * 2000, media=Media("photo", file_id)))
        after = fake.messages(10)[before:]
        assert after[0]["photo"] and after[-1]["text"] == "д" * 2000


async def test_refusals_are_typed(make_sender: SenderFactory) -> None:
    async with (
        FakeTelegram(TELEGRAM_TOKEN, per_chat_rate=0.001) as fake,
        make_sender(fake.base_url) as sender,
    ):
        with pytest.raises(PermanentChannelError) as missing:
            await sender.send("424242", Reply(text="chat not found"))
        assert not isinstance(missing.value, TransientChannelError)
        await fake.send_text(11, "hi")
        await sender.send("11", Reply(text="one"))
        with pytest.raises(RateLimited) as limited:
            await sender.send("11", Reply(text="two"))
        assert limited.value.retry_after >= 1
        await fake.send_text(12, "hi")
        await fake.block(12)
        with pytest.raises(RecipientBlocked):
            await sender.send("12", Reply(text="blocked"))
        await fake.send_text(13, "hi")
        fake.deactivate(13)
        with pytest.raises(RecipientBlocked):
            await sender.send("13", Reply(text="gone"))


async def test_an_unreachable_server_is_transient(make_sender: SenderFactory) -> None:
    async with make_sender("http://127.0.0.1:9") as sender:
        with pytest.raises(TransientChannelError):
            await sender.send("1", Reply(text="x"))


async def test_paid_broadcast_flag() -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        await fake.send_text(10, "hi")
        paid = BulkTelegramSender(api_url=fake.base_url, token=TELEGRAM_TOKEN, paid=True)
        plain = BulkTelegramSender(api_url=fake.base_url, token=TELEGRAM_TOKEN)
        try:
            await paid.send("10", Reply(text="Новина"))
            assert fake.paid_broadcast_count == 1
            await plain.send("10", Reply(text="Новина"))
            assert fake.paid_broadcast_count == 1
        finally:
            await paid.close()
            await plain.close()


async def test_a_non_json_answer_is_transient() -> None:
    """A proxy in front of the Bot API answering with an HTML error page."""
    from aiohttp import web

    async def bad_gateway(_request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad gateway</html>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/{tail:.*}", bad_gateway)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with bulk(f"http://127.0.0.1:{port}") as sender:
            with pytest.raises(TransientChannelError):
                await sender.send("1", Reply(text="x"))
    finally:
        await runner.cleanup()
