"""Tests for the fake Telegram Bot API server, driven through aiogram's real HTTP client.

Each test starts its own ``FakeTelegram`` so state never leaks between tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiohttp import web

from bot.sandbox.fakes.telegram import FakeTelegram, make_png, parse_html, parse_markdown_v2

TOKEN = "123456789:AAF-test_token_for_fake"
USER = 1001
STAFF = -1001234567890


@asynccontextmanager
async def make_bot(tg: FakeTelegram, token: str = TOKEN) -> AsyncIterator[Bot]:
    """An aiogram Bot pointed at the fake; the session is closed to avoid ResourceWarning."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
    bot = Bot(token, session=session)
    try:
        yield bot
    finally:
        await bot.session.close()


def dump(items: list[BotCommand]) -> list[dict[str, Any]]:
    # aiogram models carry a bot reference, so compare their JSON shape instead.
    return [item.model_dump(exclude_none=True) for item in items]


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data)] for text, data in pairs
        ]
    )


@asynccontextmanager
async def webhook_receiver(
    status: int = 200, reply: dict[str, Any] | None = None
) -> AsyncIterator[tuple[str, list[tuple[dict[str, Any], dict[str, str]]]]]:
    """A tiny aiohttp server on 127.0.0.1 recording what the fake POSTs to it."""
    received: list[tuple[dict[str, Any], dict[str, str]]] = []

    async def handler(request: web.Request) -> web.Response:
        received.append((await request.json(), dict(request.headers)))
        if reply is not None:
            return web.json_response(reply, status=status)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


# ----------------------------------------------------------------------------- basics


async def test_get_me_and_auth_errors() -> None:
    async with FakeTelegram(token=TOKEN, bot_username="city_bot") as tg:
        async with make_bot(tg) as bot:
            me = await bot.get_me()
            assert me.id == 123456789
            assert me.is_bot
            assert me.username == "city_bot"
        async with make_bot(tg, token="42:wrong") as stranger:
            with pytest.raises(TelegramUnauthorizedError):
                await stranger.get_me()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{tg.base_url}/bot{TOKEN}/noSuchMethod") as resp:
                assert resp.status == 404
                assert await resp.json() == {
                    "ok": False,
                    "error_code": 404,
                    "description": "Not Found: method not found",
                }
            # Method names are case-insensitive; JSON bodies are accepted too.
            async with http.post(f"{tg.base_url}/bot{TOKEN}/GETME", json={}) as resp:
                assert resp.status == 200
                assert (await resp.json())["result"]["id"] == 123456789
        assert tg.calls[0].method == "getMe"


async def test_send_message_shape_and_parsing() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.user(USER, "Олена", "Коваль", username="olena")
        await tg.send_text(USER, "/start")
        async with make_bot(tg) as bot:
            markup = keyboard(("Так", "yes"), ("Ні", "no"))
            sent = await bot.send_message(
                USER,
                "  <b>Привіт</b>, &lt;світ&gt; https://rada.gov.ua  ",
                parse_mode="HTML",
                reply_markup=markup,
            )
            assert sent.message_id == 2  # message 1 is the user's /start
            assert sent.text == "Привіт, <світ> https://rada.gov.ua"  # trimmed, decoded
            assert sent.from_user is not None and sent.from_user.is_bot
            assert sent.chat.type == "private" and sent.chat.first_name == "Олена"
            assert sent.reply_markup is not None
            assert sent.reply_markup.model_dump() == markup.model_dump()
            kinds = [(e.type, e.offset, e.length) for e in sent.entities or []]
            assert kinds == [("bold", 0, 6), ("url", 15, 19)]

            second = await bot.send_message(USER, "ще")
            assert second.message_id == 3 and second.reply_markup is None

        stored = tg.messages(USER)
        assert [m["text"] for m in stored] == ["Привіт, <світ> https://rada.gov.ua", "ще"]
        assert tg.last_message(USER) == stored[-1]
        assert tg.sent_count == 2
        params = tg.calls_to("sendMessage")[0]
        assert params["chat_id"] == USER and params["reply_markup"]["inline_keyboard"]


