"""Tests for the fake Viber REST Bot API (bot/sandbox/fakes/viber/).

The fake is exercised only through real HTTP: plain aiohttp client calls play the bot's
outgoing API requests, and a tiny aiohttp app on 127.0.0.1 plays the bot's webhook.  The
webhook verifies every signature itself, so a wrong signature in the fake cannot hide.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from viberbot.api.api import Api
from viberbot.api.api_request_sender import ApiRequestSender
from viberbot.api.bot_configuration import BotConfiguration
from viberbot.api.message_sender import MessageSender
from viberbot.api.messages import TextMessage
from viberbot.api.viber_requests import create_request

from bot.sandbox.fakes.viber import AUTH_HEADER, SIGNATURE_HEADER, FakeViber

JSONDict = dict[str, Any]
TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
SENDER = {"name": "CityBot", "avatar": "https://example.org/a.jpg"}
KEYBOARD: JSONDict = {
    "Type": "keyboard",
    "Buttons": [
        {"ActionType": "reply", "ActionBody": "yes-action", "Text": "Yes", "Columns": 3},
        {"ActionType": "share-phone", "ActionBody": "phone", "Text": "Share phone", "Columns": 3},
    ],
}


@dataclass
class Received:
    raw: bytes
    event: JSONDict
    signature: str | None
    query_sig: str | None
    content_type: str
    signature_ok: bool


class TinyBot:
    """A stand-in webhook: verifies signatures, records callbacks, answers as told."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.received: list[Received] = []
        self.status = 200  # default HTTP answer
        self.statuses: deque[int] = deque()  # one-shot answers used before `status`
        self.welcome: JSONDict | None = None  # body for conversation_started
        self.on_message: Callable[[JSONDict], Awaitable[None]] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/viber/webhook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/viber/webhook"

    def events(self, name: str) -> list[JSONDict]:
        return [r.event for r in self.received if r.event.get("event") == name]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        signature = request.headers.get(SIGNATURE_HEADER)
        expected = hmac.new(self.token.encode(), raw, hashlib.sha256).hexdigest()
        ok = signature is not None and hmac.compare_digest(signature, expected)
        try:
            event = json.loads(raw)
        except ValueError:
            event = {}
        self.received.append(
            Received(raw, event, signature, request.query.get("sig"), request.content_type, ok)
        )
        if not ok:
            return web.Response(status=403)
        if event.get("event") == "message" and self.on_message is not None:
            await self.on_message(event)
        status = self.statuses.popleft() if self.statuses else self.status
        if status == 200 and event.get("event") == "conversation_started" and self.welcome:
            return web.json_response(self.welcome)
        return web.Response(status=status)


@pytest.fixture
async def bot() -> AsyncIterator[TinyBot]:
    tiny = TinyBot(TOKEN)
    await tiny.start()
    yield tiny
    await tiny.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def fake() -> AsyncIterator[FakeViber]:
    async with FakeViber(TOKEN) as viber:
        yield viber


async def api(
    http: aiohttp.ClientSession,
    fake: FakeViber,
    endpoint: str,
    body: JSONDict,
    *,
    token: str | None = TOKEN,
) -> JSONDict:
    headers = {AUTH_HEADER: token} if token is not None else {}
    async with http.post(f"{fake.base_url}/{endpoint}", json=body, headers=headers) as resp:
        assert resp.status == 200  # Viber answers errors with HTTP 200 too
        result: JSONDict = await resp.json()
        return result


async def hook(
    http: aiohttp.ClientSession, fake: FakeViber, bot: TinyBot, **extra: Any
) -> JSONDict:
    result = await api(http, fake, "set_webhook", {"url": bot.url, **extra})
    assert result["status"] == 0, result
    return result


@pytest.fixture
async def hooked(fake: FakeViber, bot: TinyBot, http: aiohttp.ClientSession) -> FakeViber:
    await hook(http, fake, bot, send_name=True, send_photo=True)
    return fake


