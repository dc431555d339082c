"""Test harness: run the real bot (``serve``) against the fake messenger servers, and drive a
resident through either messenger with the same vocabulary."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Runtime, build_runtime, serve
from bot.config import Settings, load_settings
from bot.sandbox.fakes.telegram import FakeTelegram, SimUpdate
from bot.sandbox.fakes.viber import FakeViber
from handlers.outbox import Outbox
from handlers.tickets.suggest import CategorySuggester
from storage.models import Resident
from storage.vocabulary import Clock, system_clock
from tests.conftest import free_port

TELEGRAM_TOKEN = "123456789:AAF_fake-telegram-token-for-tests_0123"
VIBER_TOKEN = "4f2a9c1e8b7d6a50-0123456789abcdef-fedcba9876543210"
WEBHOOK_SECRET = "harness-Webhook_secret-0123456789"
SERVE_TIMEOUT = 15.0


def bot_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a bot on a free local port; channels are added by ``overrides``."""
    port = free_port()
    environ = {
        "CITYBOT_DATABASE_URL": database_url,
        "CITYBOT_HTTP_PORT": str(port),
        "CITYBOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # The bot runs on the real clock here: no quiet hours, or news would wait at night.
        # (Quiet hours are tested with an injected clock: tests/test_quiet_hours.py.)
        "CITYBOT_QUIET_HOURS": "",
        # Scripted residents act faster than any person: pacing their chats would only make
        # the tests slow (pacing is tested with a per-chat-limited fake: test_long_replies.py).
        "CITYBOT_TELEGRAM_CHAT_RATE": "0",
    }
    environ.update({f"CITYBOT_{key.upper()}": str(value) for key, value in overrides.items()})
    if environ.get("CITYBOT_TELEGRAM_MODE") == "webhook":
        # Webhook mode needs its secret (the fake Telegram sends what setWebhook was given).
        environ.setdefault("CITYBOT_WEBHOOK_SECRET", WEBHOOK_SECRET)
    return load_settings(environ)


def settle_after_webhooks(app: web.Application, outbox: Outbox) -> None:
    """Make every webhook answer wait until the replies and staff copies it caused were sent.

    The bot answers a webhook once the event is stored and sends the replies after that (its
    outbox); the tests read the replies as soon as the fake messenger got its answer, so the
    harness, not the bot, waits for the outbox to drain before the answer leaves."""

    @web.middleware
    async def settle(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        await outbox.drain()
        return response

    app.middlewares.append(settle)


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    settle: bool = True,
    suggester: CategorySuggester | None = None,
) -> AsyncIterator[Runtime]:
    """The bot as ``citybot run`` runs it, until the block ends (then a clean shutdown).

    ``settle``: webhooks answer after their replies went out (see ``settle_after_webhooks``)."""
    stop = asyncio.Event()
    ready = asyncio.Event()
    async with build_runtime(settings, clock=clock, suggester=suggester) as runtime:
        if settle:
            settle_after_webhooks(runtime.web_app, runtime.outbox)
        task = asyncio.create_task(serve(runtime, stop, clock=clock, ready=ready))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait(
            {task, waiter}, timeout=SERVE_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if task.done():
            waiter.cancel()
            task.result()  # start-up failed: raise its error
        if not ready.is_set():
            raise TimeoutError("the bot did not start")
        try:
            yield runtime
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=SERVE_TIMEOUT)


async def find_resident(
    sessionmaker: async_sessionmaker[AsyncSession], channel: str, external_id: str
) -> Resident | None:
    async with sessionmaker() as session:
        result = await session.execute(
            select(Resident).where(Resident.channel == channel, Resident.external_id == external_id)
        )
        return result.scalar_one_or_none()


class ViberResident:
    """A Viber user driven through the fake Viber server."""

    channel = "viber"

    def __init__(self, fake: FakeViber, user_id: str, name: str = "Оксана Петренко") -> None:
        self.fake = fake
        self.external_id = user_id
        fake.user(user_id, name=name)

    async def start(self) -> None:
        status, welcome = await self.fake.conversation_started(self.external_id)
        assert status == 200, status
        assert welcome is not None, "conversation_started got no welcome message"

    async def press(self, label: str) -> None:
        status = await self.fake.press_button(self.external_id, label)
        assert status == 200, status

    async def say(self, text: str) -> None:
        status = await self.fake.send_text(self.external_id, text)
        assert status == 200, status

    async def command(self, name: str) -> None:
        await self.say(f"/{name}")

    async def photo(self, caption: str | None = None) -> None:
        status = await self.fake.send_picture(self.external_id, text=caption)
        assert status == 200, status

    async def document(self, caption: str | None = None, file_name: str = "doc.pdf") -> None:
        status = await self.fake.send_file(self.external_id, file_name=file_name, text=caption)
        assert status == 200, status

    async def video(self, caption: str | None = None) -> None:
        status = await self.fake.send_video(self.external_id, text=caption)
        assert status == 200, status

    async def location(self, latitude: float, longitude: float) -> None:
        status = await self.fake.send_location(self.external_id, latitude, longitude)
        assert status == 200, status

    def texts(self) -> list[str]:
        return self.fake.texts(self.external_id)

    def last_text(self) -> str:
        return self.texts()[-1]

    def labels(self) -> list[str]:
        keyboard = self.fake.current_keyboard(self.external_id) or {}
        return [str(button.get("Text")) for button in keyboard.get("Buttons", [])]