async def test_text_errors() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        await tg.send_text(USER, "hi")
        async with make_bot(tg) as bot:
            cases = [
                ("a <b>b</i>", "HTML", "Unmatched end tag at byte offset 6"),
                ("<b>open", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
                ("1 < 2", "HTML", 'Unsupported start tag "" at byte offset 2'),
                ("<div>x</div>", "HTML", 'Unsupported start tag "div" at byte offset 0'),
                ("Tom & Jerry", "HTML", '"&"'),
                ("end.", "MarkdownV2", "Character '.' is reserved"),
            ]
            for text, mode, fragment in cases:
                with pytest.raises(TelegramBadRequest) as info:
                    await bot.send_message(USER, text, parse_mode=mode)
                assert "can't parse entities" in info.value.message
                assert fragment in info.value.message, info.value.message
            with pytest.raises(TelegramBadRequest, match="message text is empty"):
                await bot.send_message(USER, "<b> </b>", parse_mode="HTML")
            with pytest.raises(TelegramBadRequest, match="message is too long"):
                await bot.send_message(USER, "я" * 4097)
            # The limit is counted after entity parsing.
            await bot.send_message(USER, "<b>" + "я" * 4096 + "</b>", parse_mode="HTML")
            with pytest.raises(TelegramBadRequest, match="chat not found"):
                await bot.send_message(987654, "hello")
            with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
                await bot.send_message(USER, "x", reply_markup=keyboard(("b", "x" * 65)))
        assert len(tg.messages(USER)) == 1
        assert {e.error_code for e in tg.errors} == {400}


async def test_invalid_reply_markup_over_raw_http() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        await tg.send_text(USER, "hi")
        url = f"{tg.base_url}/bot{TOKEN}/sendMessage"
        async with aiohttp.ClientSession() as http:
            # Raw reply_markup values, exactly as they would travel in the form.
            bad_markups = [
                json.dumps({"inline_keyboard": {"text": "x"}}),
                json.dumps({"inline_keyboard": [[{"text": "no action"}]]}),
                json.dumps({"keyboard": [[{"request_contact": True}]]}),
                json.dumps([1, 2]),
                "{oops",
            ]
            for markup in bad_markups:
                form = {"chat_id": str(USER), "text": "x", "reply_markup": markup}
                async with http.post(url, data=form) as resp:
                    body = await resp.json()
                    assert resp.status == 400, body
                    assert body["ok"] is False and body["description"].startswith("Bad Request:")


async def test_html_and_markdown_parsers() -> None:
    text, entities = parse_html(
        '<pre><code class="language-py">x = 1</code></pre> <a href="t.me/x">l</a>'
    )
    assert text == "x = 1 l"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "py"},
        {"type": "text_link", "offset": 6, "length": 1, "url": "http://t.me/x"},
    ]
    text, entities = parse_html(
        '😀<span class="tg-spoiler">s</span><blockquote expandable>q</blockquote>'
    )
    assert text == "😀sq"
    assert entities == [
        {"type": "spoiler", "offset": 2, "length": 1},
        {"type": "expandable_blockquote", "offset": 3, "length": 1},
    ]
    assert parse_html("a &amp; b &#128512;")[0] == "a & b 😀"
    assert parse_html("Tom & Jerry", strict=False)[0] == "Tom & Jerry"
    text, entities = parse_markdown_v2("*bold* _it_ __u__ [link](https://x.org) 1\\.5")
    assert text == "bold it u link 1.5"
    assert [e["type"] for e in entities] == ["bold", "italic", "underline", "text_link"]


# ----------------------------------------------------------------------------- access


async def test_blocked_user_and_unknown_chat() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        await tg.send_text(USER, "/start")
        update = await tg.block(USER)
        member = update["my_chat_member"]
        assert member["new_chat_member"]["status"] == "kicked"
        assert member["old_chat_member"]["status"] == "member"
        async with make_bot(tg) as bot:
            with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
                await bot.send_message(USER, "ping")
            with pytest.raises(TelegramForbiddenError):
                await bot.send_chat_action(USER, "typing")
            unblocked = await tg.unblock(USER)
            assert unblocked["my_chat_member"]["new_chat_member"]["status"] == "member"
            await bot.send_message(USER, "welcome back")
            # A user the bot has only seen in a group cannot be messaged first.
            tg.add_group(STAFF, "Staff")
            await tg.send_text(2002, "hello staff", chat_id=STAFF)
            with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
                await bot.send_message(2002, "hi")


