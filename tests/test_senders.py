"""The two Senders against the fake servers: rendering, splitting, media, and error mapping."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram.client.session.aiohttp import AiohttpSession

from bot.config import TELEGRAM_API_URL
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from bot.telegram.channel import create_bot
from bot.telegram.sender import TelegramSender
from bot.viber.channel import ViberSender
from bot.viber.client import ViberClient
from messaging.contract import (
    Button,
    CredentialsRefused,
    KeyboardKind,
    Media,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
    Reply,
    TransientChannelError,
)
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN

BUTTONS = ((Button("Так", "consent:yes"), Button("Ні", "consent:no")),)


async def test_telegram_long_text_is_split_and_the_keyboard_goes_last() -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        bot = create_bot(TELEGRAM_TOKEN, fake.base_url, default_api_url=TELEGRAM_API_URL)
        try:
            await fake.send_text(10, "hi")
            sender = TelegramSender(bot)
            text = "<b>Заголовок</b>\n\n" + ("Абзац тексту. " * 40 + "\n\n") * 20
            await sender.send("10", Reply(text=text, buttons=BUTTONS))
            messages = fake.messages(10)
            assert len(messages) == 3
            assert all(len(m["text"]) <= 4096 for m in messages)
            assert "reply_markup" not in messages[0]
            assert messages[-1]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Так"
            assert messages[0]["entities"][0]["type"] == "bold"
            # The main menu is a persistent reply keyboard.
            await sender.send("10", Reply(text="Меню", buttons=BUTTONS, keyboard=KeyboardKind.MENU))
            keyboard = fake.reply_keyboard(10)
            assert keyboard is not None and keyboard["is_persistent"]
        finally:
            await bot.session.close()


async def test_telegram_media_and_edit() -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        bot = create_bot(TELEGRAM_TOKEN, fake.base_url, default_api_url=TELEGRAM_API_URL)
        try:
            photo = await fake.send_photo(10, caption="фото")
            file_id = photo["message"]["photo"][-1]["file_id"]
            sender = TelegramSender(bot)
            sent = await sender.send("10", Reply(text="Підпис", media=Media("photo", file_id)))
            assert fake.messages(10)[-1]["caption"] == "Підпис"
            # A caption over 1024 characters follows the photo as text.
            await sender.send("10", Reply(text="д" * 2000, media=Media("photo", file_id)))
            assert fake.messages(10)[-1]["text"] == "д" * 2000
            # Edit in place; an identical edit is not an error; a missing message is sent anew.
            await sender.send("10", Reply(text="Варіант 1", buttons=BUTTONS))
            last = fake.messages(10)[-1]["message_id"]
            await sender.edit("10", str(last), Reply(text="Варіант 2", buttons=BUTTONS))
            edited = fake.message(10, last)
            assert edited is not None and edited["text"] == "Варіант 2"
            await sender.edit("10", str(last), Reply(text="Варіант 2", buttons=BUTTONS))
            count = len(fake.messages(10))
            await sender.edit("10", "999999", Reply(text="Новий", buttons=BUTTONS))
            assert len(fake.messages(10)) == count + 1
            assert sent.message_id
        finally:
            await bot.session.close()


async def test_telegram_errors_are_typed() -> None:
    async with FakeTelegram(TELEGRAM_TOKEN, per_chat_rate=0.001) as fake:
        bot = create_bot(TELEGRAM_TOKEN, fake.base_url, default_api_url=TELEGRAM_API_URL)
        try:
            sender = TelegramSender(bot)
            with pytest.raises(PermanentChannelError):
                await sender.send("424242", Reply(text="chat not found"))
            await fake.send_text(11, "hi")
            await sender.send("11", Reply(text="one"))
            with pytest.raises(RateLimited) as limited:
                await sender.send("11", Reply(text="two"))
            assert limited.value.retry_after >= 1
            await fake.send_text(12, "hi")
            await fake.block(12)
            with pytest.raises(RecipientBlocked):
                await sender.send("12", Reply(text="blocked"))
        finally:
            await bot.session.close()


async def test_telegram_unreachable_server_is_transient() -> None:
    bot = create_bot(TELEGRAM_TOKEN, "http://127.0.0.1:9", default_api_url=TELEGRAM_API_URL)
    assert isinstance(bot.session, AiohttpSession)
    try:
        with pytest.raises(TransientChannelError):
            await TelegramSender(bot).send("1", Reply(text="x"))
    finally:
        await bot.session.close()


async def _viber(fake: FakeViber, http: aiohttp.ClientSession) -> ViberSender:
    client = ViberClient(session=http, api_url=fake.base_url, token=VIBER_TOKEN, timeout=5)
    return ViberSender(client, name="Міська рада", avatar=None)


async def test_viber_rendering_and_splitting() -> None:
    async with FakeViber(VIBER_TOKEN) as fake, aiohttp.ClientSession() as http:
        fake.webhook_url = "http://127.0.0.1:9/unused"
        fake.user("v1==", subscribed=True)
        sender = await _viber(fake, http)
        await sender.send("v1==", Reply(text="<b>Увага</b> &amp; " + "с" * 9000, buttons=BUTTONS))
        messages = fake.messages("v1==")
        assert len(messages) == 2
        assert messages[0]["text"].startswith("Увага & ")
        assert "keyboard" not in messages[0]
        buttons = messages[1]["keyboard"]["Buttons"]
        assert [b["ActionBody"] for b in buttons] == ["act:consent:yes", "act:consent:no"]
        assert all(b["Columns"] == 3 and b["Silent"] for b in buttons)
        assert messages[1]["sender"] == {"name": "Міська рада"}
        # 8,000 emoji: over the 30 KB request limit at 7,000 characters, so split smaller.
        before = len(fake.messages("v1=="))
        await sender.send("v1==", Reply(text="🙂" * 8000, buttons=BUTTONS))
        parts = fake.messages("v1==")[before:]
        assert len(parts) >= 2 and "".join(p["text"] for p in parts) == "🙂" * 8000
        await sender.send("v1==", Reply(text="Фото", media=Media("photo", "https://x.org/a.jpg")))
        assert fake.messages("v1==")[-1]["type"] == "picture"


async def test_viber_statuses_are_typed() -> None:
    async with FakeViber(VIBER_TOKEN) as fake, aiohttp.ClientSession() as http:
        fake.webhook_url = "http://127.0.0.1:9/unused"
        fake.user("v2==", subscribed=False)
        sender = await _viber(fake, http)
        with pytest.raises(RecipientBlocked):
            await sender.send("v2==", Reply(text="not subscribed"))
        with pytest.raises(RecipientBlocked):
            await sender.send("nobody==", Reply(text="unknown"))
        fake.user("v3==", subscribed=True)
        fake.fail_next("send_message", status=12)
        with pytest.raises(RateLimited):
            await sender.send("v3==", Reply(text="slow down"))
        fake.fail_next("send_message", http_status=502)
        with pytest.raises(TransientChannelError):
            await sender.send("v3==", Reply(text="proxy down"))
        fake.fail_next("send_message", status=3)
        with pytest.raises(PermanentChannelError) as bad_data:
            await sender.send("v3==", Reply(text="bad data"))
        assert bad_data.value.code == 3
        # A token revoked while running: the bot waits for a valid one, nothing is dropped.
        fake.fail_next("send_message", status=2)
        with pytest.raises(CredentialsRefused) as bad_token:
            await sender.send("v3==", Reply(text="bad token"))
        assert bad_token.value.code == 2
        await sender.send("v3==", Reply(text="ok"))
        assert fake.texts("v3==") == ["ok"]


def test_response_models_stay_cached() -> None:
    """aiogram parses each answer with Response[T]; pinned, the model is built once."""
    import gc

    from aiogram.methods.base import Response
    from aiogram.types import Message

    from bot.telegram.response_models import pin_response_models

    assert pin_response_models() > 20
    first = id(Response[Message])
    gc.collect()
    assert id(Response[Message]) == first


def test_viber_broadcast_media_from_telegram_goes_through_our_public_link() -> None:
    from bot.viber.render import with_public_media
    from messaging.contract import Media, Reply

    photo = Reply(text="Новина", media=Media(kind="photo", ref="AgACAgIAAxkBAAIB"))
    linked = with_public_media(lambda file_id: f"https://council.example/media/{file_id}")
    (message,) = linked(photo)
    assert message["type"] == "picture"
    assert message["media"] == "https://council.example/media/AgACAgIAAxkBAAIB"
    assert message["text"] == "Новина"
    # A public URL is used as it is; without a link maker the text goes alone.
    hosted = Reply(text="Новина", media=Media(kind="photo", ref="https://example.org/a.jpg"))
    assert linked(hosted)[0]["media"] == "https://example.org/a.jpg"
    (alone,) = with_public_media(None)(photo)
    assert alone["type"] == "text" and alone["text"] == "Новина"
