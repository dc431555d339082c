"""Drive a running ``citybot sandbox`` through its page's HTTP API, as the page does.

``SandboxTelegramResident`` and ``SandboxViberResident`` satisfy the harness's resident protocol
(``tests.harness.onboard`` works with them), so the sandbox tests walk the same flows as the
end-to-end tests, but through the sandbox's API instead of the stand-ins' Python methods."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.sandbox.run import SandboxOptions, run_sandbox
from tests.conftest import free_port

START_TIMEOUT = 30.0


@dataclass
class Sandbox:
    url: str
    http: aiohttp.ClientSession
    announced: list[str]

    async def get(self, path: str) -> Any:
        async with self.http.get(self.url + path) as response:
            assert response.status == 200, (path, response.status, await response.text())
            return await response.json()

    async def post(self, path: str, body: dict[str, Any], *, status: int = 200) -> Any:
        async with self.http.post(self.url + path, json=body) as response:
            payload = await response.json()
            assert response.status == status, (path, response.status, payload)
            return payload

    async def settle(self) -> None:
        await self.get("/api/settle")

    async def world(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.get("/api/world")
        return result

    async def operator_chat(self) -> dict[str, Any]:
        world = await self.world()
        chat: dict[str, Any] = await self.get(f"/api/telegram/chat/{world['operator_chat']['id']}")
        return chat


@contextlib.asynccontextmanager
async def running_sandbox(database_url: str, *, seed: bool = False) -> AsyncIterator[Sandbox]:
    port = free_port()
    stop, ready = asyncio.Event(), asyncio.Event()
    announced: list[str] = []
    task = asyncio.create_task(
        run_sandbox(
            SandboxOptions(port=port, seed=seed),
            stop,
            environ={"CITYBOT_DATABASE_URL": database_url},
            announce=announced.append,
            ready=ready,
        )
    )
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()
    assert ready.is_set(), "the sandbox did not start"
    try:
        async with aiohttp.ClientSession() as http:
            yield Sandbox(f"http://127.0.0.1:{port}", http, announced)
    finally:
        stop.set()
        await asyncio.wait_for(task, START_TIMEOUT)


class SandboxTelegramResident:
    channel = "telegram"

    def __init__(self, sandbox: Sandbox, user_id: str) -> None:
        self.sandbox = sandbox
        self.external_id = user_id
        self._chat: dict[str, Any] = {}

    async def _refresh(self) -> None:
        await self.sandbox.settle()
        self._chat = await self.sandbox.get(f"/api/telegram/chat/{self.external_id}")

    async def start(self) -> None:
        await self.command("start")

    async def command(self, name: str) -> None:
        await self.say(f"/{name}")

    async def say(self, text: str) -> None:
        await self.sandbox.post("/api/telegram/send", {"user_id": self.external_id, "text": text})
        await self._refresh()

    async def press(self, label: str) -> None:
        for message in reversed(self._bot_messages()):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button.get("text") == label:
                        await self.sandbox.post(
                            "/api/telegram/press",
                            {
                                "user_id": self.external_id,
                                "message_id": message["message_id"],
                                "data": button["callback_data"],
                            },
                        )
                        await self._refresh()
                        return
        if label in self._reply_labels():
            await self.say(label)
            return
        raise LookupError(f"no button {label!r}; visible: {self.labels()}")

    async def photo(self, caption: str | None = None) -> None:
        raise NotImplementedError("uploads are exercised in tests/test_sandbox.py directly")

    async def location(self, latitude: float, longitude: float) -> None:
        body = {"user_id": self.external_id, "latitude": latitude, "longitude": longitude}
        await self.sandbox.post("/api/telegram/location", body)
        await self._refresh()

    def _bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self._chat.get("messages", []) if m["from"].get("is_bot")]

    def _reply_labels(self) -> list[str]:
        keyboard = self._chat.get("keyboard") or {}
        return [button["text"] for row in keyboard.get("keyboard", []) for button in row]

    def texts(self) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self._bot_messages()]

    def last_text(self) -> str:
        return self.texts()[-1]

    def labels(self) -> list[str]:
        messages = self._bot_messages()
        inline = (
            (messages[-1].get("reply_markup") or {}).get("inline_keyboard", []) if messages else []
        )
        return [button["text"] for row in inline for button in row] + self._reply_labels()


class SandboxViberResident:
    channel = "viber"

    def __init__(self, sandbox: Sandbox, user_id: str) -> None:
        self.sandbox = sandbox
        self.external_id = user_id
        self._chat: dict[str, Any] = {}

    async def _refresh(self) -> None:
        await self.sandbox.settle()
        self._chat = await self.sandbox.get(f"/api/viber/chat/{self.external_id}")

    async def start(self) -> None:
        await self.sandbox.post("/api/viber/start", {"user_id": self.external_id})
        await self._refresh()

    async def command(self, name: str) -> None:
        await self.say(f"/{name}")

    async def say(self, text: str) -> None:
        await self.sandbox.post("/api/viber/send", {"user_id": self.external_id, "text": text})
        await self._refresh()

    async def press(self, label: str) -> None:
        await self.sandbox.post("/api/viber/press", {"user_id": self.external_id, "button": label})
        await self._refresh()

    async def photo(self, caption: str | None = None) -> None:
        raise NotImplementedError("uploads are exercised in tests/test_sandbox.py directly")

    async def location(self, latitude: float, longitude: float) -> None:
        body = {"user_id": self.external_id, "latitude": latitude, "longitude": longitude}
        await self.sandbox.post("/api/viber/location", body)
        await self._refresh()

    def texts(self) -> list[str]:
        return [
            str(entry["message"].get("text", ""))
            for entry in self._chat.get("entries", [])
            if entry["direction"] == "out"
        ]

    def last_text(self) -> str:
        return self.texts()[-1]

    def labels(self) -> list[str]:
        keyboard = self._chat.get("keyboard") or {}
        return [str(button.get("Text")) for button in keyboard.get("Buttons", [])]