def text(receiver: str, body: str = "hello", **extra: Any) -> JSONDict:
    return {"receiver": receiver, "sender": SENDER, "type": "text", "text": body, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- auth


async def test_auth_errors(fake: FakeViber, http: aiohttp.ClientSession) -> None:
    missing = await api(http, fake, "get_account_info", {}, token=None)
    assert (missing["status"], missing["status_message"]) == (2, "invalidAuthToken")
    wrong = await api(http, fake, "get_account_info", {}, token="nope")
    assert wrong["status"] == 2
    # The official Python SDK sends the token only in the body.
    in_body = await api(http, fake, "get_account_info", {"auth_token": TOKEN}, token=None)
    assert in_body["status"] == 0
    assert in_body["name"] == "CityBot"
    assert "webhook" not in in_body

    async with http.post(f"{fake.base_url}/send_message", data=b"{not json") as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == 3
    async with http.post(f"{fake.base_url}/no_such_endpoint", json={}) as resp:
        assert resp.status == 404
    assert fake.stats.calls == 4  # the 404 never reached an endpoint
    assert [name for name, _ in fake.calls][:3] == ["get_account_info"] * 3


# --------------------------------------------------------------------------- webhook


async def test_set_webhook_handshake_success(
    fake: FakeViber, bot: TinyBot, http: aiohttp.ClientSession
) -> None:
    result = await hook(http, fake, bot, event_types=["delivered", "seen"])
    # Mandatory subscribed/unsubscribed cannot be filtered out.
    assert result["event_types"] == ["delivered", "seen", "subscribed", "unsubscribed"]
    assert fake.webhook_url == bot.url

    [check] = bot.received
    assert check.signature_ok
    assert check.query_sig == check.signature
    assert check.content_type == "application/json"
    assert check.event["event"] == "webhook"
    assert isinstance(check.event["timestamp"], int)
    assert isinstance(check.event["message_token"], int)
    assert check.event["chat_hostname"].startswith("SN-")

    info = await api(http, fake, "get_account_info", {})
    assert info["webhook"] == bot.url
    assert info["event_types"] == result["event_types"]


async def test_set_webhook_handshake_failure(
    fake: FakeViber, bot: TinyBot, http: aiohttp.ClientSession
) -> None:
    bot.status = 500
    refused = await api(http, fake, "set_webhook", {"url": bot.url})
    assert (refused["status"], refused["status_message"]) == (1, "invalidUrl")
    assert fake.webhook_url is None

    dead = await api(http, fake, "set_webhook", {"url": f"http://127.0.0.1:{free_port()}/x"})
    assert dead["status"] == 1
    assert (await api(http, fake, "set_webhook", {"url": "not a url"}))["status"] == 1
    assert (await api(http, fake, "set_webhook", {}))["status"] == 4
    bad_events = await api(http, fake, "set_webhook", {"url": bot.url, "event_types": ["x"]})
    assert bad_events["status"] == 3
    assert fake.webhook_url is None


async def test_require_https(bot: TinyBot, http: aiohttp.ClientSession) -> None:
    async with FakeViber(TOKEN, require_https=True) as strict:
        result = await api(http, strict, "set_webhook", {"url": bot.url})
        assert result["status"] == 1
        assert bot.received == []  # rejected before any check callback


async def test_remove_webhook_and_send_without_webhook(
    fake: FakeViber, bot: TinyBot, http: aiohttp.ClientSession
) -> None:
    user = fake.user(subscribed=True)
    not_set = await api(http, fake, "send_message", text(user.id))
    assert (not_set["status"], not_set["status_message"]) == (10, "webhookNotSet")

    await hook(http, fake, bot)
    assert (await api(http, fake, "send_message", text(user.id)))["status"] == 0
    removed = await api(http, fake, "set_webhook", {"url": ""})
    assert removed["status"] == 0
    assert fake.webhook_url is None
    assert (await api(http, fake, "send_message", text(user.id)))["status"] == 10
    # With no webhook the user cannot reach the bot at all.
    assert await fake.send_text(user.id, "anyone?") == 0


# --------------------------------------------------------------------------- signatures


async def test_callback_signatures(hooked: FakeViber, bot: TinyBot) -> None:
    user = hooked.user(name="Olena")
    assert await hooked.send_text(user.id, "Привіт") == 200
    got = bot.received[-1]
    assert got.signature_ok
    assert got.signature == hmac.new(TOKEN.encode(), got.raw, hashlib.sha256).hexdigest()
    assert got.event["message"] == {"type": "text", "text": "Привіт"}
    # The SDK's own verification agrees with ours.
    sdk = Api(BotConfiguration(auth_token=TOKEN, name="CityBot", avatar=""))
    assert sdk.verify_signature(got.raw, got.signature)

    forged = got.raw.replace("Привіт".encode(), b"pwned")
    assert await hooked.post_raw(forged, got.signature) == 403
    assert await hooked.post_raw(forged, None) == 403
    assert await hooked.post_raw(forged, hooked.signature(forged)) == 200
    assert bot.received[-2].signature is None
    assert hooked.pending_callbacks == []  # forged posts are never redelivered


# --------------------------------------------------------------------------- send_message


async def test_send_message_ok(hooked: FakeViber, http: aiohttp.ClientSession) -> None:
    user = hooked.user(subscribed=True)
    body = text(user.id, "Ваше звернення прийнято", keyboard=KEYBOARD, tracking_data="t1")
    result = await api(http, hooked, "send_message", body)
    assert result["status"] == 0
    assert result["status_message"] == "ok"
    assert isinstance(result["message_token"], int)
    assert result["chat_hostname"].startswith("SN-")
    assert hooked.last_message(user.id) == body  # full payload, keyboard included
    assert hooked.deliveries(user.id)[0].message_token == result["message_token"]
    assert hooked.stats.messages_sent == 1
    assert hooked.stats.recipients_reached == 1

    # Keyboard-only messages (no "type") are allowed by the keyboards guide.
    kb_only = {"receiver": user.id, "sender": SENDER, "keyboard": KEYBOARD}
    assert (await api(http, hooked, "send_message", kb_only))["status"] == 0
    # Every message type the docs list is accepted when well-formed.
    for extra in (
        {"type": "picture", "media": "https://e.org/p.jpg", "text": ""},
        {"type": "video", "media": "https://e.org/v.mp4", "size": 10},
        {"type": "file", "media": "https://e.org/f.pdf", "size": 10, "file_name": "f.pdf"},
        {"type": "location", "location": {"lat": 50.45, "lon": 30.52}},
        {"type": "contact", "contact": {"name": "Desk", "phone_number": "+380441234567"}},
        {"type": "sticker", "sticker_id": 46105},
        {"type": "url", "media": "https://kyivcity.gov.ua"},
        {
            "type": "rich_media",
            "rich_media": {"Type": "rich_media", "Buttons": KEYBOARD["Buttons"]},
        },
    ):
        result = await api(
            http, hooked, "send_message", {"receiver": user.id, "sender": SENDER, **extra}
        )
        assert result["status"] == 0, (extra, result)
    assert len(hooked.messages(user.id)) == 10


async def test_send_message_receiver_errors(
    hooked: FakeViber, bot: TinyBot, http: aiohttp.ClientSession
) -> None:
    unknown = await api(http, hooked, "send_message", text("nobody=="))
    assert (unknown["status"], unknown["status_message"]) == (5, "receiverNotRegistered")

    stranger = hooked.user()  # known to Viber, never subscribed
    assert (await api(http, hooked, "send_message", text(stranger.id)))["status"] == 6

    user = hooked.user()
    assert await hooked.send_text(user.id, "hi") == 200  # writing subscribes implicitly
    assert bot.events("subscribed") == []  # ...without a subscribed callback
    assert (await api(http, hooked, "send_message", text(user.id)))["status"] == 0
    assert await hooked.unsubscribe(user.id) == 200
    assert bot.events("unsubscribed")[-1]["user_id"] == user.id
    gone = await api(http, hooked, "send_message", text(user.id))
    assert (gone["status"], gone["status_message"]) == (6, "receiverNotSubscribed")
    assert hooked.messages(user.id) == [text(user.id)]

    assert await hooked.subscribe(user.id) == 200
    assert bot.events("subscribed")[-1]["user"]["id"] == user.id
    assert (await api(http, hooked, "send_message", text(user.id)))["status"] == 0

    old_phone = hooked.user(subscribed=True, suitable_device=False)
    assert (await api(http, hooked, "send_message", text(old_phone.id)))["status"] == 11
    old_api = hooked.user(subscribed=True, api_version=2)
    needs_7 = text(old_api.id, min_api_version=7)
    assert (await api(http, hooked, "send_message", needs_7))["status"] == 13


def _button(**fields: Any) -> JSONDict:
    return {"Type": "keyboard", "Buttons": [{"ActionBody": "a", "Text": "A", **fields}]}


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"keyboard": {"Type": "board", "Buttons": KEYBOARD["Buttons"]}}, 3),
        ({"keyboard": {"Type": "keyboard"}}, 3),
        ({"keyboard": {"Type": "keyboard", "Buttons": []}}, 3),
        ({"keyboard": {"Type": "keyboard", "Buttons": [{"Text": "no body"}]}}, 3),
        ({"keyboard": _button(ActionType="teleport")}, 3),
        ({"keyboard": _button(Columns=7)}, 3),
        ({"keyboard": _button(Rows=3)}, 3),
        ({"keyboard": _button(Text="x" * 251)}, 3),
        ({"keyboard": "keyboard"}, 3),
        ({"text": "x" * 7001}, 3),
        ({"text": ""}, 4),
        ({"type": "sms"}, 3),
        ({"sender": {"name": "N" * 29}}, 3),
        ({"sender": {"avatar": "https://e.org/a.jpg"}}, 4),
        ({"sender": None}, 4),
        ({"receiver": None}, 4),
        ({"tracking_data": "t" * 4097}, 3),
        ({"tracking_data": "t" * 400, "text": "x" * 7000, "padding": "p" * 25_000}, 3),
    ],
)
async def test_send_message_validation(
    hooked: FakeViber, http: aiohttp.ClientSession, changes: JSONDict, status: int
) -> None:
    user = hooked.user(subscribed=True)
    body = {k: v for k, v in {**text(user.id), **changes}.items() if v is not None}
    result = await api(http, hooked, "send_message", body)
    assert result["status"] == status, hooked.api_log[-1].reason
    assert hooked.messages(user.id) == []