class TelegramResident:
    """A Telegram user in a private chat with the bot, driven through the fake Bot API.

    In webhook mode a simulated update returns after the bot answered it; in polling mode we
    wait until the bot confirmed the update (it confirms only after storing and answering).
    """

    channel = "telegram"

    def __init__(self, fake: FakeTelegram, user_id: int, *, polling: bool) -> None:
        self.fake = fake
        self.user_id = user_id
        self.external_id = str(user_id)
        self.polling = polling
        fake.user(user_id, first_name="Оксана", last_name="Петренко")

    async def _settle(self, update: SimUpdate) -> None:
        if not self.polling:
            assert update.status == 200, update.status
            return
        deadline = asyncio.get_running_loop().time() + SERVE_TIMEOUT
        wanted = update.get("update_id")
        while any(u.get("update_id") == wanted for u in self.fake.pending_updates()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"update {wanted} was not confirmed")
            await asyncio.sleep(0.01)

    async def start(self) -> None:
        await self.command("start")

    async def command(self, name: str) -> None:
        await self.say(f"/{name}")

    async def say(self, text: str) -> None:
        await self._settle(await self.fake.send_text(self.user_id, text))

    async def photo(self, caption: str | None = None) -> None:
        await self._settle(await self.fake.send_photo(self.user_id, caption=caption))

    async def document(self, caption: str | None = None, file_name: str = "doc.pdf") -> None:
        update = await self.fake.send_document(self.user_id, file_name=file_name, caption=caption)
        await self._settle(update)

    async def video(self, caption: str | None = None) -> None:
        await self._settle(await self.fake.send_video(self.user_id, caption=caption))

    async def location(self, latitude: float, longitude: float) -> None:
        await self._settle(await self.fake.send_location(self.user_id, latitude, longitude))

    async def press(self, label: str) -> None:
        for message in reversed(self.fake.messages(self.user_id)):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button.get("text") == label:
                        update = await self.fake.press_button(
                            self.user_id, message["message_id"], button["callback_data"]
                        )
                        await self._settle(update)
                        return
        if label in self._reply_labels():
            await self.say(label)
            return
        raise LookupError(f"no button {label!r}; visible: {self.labels()}")

    def _reply_labels(self) -> list[str]:
        keyboard = self.fake.reply_keyboard(self.user_id) or {}
        return [button["text"] for row in keyboard.get("keyboard", []) for button in row]

    def texts(self) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.fake.messages(self.user_id)]

    def last_text(self) -> str:
        return self.texts()[-1]

    def labels(self) -> list[str]:
        messages = self.fake.messages(self.user_id)
        inline = (
            (messages[-1].get("reply_markup") or {}).get("inline_keyboard", []) if messages else []
        )
        return [button["text"] for row in inline for button in row] + self._reply_labels()


class Resident_(Protocol):
    channel: str
    external_id: str

    async def start(self) -> None: ...
    async def press(self, label: str) -> None: ...
    async def say(self, text: str) -> None: ...
    async def command(self, name: str) -> None: ...
    def texts(self) -> list[str]: ...
    def last_text(self) -> str: ...
    def labels(self) -> list[str]: ...
    async def photo(self, caption: str | None = None) -> None: ...
    async def location(self, latitude: float, longitude: float) -> None: ...


async def onboard(resident: Resident_, *, consent: bool = True) -> None:
    """The shortest onboarding: Ukrainian, every topic, the whole city."""
    await resident.start()
    await resident.press("✅ Погоджуюсь" if consent else "Продовжити без згоди")
    await resident.press("Українська")
    await resident.press("Готово ✔️")
    await resident.press("Усе місто")
    assert "Готово!" in resident.last_text()


async def submit_feedback(r: Resident_, text: str) -> None:
    """Fill in a feedback ticket (housing) from the main menu and press "Send"."""
    await r.press("✍️ Звернутися")
    await r.press("💬 Відгук або питання")
    await r.press("🏠 Житло та комунальні послуги")
    await r.say(text)
    await r.press("Далі ➡️")
    await r.press("Ні")
    await r.press("✅ Надіслати")


async def file_feedback(r: Resident_, text: str) -> str:
    """File a feedback ticket (housing) from the main menu; its number."""
    await submit_feedback(r, text)
    found = re.search(r"ВД-\d{4}-\d{6}", r.last_text())
    assert found, r.last_text()
    return found.group(0)


@dataclass
class World:
    """One messenger's fake server and a way to (re)start the bot against it."""

    settings: Settings
    resident: Resident_
    restart: Callable[[], contextlib.AbstractAsyncContextManager[async_sessionmaker[AsyncSession]]]


@contextlib.asynccontextmanager
async def _bot(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with running_bot(settings) as runtime:
        yield runtime.sessionmaker


@contextlib.asynccontextmanager
async def viber_world(database_url: str, **extra: Any) -> AsyncIterator[World]:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(
            database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url, **extra
        )
        yield World(
            settings, ViberResident(fake, "Rr8bGz1kQ0m7yKp3vN2wXg=="), lambda: _bot(settings)
        )


@contextlib.asynccontextmanager
async def telegram_world(database_url: str, mode: str, **extra: Any) -> AsyncIterator[World]:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = bot_settings(
            database_url,
            **extra,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=fake.base_url,
            telegram_mode=mode,
            webhook_secret="s3cr3t-Token_x-long-enough",
        )
        resident = TelegramResident(fake, 5550001, polling=mode == "polling")
        yield World(settings, resident, lambda: _bot(settings))


WORLDS: dict[str, Callable[..., contextlib.AbstractAsyncContextManager[World]]] = {
    "viber": viber_world,
    "telegram-polling": lambda url, **extra: telegram_world(url, "polling", **extra),
    "telegram-webhook": lambda url, **extra: telegram_world(url, "webhook", **extra),
}