# ----------------------------------------------------------------------------- rate limits


async def test_rate_limit_raises_retry_after() -> None:
    async with FakeTelegram(token=TOKEN, per_chat_rate=1.0, global_rate=30.0) as tg:
        await tg.send_text(USER, "hi")
        async with make_bot(tg) as bot:
            await bot.send_message(USER, "one")
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(USER, "two")
            assert info.value.retry_after == 1
        assert tg.rate_limited_count == 1
        assert tg.sent_count == 1
        assert tg.errors[-1].error_code == 429


async def test_global_rate_and_paid_broadcast() -> None:
    async with FakeTelegram(token=TOKEN, global_rate=2.0, paid_rate=1000.0) as tg:
        for user_id in range(1, 6):
            await tg.send_text(user_id, "hi")
        async with make_bot(tg) as bot:
            await bot.send_message(1, "a")
            await bot.send_message(2, "a")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(3, "a")
            await bot.send_message(3, "a", allow_paid_broadcast=True)
            await bot.send_message(4, "a", allow_paid_broadcast=True)
        assert tg.paid_broadcast_count == 2
        assert (tg.sent_count, tg.rate_limited_count) == (4, 1)


async def test_global_limit_is_a_sliding_window_over_any_second() -> None:
    # Three sends at the end of one second and one at the start of the next: fixed one-second
    # buckets (and a token bucket refilling at 3/s) would admit the fourth; Telegram may not.
    async with FakeTelegram(token=TOKEN, global_rate=3.0) as tg:
        for user_id in range(1, 9):
            await tg.send_text(user_id, "hi")
        async with make_bot(tg) as bot:
            started = asyncio.get_running_loop().time()
            for user_id in (1, 2, 3):
                await bot.send_message(user_id, "a")
            await asyncio.sleep(0.5)
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(4, "a")
            # Until the oldest send leaves the window, rounded up to whole seconds.
            assert info.value.retry_after == 1
            await asyncio.sleep(max(0.0, started + 1.05 - asyncio.get_running_loop().time()))
            # A second after the burst, the window holds nothing: three more go through...
            for user_id in (4, 5, 6):
                await bot.send_message(user_id, "a")
            # ...but no fourth, however long the pause before them was.
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(7, "a")
        assert (tg.sent_count, tg.rate_limited_count) == (6, 2)


async def test_round_trip_latency_and_jitter() -> None:
    async with FakeTelegram(token=TOKEN, latency=0.02, jitter=0.03, seed=7) as tg:
        async with make_bot(tg) as bot:
            loop = asyncio.get_running_loop()
            trips = []
            for _ in range(12):
                started = loop.time()
                await bot.get_me()
                trips.append(loop.time() - started)
        assert min(trips) >= 0.02
        # Jitter up to 30 ms on top of the latency (plus this machine's own delays).
        assert max(trips) - min(trips) > 0.005
        assert max(trips) < 0.2


# ----------------------------------------------------------------------------- polling


async def test_long_poll_returns_early_and_offset_confirms() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.user(USER, "Іван")
        async with make_bot(tg) as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=5, allowed_updates=["message"]))
            await tg.wait_for_calls("getUpdates")
            await asyncio.sleep(0.05)
            assert not poll.done()
            sent = await tg.send_text(USER, "/start")
            assert sent.status is None  # queued for getUpdates
            updates = await asyncio.wait_for(poll, 2)
            assert [u.update_id for u in updates] == [sent["update_id"]]
            message = updates[0].message
            assert message is not None and message.text == "/start"
            assert message.entities is not None and message.entities[0].type == "bot_command"

            # Not confirmed yet: returned again; confirming with offset drops it.
            again = await bot.get_updates(timeout=0)
            assert [u.update_id for u in again] == [sent["update_id"]]
            confirmed = await bot.get_updates(offset=sent["update_id"] + 1, timeout=0)
            assert confirmed == []
            assert tg.pending_updates() == []

            # allowed_updates=["message"] persists: callback queries are filtered out.
            out = await bot.send_message(USER, "?", reply_markup=keyboard(("ok", "ok")))
            press = await tg.press_button(USER, out.message_id, "ok")
            assert press.filtered
            # A long poll with nothing to return ends after its timeout.
            started = asyncio.get_running_loop().time()
            assert await bot.get_updates(timeout=1) == []
            assert asyncio.get_running_loop().time() - started >= 0.9