async def test_longest_text_is_accepted(hooked: FakeViber, http: aiohttp.ClientSession) -> None:
    user = hooked.user(subscribed=True)
    # 7000 Cyrillic letters are 14 KB as UTF-8 JSON, within the 30 KB request limit.
    data = json.dumps(text(user.id, "ї" * 7000), ensure_ascii=False).encode()
    headers = {AUTH_HEADER: TOKEN, "Content-Type": "application/json"}
    async with http.post(f"{hooked.base_url}/send_message", data=data, headers=headers) as resp:
        assert (await resp.json())["status"] == 0
    # The same text \u-escaped is 42 KB and over the limit.
    assert (await api(http, hooked, "send_message", text(user.id, "ї" * 7000)))["status"] == 3


# --------------------------------------------------------------------------- broadcast


async def test_broadcast(hooked: FakeViber, http: aiohttp.ClientSession) -> None:
    alice = hooked.user(name="Alice", subscribed=True)
    bob = hooked.user(name="Bob", subscribed=True)
    carol = hooked.user(name="Carol")  # never subscribed
    body = {
        "broadcast_list": [alice.id, carol.id, "ghost==", bob.id],
        "sender": SENDER,
        "type": "text",
        "text": "Hi replace_me_with_user_name (replace_me_with_url_encoded_receiver_id)",
        "tracking_data": "replace_me_with_receiver_id",
    }
    result = await api(http, hooked, "broadcast_message", body)
    assert result["status"] == 0
    assert isinstance(result["message_token"], int)
    assert result["failed_list"] == [
        {"receiver": carol.id, "status": 6, "status_message": "Not subscribed"},
        {"receiver": "ghost==", "status": 5, "status_message": "Not found"},
    ]
    got = hooked.last_message(alice.id)
    encoded = alice.id.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert got["text"] == f"Hi Alice ({encoded})"
    assert got["tracking_data"] == alice.id
    assert hooked.last_message(bob.id)["text"].startswith("Hi Bob")
    assert hooked.messages(carol.id) == []
    assert hooked.deliveries(bob.id)[0].source == "broadcast_message"
    assert hooked.stats.recipients_reached == 2

    too_many = {**body, "broadcast_list": [alice.id] * 301}
    assert (await api(http, hooked, "broadcast_message", too_many))["status"] == 3
    no_list = {k: v for k, v in body.items() if k != "broadcast_list"}
    assert (await api(http, hooked, "broadcast_message", no_list))["status"] == 4


