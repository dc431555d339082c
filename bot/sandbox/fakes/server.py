"""What both stand-ins do the same way: one aiohttp app on a loopback port, an HTTP client for
calling the bot back, background tasks that ``stop()`` cancels, and change notification for
tests (waiters) and the sandbox (listeners)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web


class FakeServer:
    """The server base of ``FakeTelegram`` and ``FakeViber``; subclasses add their routes."""

    # Limits of the aiohttp application; a short shutdown timeout so stop() never hangs on a
    # bot's keep-alive sockets.
    client_max_size = 1024 * 1024
    shutdown_timeout = 1.0

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._bound_port: int | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listeners: list[Callable[[], None]] = []
        self._changed = asyncio.Event()

    # ---------------------------------------------------------------- subclass hooks

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _client_timeout(self) -> aiohttp.ClientTimeout | None:
        """The timeout of the client that calls the bot (None: aiohttp's default)."""
        return None

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        app = web.Application(client_max_size=self.client_max_size)
        self._add_routes(app)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=self.shutdown_timeout
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        timeout = self._client_timeout()
        self._client = (
            aiohttp.ClientSession() if timeout is None else aiohttp.ClientSession(timeout=timeout)
        )

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._bound_port

    # ---------------------------------------------------------------- background work

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine in a task that stop() will cancel and await."""
        # The coroutine itself becomes the task, so cancelling it before it ever ran
        # closes it cleanly (no "coroutine was never awaited" warning).
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- change notification

    def _notify(self) -> None:
        # Waiters hold the previous event; swapping before setting wakes exactly them.
        event = self._changed
        self._changed = asyncio.Event()
        event.set()
        for listener in self._listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (synchronously, cheaply) after every change of state."""
        self._listeners.append(listener)

    def _stopping(self) -> bool:
        """True once waiters should give up (the Telegram fake's stop() sets it)."""
        return False

    async def _wait_until(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Wait until ``predicate()`` holds, re-checking after every change; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or self._stopping():
                return predicate()
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