async def test_get_updates_conflicts() -> None:
    async with FakeTelegram(token=TOKEN) as tg, make_bot(tg) as first, make_bot(tg) as second:
        older = asyncio.create_task(first.get_updates(timeout=5))
        await tg.wait_for_calls("getUpdates")
        newer = asyncio.create_task(second.get_updates(timeout=5))
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
            await asyncio.wait_for(older, 2)
        update = await tg.send_text(USER, "hi")
        assert [u.update_id for u in await asyncio.wait_for(newer, 2)] == [update["update_id"]]

        await first.set_webhook("http://127.0.0.1:9/hook")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await first.get_updates()
        assert await first.delete_webhook()
        assert await first.get_updates(timeout=0) != []


# ----------------------------------------------------------------------------- webhooks


async def test_webhook_delivery_with_secret_and_retry() -> None:
    async with (
        FakeTelegram(token=TOKEN) as tg,
        webhook_receiver() as (url, received),
        make_bot(tg) as bot,
    ):
        with pytest.raises(TelegramBadRequest, match="secret token contains unallowed"):
            await bot.set_webhook(url, secret_token="bad secret!")
        assert await bot.set_webhook(url, secret_token="s3cr3t_-", drop_pending_updates=True)
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0

        update = await tg.send_text(USER, "hello")
        assert update.status == 200
        body, headers = received[-1]
        assert body == dict(update)
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_-"

        # The same update twice reaches the bot twice (the bot must de-duplicate).
        again = await tg.push_update(dict(update))
        assert again.status == 200 and received[-1][0]["update_id"] == update["update_id"]

    # A failing webhook keeps the update pending until redelivered.
    async with (
        FakeTelegram(token=TOKEN) as tg,
        webhook_receiver(status=500) as (url, received),
        make_bot(tg) as bot,
    ):
        await bot.set_webhook(url)
        failed = await tg.send_text(USER, "lost?")
        assert failed.status == 500
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        assert await tg.redeliver() == [500]
        assert len(received) == 2 and tg.deliveries[-1].attempt == 2


async def test_webhook_reply_can_carry_a_method() -> None:
    reply = {"method": "sendMessage", "chat_id": USER, "text": "got it"}
    async with FakeTelegram(token=TOKEN) as tg, webhook_receiver(reply=reply) as (url, _received):
        async with make_bot(tg) as bot:
            await bot.set_webhook(url)
        update = await tg.send_text(USER, "hello")
        assert update.status == 200
        assert [m["text"] for m in tg.messages(USER)] == ["got it"]


# ----------------------------------------------------------------------------- editing


async def test_edit_not_modified_and_callback_answers() -> None:
    async with FakeTelegram(token=TOKEN, callback_query_ttl=15.0) as tg:
        await tg.send_text(USER, "/start")
        async with make_bot(tg) as bot:
            markup = keyboard(("Так", "vote:yes"))
            sent = await bot.send_message(USER, "Питання?", reply_markup=markup)
            with pytest.raises(TelegramBadRequest, match="message is not modified"):
                await bot.edit_message_text(
                    "Питання?", chat_id=USER, message_id=sent.message_id, reply_markup=markup
                )
            edited = await bot.edit_message_text(
                "Дякуємо!", chat_id=USER, message_id=sent.message_id
            )
            assert not isinstance(edited, bool)
            assert edited.text == "Дякуємо!" and edited.reply_markup is None
            assert edited.edit_date is not None
            with pytest.raises(TelegramBadRequest, match="message to edit not found"):
                await bot.edit_message_text("x", chat_id=USER, message_id=999)
            with pytest.raises(TelegramBadRequest, match="message can't be edited"):
                await bot.edit_message_text("x", chat_id=USER, message_id=1)

            menu = await bot.send_message(USER, "Меню", reply_markup=markup)
            press = await tg.press_button(USER, menu.message_id, "vote:yes")
            query_id = press["callback_query"]["id"]
            assert press["callback_query"]["message"]["message_id"] == menu.message_id
            assert await bot.answer_callback_query(query_id, text="Враховано")
            assert tg.callback_answers[query_id]["text"] == "Враховано"
            with pytest.raises(TelegramBadRequest, match="query is too old"):
                await bot.answer_callback_query(query_id)
            with pytest.raises(TelegramBadRequest, match="query is too old"):
                await bot.answer_callback_query("123")

            await bot.edit_message_reply_markup(chat_id=USER, message_id=menu.message_id)
            with pytest.raises(TelegramBadRequest, match="message is not modified"):
                await bot.edit_message_reply_markup(chat_id=USER, message_id=menu.message_id)
            assert await bot.delete_message(USER, menu.message_id)
            with pytest.raises(TelegramBadRequest, match="message to delete not found"):
                await bot.delete_message(USER, menu.message_id)
        assert [m["text"] for m in tg.messages(USER)] == ["Дякуємо!"]
        with pytest.raises(ValueError, match="no button"):
            await tg.press_button(USER, sent.message_id, "vote:yes")