async def test_broadcast_not_allowed(bot: TinyBot, http: aiohttp.ClientSession) -> None:
    async with FakeViber(TOKEN, broadcast_enabled=False) as viber:
        await hook(http, viber, bot)
        user = viber.user(subscribed=True)
        body = {"broadcast_list": [user.id], "sender": SENDER, "type": "text", "text": "x"}
        result = await api(http, viber, "broadcast_message", body)
        assert (result["status"], result["status_message"]) == (20, "broadcastNotAllowed")


# --------------------------------------------------------------------------- limits


async def test_rate_limit(bot: TinyBot, http: aiohttp.ClientSession) -> None:
    async with FakeViber(TOKEN, rate_limit=(3, 10.0), broadcast_rate_limit=(1, 10.0)) as viber:
        await hook(http, viber, bot)
        user = viber.user(subscribed=True)
        statuses = [
            (await api(http, viber, "send_message", text(user.id)))["status"] for _ in range(4)
        ]
        assert statuses == [0, 0, 0, 12]
        assert viber.api_log[-1].response["status_message"] == "tooManyRequests"
        body = {"broadcast_list": [user.id], "sender": SENDER, "type": "text", "text": "x"}
        assert (await api(http, viber, "broadcast_message", body))["status"] == 0
        assert (await api(http, viber, "broadcast_message", body))["status"] == 12
        assert viber.stats.rate_limited == 2
        assert len(viber.messages(user.id)) == 4


async def test_unreplied_limit_resets_on_reply(bot: TinyBot, http: aiohttp.ClientSession) -> None:
    async with FakeViber(TOKEN, unreplied_limit=2) as viber:
        await hook(http, viber, bot)
        user = viber.user(subscribed=True)
        statuses = [
            (await api(http, viber, "send_message", text(user.id)))["status"] for _ in range(3)
        ]
        assert statuses == [0, 0, 12]
        assert await viber.send_text(user.id, "I am here") == 200
        assert (await api(http, viber, "send_message", text(user.id)))["status"] == 0


async def test_latency_and_injected_failures(http: aiohttp.ClientSession) -> None:
    async with FakeViber(TOKEN, latency=0.2) as viber:
        started = time.monotonic()
        assert (await api(http, viber, "get_account_info", {}))["status"] == 0
        assert time.monotonic() - started >= 0.2

        viber.fail_next("get_account_info", status=9)
        viber.fail_next("get_account_info", http_status=502)
        assert (await api(http, viber, "get_account_info", {}))["status"] == 9
        async with http.post(f"{viber.base_url}/get_account_info", json={}) as resp:
            assert resp.status == 502
        assert (await api(http, viber, "get_account_info", {}))["status"] == 0


# --------------------------------------------------------------------------- users


async def test_user_details_and_online(hooked: FakeViber, http: aiohttp.ClientSession) -> None:
    user = hooked.user(name="Taras", language="uk", country="UA", online_status=1)
    details = await api(http, hooked, "get_user_details", {"id": user.id})
    assert details["status"] == 0
    assert details["user"]["name"] == "Taras"
    assert details["user"]["language"] == "uk"
    assert (await api(http, hooked, "get_user_details", {"id": "ghost=="}))["status"] == 5
    assert (await api(http, hooked, "get_user_details", {}))["status"] == 4

    online = await api(http, hooked, "get_online", {"ids": [user.id]})
    assert online["users"][0]["online_status"] == 1
    assert online["users"][0]["online_status_message"] == "offline"
    assert "last_online" in online["users"][0]
    assert (await api(http, hooked, "get_online", {"ids": ["x"] * 101}))["status"] == 3
    assert (await api(http, hooked, "post", {"from": "x"}))["status"] == 18


async def test_names_hidden_unless_requested(
    fake: FakeViber, bot: TinyBot, http: aiohttp.ClientSession
) -> None:
    await hook(http, fake, bot)  # no send_name / send_photo
    user = fake.user(name="Private Person", avatar="https://e.org/me.jpg")
    await fake.send_text(user.id, "hi")
    sender = bot.events("message")[-1]["sender"]
    assert sender["id"] == user.id
    assert "name" not in sender
    assert "avatar" not in sender
    assert sender["language"] == "uk"


# --------------------------------------------------------------------------- conversation