# ----------------------------------------------------------------------------- groups


async def test_forum_topics_forward_and_copy() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.add_group(STAFF, "Рада: звернення", is_forum=True)
        tg.add_group(-4000, "Plain group")
        tg.user(USER, "Марія", hide_forwards=True)
        request = await tg.send_text(USER, "Яма на дорозі")
        async with make_bot(tg) as bot:
            with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
                await bot.create_forum_topic(-4000, "x")
            topic = await bot.create_forum_topic(STAFF, "Марія #1")
            assert topic.name == "Марія #1" and topic.icon_color == 7322096
            thread = topic.message_thread_id

            forwarded = await bot.forward_message(
                STAFF, USER, request["message"]["message_id"], message_thread_id=thread
            )
            assert forwarded.message_thread_id == thread and forwarded.is_topic_message
            assert forwarded.forward_origin is not None
            assert forwarded.forward_origin.type == "hidden_user"
            copied = await bot.copy_message(STAFF, USER, request["message"]["message_id"])
            assert copied.message_id == forwarded.message_id + 1
            with pytest.raises(TelegramBadRequest, match="message thread not found"):
                await bot.send_message(STAFF, "x", message_thread_id=999)

            staff_reply = await tg.send_text(
                2002, "Передано до ЖКГ", chat_id=STAFF, thread_id=thread
            )
            message = staff_reply["message"]
            assert message["message_thread_id"] == thread
            # Like real forums, topic messages "reply" to the topic's creation message.
            assert message["reply_to_message"]["forum_topic_created"]["name"] == "Марія #1"
            chat = await bot.get_chat(STAFF)
            assert chat.is_forum and chat.type == "supergroup"
        assert len(tg.messages(STAFF)) == 2  # service messages are not counted
        assert tg.topics(STAFF)[0]["message_thread_id"] == thread


async def test_set_my_commands_per_language() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        async with make_bot(tg) as bot:
            uk = [BotCommand(command="start", description="Почати")]
            en = [
                BotCommand(command="start", description="Start"),
                BotCommand(command="help", description="Help"),
            ]
            await bot.set_my_commands(uk, language_code="uk")
            await bot.set_my_commands(en, scope=BotCommandScopeAllPrivateChats())
            assert dump(await bot.get_my_commands(language_code="uk")) == dump(uk)
            assert await bot.get_my_commands() == []
            assert dump(await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats())) == dump(
                en
            )
            with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
                await bot.set_my_commands([BotCommand(command="Start!", description="x")])
            await bot.delete_my_commands(language_code="uk")
            assert await bot.get_my_commands(language_code="uk") == []
        assert tg.commands == {
            ("all_private_chats", ""): dump(en),
        }


# ----------------------------------------------------------------------------- files