async def test_conversation_started_welcome(
    hooked: FakeViber, bot: TinyBot, http: aiohttp.ClientSession
) -> None:
    welcome = {"sender": SENDER, "type": "text", "text": "Вітаємо!", "keyboard": KEYBOARD}
    bot.welcome = welcome
    user = hooked.user(name="Ivan")
    status, body = await hooked.conversation_started(user.id, context="district-5")
    assert (status, body) == (200, welcome)
    event = bot.events("conversation_started")[-1]
    assert event["type"] == "open"
    assert event["subscribed"] is False
    assert event["context"] == "district-5"
    assert event["user"]["name"] == "Ivan"
    assert hooked.messages(user.id) == [welcome]
    assert hooked.deliveries(user.id)[0].source == "welcome"
    # The welcome message does not subscribe the user.
    assert (await api(http, hooked, "send_message", text(user.id)))["status"] == 6

    bot.welcome = {"type": "text", "text": "no sender"}
    other = hooked.user()
    status, body = await hooked.conversation_started(other.id)
    assert status == 200
    assert body == bot.welcome
    assert hooked.messages(other.id) == []
    assert hooked.welcome_rejections == [(other.id, "sender is missing")]


async def test_optional_events_are_filtered(
    fake: FakeViber, bot: TinyBot, http: aiohttp.ClientSession
) -> None:
    await hook(http, fake, bot, event_types=["delivered"])
    user = fake.user(subscribed=True)
    assert await fake.conversation_started(user.id) == (0, None)
    await api(http, fake, "send_message", text(user.id))
    assert await fake.seen(user.id) == 0
    assert await fake.delivered(user.id) == 200
    assert await fake.unsubscribe(user.id) == 200  # mandatory
    assert [e["event"] for e in (r.event for r in bot.received)] == [
        "webhook",
        "delivered",
        "unsubscribed",
    ]


# --------------------------------------------------------------------------- redelivery


async def test_manual_redelivery_is_bounded(hooked: FakeViber, bot: TinyBot) -> None:
    user = hooked.user()
    bot.statuses.extend([500])
    assert await hooked.send_text(user.id, "retry me") == 500
    [pending] = hooked.pending_callbacks
    assert await hooked.redeliver() == [200]
    assert hooked.pending_callbacks == []
    first, second = bot.events("message")
    assert first == second  # same message_token: a duplicate the bot must tolerate
    assert bot.received[-1].raw == bot.received[-2].raw
    assert pending.attempts == [500, 200]

    bot.status = 503
    await hooked.send_text(user.id, "never accepted")
    assert await hooked.redeliver() == [503]
    assert await hooked.redeliver() == [503]
    assert await hooked.redeliver() == []  # max_callback_attempts=3 reached
    assert hooked.callbacks[-1].gave_up
    assert hooked.stats.callbacks_dropped == 1
    assert hooked.stats.callbacks_failed == 4


async def test_auto_redelivery_with_backoff(bot: TinyBot, http: aiohttp.ClientSession) -> None:
    async with FakeViber(TOKEN, auto_redeliver=True, redelivery_backoff=0.01) as viber:
        await hook(http, viber, bot)
        user = viber.user()
        bot.statuses.extend([500, 502])
        assert await viber.send_text(user.id, "eventually") == 500
        await viber.drain(timeout=2.0)
        assert viber.callbacks[-1].attempts == [500, 502, 200]
        assert len(bot.events("message")) == 3

        bot.status = 500
        await viber.send_text(user.id, "pending at shutdown")
    # stop() cancelled the scheduled retry; nothing of the fake is left running.
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_duplicate_delivery(hooked: FakeViber, bot: TinyBot) -> None:
    user = hooked.user()
    assert await hooked.send_text(user.id, "once", message_token=777) == 200
    assert await hooked.send_text(user.id, "once", message_token=777) == 200
    assert await hooked.replay() == 200
    tokens = [e["message_token"] for e in bot.events("message")]
    assert tokens == [777, 777, 777]


# --------------------------------------------------------------------------- end to end


async def test_echo_bot_and_tracking_data(
    hooked: FakeViber, http: aiohttp.ClientSession, bot: TinyBot
) -> None:
    async def echo(event: JSONDict) -> None:
        reply = text(
            event["sender"]["id"], "echo: " + event["message"]["text"], tracking_data="step-2"
        )
        await api(http, hooked, "send_message", reply)

    bot.on_message = echo
    user = hooked.user()
    await hooked.send_text(user.id, "ping")
    messages = await hooked.wait_for_messages(user.id, 1, timeout=2.0)
    assert messages[0]["text"] == "echo: ping"
    # Viber returns the tracking_data of the bot's last message with the user's reply.
    await hooked.send_text(user.id, "pong")
    assert bot.events("message")[-1]["message"]["tracking_data"] == "step-2"
    with pytest.raises(TimeoutError, match="2 of 5"):
        await hooked.wait_for_messages(user.id, 5, timeout=0.1)