async def test_photos_documents_and_get_file() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        update = await tg.send_photo(USER, caption="Фото ями", width=1600, height=1200)
        photo = update["message"]["photo"]
        assert photo[-1]["width"] == 1600 and len(photo) == 5
        async with make_bot(tg) as bot:
            file = await bot.get_file(photo[-1]["file_id"])
            assert file.file_path is not None
            data = await bot.download_file(file.file_path)
            assert data is not None and data.read() == tg.file_content(photo[-1]["file_id"])

            sent = await bot.send_photo(
                USER,
                BufferedInputFile(make_png(64, 32), "p.png"),
                caption="<i>ok</i>",
                parse_mode="HTML",
            )
            assert sent.photo is not None and sent.photo[-1].width == 64
            assert sent.caption == "ok" and sent.caption_entities is not None
            resent = await bot.send_photo(USER, sent.photo[-1].file_id)
            assert resent.photo == sent.photo
            with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
                await bot.send_photo(USER, BufferedInputFile(b"not an image", "x.jpg"))
            with pytest.raises(TelegramBadRequest, match="caption is too long"):
                await bot.send_photo(USER, sent.photo[-1].file_id, caption="x" * 1025)

            doc = await bot.send_document(USER, BufferedInputFile(b"%PDF-1.4", "звіт.pdf"))
            assert doc.document is not None
            assert doc.document.file_name == "звіт.pdf"
            assert doc.document.mime_type == "application/pdf"
            reply_kb = ReplyKeyboardMarkup(
                keyboard=[[KeyboardButton(text="📞", request_contact=True)]]
            )
            await bot.send_message(USER, "Поділіться номером", reply_markup=reply_kb)
            assert tg.reply_keyboard(USER) is not None
            with pytest.raises(aiohttp.ClientResponseError):
                await bot.download_file("photos/nope.jpg")
        contact = await tg.send_contact(USER, "+380501112233")
        assert contact["message"]["contact"]["user_id"] == USER


# ----------------------------------------------------------------------------- extras


async def test_privacy_mode_in_groups() -> None:
    async with FakeTelegram(token=TOKEN, bot_username="city_bot") as tg:
        tg.add_group(STAFF, "Staff", bot_is_admin=False)
        plain = await tg.send_text(2002, "hello everyone", chat_id=STAFF)
        command = await tg.send_text(2002, "/stats@city_bot", chat_id=STAFF)
        mention = await tg.send_text(2002, "@city_bot ping", chat_id=STAFF)
        assert (plain.filtered, command.filtered, mention.filtered) == (True, False, False)
        async with make_bot(tg) as bot:
            me = await bot.get_me()
            assert me.can_read_all_group_messages is False
            sent = await bot.send_message(STAFF, "Нове звернення")
            reply = await tg.send_text(2002, "беру", chat_id=STAFF, reply_to=sent.message_id)
            assert not reply.filtered
            assert reply["message"]["reply_to_message"]["message_id"] == sent.message_id
            updates = await bot.get_updates(timeout=0)
            assert [u.update_id for u in updates] == [
                command["update_id"],
                mention["update_id"],
                reply["update_id"],
            ]


async def test_webhook_auto_retry_and_set_webhook_ends_long_poll() -> None:
    attempts: list[int] = []

    async def flaky(_request: web.Request) -> web.Response:
        attempts.append(1)
        return web.Response(status=502 if len(attempts) < 3 else 200)

    app = web.Application()
    app.router.add_post("/hook", flaky)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        async with FakeTelegram(token=TOKEN, webhook_retry_delay=0.02) as tg, make_bot(tg) as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=5))
            await tg.wait_for_calls("getUpdates")
            await bot.set_webhook(url)
            with pytest.raises(TelegramConflictError, match="terminated by setWebhook request"):
                await asyncio.wait_for(poll, 2)
            update = await tg.send_text(USER, "hi")
            assert update.status == 502
            for _ in range(100):  # bounded: 2 retries at 0.02 s and 0.04 s
                if not tg.pending_updates():
                    break
                await asyncio.sleep(0.02)
            assert [d.status for d in tg.deliveries] == [502, 502, 200]
            assert tg.pending_updates() == []
    finally:
        await runner.cleanup()


async def test_media_group_and_unsimulated_methods() -> None:
    async with FakeTelegram(token=TOKEN) as tg, make_bot(tg) as bot:
        await tg.send_text(USER, "/start")
        album = await bot.send_media_group(
            USER,
            [
                InputMediaPhoto(media=BufferedInputFile(make_png(8, 8), "a.png"), caption="1"),
                InputMediaPhoto(media=BufferedInputFile(make_png(16, 8), "b.png")),
            ],
        )
        assert len({m.media_group_id for m in album}) == 1
        assert [m.message_id for m in album] == [2, 3]
        with pytest.raises(TelegramServerError, match="does not simulate sendPoll"):
            await bot.send_poll(USER, "Q?", ["a", "b"])
        assert tg.sent_count == 2