async def test_press_button(hooked: FakeViber, bot: TinyBot, http: aiohttp.ClientSession) -> None:
    user = hooked.user(subscribed=True, phone_number="+380671112233")
    await api(http, hooked, "send_message", text(user.id, "Choose", keyboard=KEYBOARD))
    assert hooked.current_keyboard(user.id) == KEYBOARD
    assert await hooked.press_button(user.id, "Yes") == 200
    assert bot.events("message")[-1]["message"]["text"] == "yes-action"
    assert await hooked.press_button(user.id, "Share phone") == 200
    contact = bot.events("message")[-1]["message"]["contact"]
    assert contact["phone_number"] == "+380671112233"
    with pytest.raises(LookupError):
        await hooked.press_button(user.id, "Missing")


async def test_client_side_keyboard_failure(bot: TinyBot, http: aiohttp.ClientSession) -> None:
    async with FakeViber(TOKEN, keyboard_errors="failed_callback") as viber:
        await hook(http, viber, bot)
        user = viber.user(subscribed=True)
        result = await api(http, viber, "send_message", text(user.id, keyboard=_button(Columns=9)))
        assert result["status"] == 0
        await viber.drain()
        [failed] = bot.events("failed")
        assert failed["message_token"] == result["message_token"]
        assert failed["user_id"] == user.id
        assert "Columns" in failed["desc"]
        assert viber.messages(user.id) == []


# --------------------------------------------------------------------------- SDK


async def test_viberbot_sdk_parses_every_callback(
    hooked: FakeViber, bot: TinyBot, http: aiohttp.ClientSession
) -> None:
    user = hooked.user(name="Sdk", avatar="https://e.org/a.jpg")
    bot.welcome = {"sender": SENDER, "type": "text", "text": "hi"}
    await hooked.conversation_started(user.id, context="ctx")
    await hooked.subscribe(user.id)
    await hooked.send_text(user.id, "text")
    await hooked.send_picture(user.id, text="caption")
    await hooked.send_video(user.id)
    await hooked.send_file(user.id)
    await hooked.send_location(user.id, 50.45, 30.52, address="Khreshchatyk")
    await hooked.send_contact(user.id, "Desk", "+380441234567")
    await hooked.send_sticker(user.id)
    await hooked.send_url(user.id, "https://kyivcity.gov.ua")
    await api(http, hooked, "send_message", text(user.id))
    await hooked.delivered(user.id)
    await hooked.seen(user.id)
    await hooked.failed(user.id, desc="keyboard invalid")
    await hooked.unsubscribe(user.id)

    sdk = Api(BotConfiguration(auth_token=TOKEN, name="CityBot", avatar=""))
    names = set()
    for got in bot.received:
        assert got.signature_ok
        request = create_request(json.loads(got.raw))
        names.add(request.event_type)
        assert sdk.verify_signature(got.raw, got.signature)
    assert names == {
        "webhook",
        "conversation_started",
        "subscribed",
        "message",
        "delivered",
        "seen",
        "failed",
        "unsubscribed",
    }
    assert len(bot.events("message")) == 8


async def test_viberbot_sdk_client_against_fake(fake: FakeViber, bot: TinyBot) -> None:
    """The official SDK (sync `requests`, token in body) works against the fake."""
    config = BotConfiguration(auth_token=TOKEN, name="CityBot", avatar="https://e.org/a.jpg")
    sender = ApiRequestSender(logging.getLogger("test.viberbot"), fake.base_url, config, "test")
    events = await asyncio.to_thread(sender.set_webhook, bot.url, ["delivered"])
    assert events == ["delivered", "subscribed", "unsubscribed"]
    info = await asyncio.to_thread(sender.get_account_info)
    assert info["webhook"] == bot.url

    user = fake.user(subscribed=True)
    messages = MessageSender(logging.getLogger("test.viberbot"), sender, config)
    token = await asyncio.to_thread(
        messages.send_message, user.id, "CityBot", None, TextMessage(text="from the SDK")
    )
    assert token == fake.deliveries(user.id)[0].message_token
    assert fake.last_message(user.id)["text"] == "from the SDK"
    details = await asyncio.to_thread(sender.get_user_details, user.id)
    assert details["id"] == user.id
