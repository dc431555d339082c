"""Start-up as an operator sees it: what is retried, what is a configuration error, and when
the HTTP server answers for real.

``citybot run`` listens first and connects after: while the database or a messenger is
unreachable (PostgreSQL still starting, a network blip, a DNS failure) each attempt is one log
line and the next one waits a little longer (1 s doubling to 30 s), ``/healthz`` answers 503 and
webhooks get 503 (the messengers deliver them again later). What a retry cannot fix (a token the
messenger refuses, a database that does not exist, a wrong password) raises ``ConfigProblem``:
one line naming the variable to fix, exit 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiohttp import web
from sqlalchemy.exc import DBAPIError

from bot import __version__
from bot.channel_health import TOKEN_SETTINGS
from messaging.contract import CredentialsRefused, PermanentChannelError, TransientChannelError
from storage.errors import sqlstate
from storage.vocabulary import Channel

log = logging.getLogger("citybot")

T = TypeVar("T")

BACKOFF_START: Final = 1.0
BACKOFF_CAP: Final = 30.0
# Viber's status for a webhook URL it cannot use (it calls the URL while registering it).
VIBER_INVALID_URL: Final = 1
# Served while starting too: the process's own metrics say what it is waiting for.
ALWAYS_SERVED: Final = frozenset({"/metrics"})
# SQLSTATEs a retry cannot fix: 3D000 the database does not exist, class 28 the role does not
# exist or its password is wrong.
_DATABASE_MISSING: Final = "3D000"
_AUTHORIZATION_CLASS: Final = "28"


class ConfigProblem(Exception):
    """A start-up failure only the operator can fix: one line, the setting and the reason."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


class Stopped(Exception):
    """Asked to stop (SIGTERM) while still waiting for the database or a messenger."""


def database_problem(error: BaseException) -> ConfigProblem | None:
    """The configuration error in a database failure, if it is one."""
    if isinstance(error, DBAPIError):
        code = sqlstate(error)
        if code == _DATABASE_MISSING or (code or "")[:2] == _AUTHORIZATION_CLASS:
            # PostgreSQL's own words: 'database "x" does not exist', 'password authentication
            # failed for user "y"'; they name no password.
            cause = error.orig.__cause__ if error.orig is not None else None
            reason = str(cause or error.orig).splitlines()[0]
            return ConfigProblem("CITYBOT_DATABASE_URL", reason)
        if isinstance(error.orig, sqlite3.OperationalError) and "unable to open" in str(error.orig):
            return ConfigProblem("CITYBOT_DATABASE_URL", "unable to open the SQLite database file")
    return None


def database_unreachable(error: BaseException) -> bool:
    """Whether waiting may help: refused or dropped connections, DNS, timeouts, a server that
    is starting or shutting down (SQLSTATE 57P03), too many connections (53300)."""
    if isinstance(error, OSError):  # ConnectionRefusedError, socket.gaierror, TimeoutError
        return True
    if isinstance(error, DBAPIError):
        code = sqlstate(error) or ""
        return error.connection_invalidated or code[:2] in {"08", "53", "57"}
    return False


def channel_problem(error: BaseException) -> ConfigProblem | None:
    refused = error.channel if isinstance(error, CredentialsRefused) else None
    if isinstance(error, TelegramUnauthorizedError) or refused == Channel.TELEGRAM:
        return ConfigProblem(
            TOKEN_SETTINGS[Channel.TELEGRAM],
            "Telegram refuses this token (401 Unauthorized); copy it again from @BotFather",
        )
    if refused == Channel.VIBER:
        return ConfigProblem(
            TOKEN_SETTINGS[Channel.VIBER], "Viber refuses this token (status 2, invalid auth token)"
        )
    if isinstance(error, TelegramBadRequest) and "webhook" in error.message.lower():
        # "bad webhook: An HTTPS URL must be provided", "…: Failed to resolve host".
        return ConfigProblem("CITYBOT_PUBLIC_URL", f"Telegram refuses the webhook: {error.message}")
    if isinstance(error, PermanentChannelError) and error.code == VIBER_INVALID_URL:
        return ConfigProblem(
            "CITYBOT_PUBLIC_URL",
            "Viber refuses the webhook (status 1): it could not call …/viber/webhook there",
        )
    return None


def channel_unreachable(error: BaseException) -> bool:
    return isinstance(
        error,
        TelegramNetworkError | TelegramServerError | TelegramRetryAfter | TransientChannelError,
    )


def _describe(error: BaseException) -> str:
    """One line: the error's class and the first line of its message (network errors and
    connection refusals name a host and a port, never a token: those are in headers or paths
    these messages do not quote)."""
    message = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


async def keep_trying(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    stop: asyncio.Event,
    *,
    problem: Callable[[BaseException], ConfigProblem | None],
    unreachable: Callable[[BaseException], bool],
) -> T:
    """``attempt`` until it succeeds: a configuration problem is raised at once, an unreachable
    service is retried with capped exponential back-off (one warning per attempt), anything
    else propagates with its traceback. Raises ``Stopped`` if ``stop`` is set meanwhile."""
    delay = BACKOFF_START
    while True:
        try:
            return await attempt()
        except Exception as error:
            found = problem(error)
            if found is not None:
                raise found from None
            if not unreachable(error):
                raise
            if isinstance(error, TelegramRetryAfter):
                delay = max(delay, float(error.retry_after))
            log.warning("%s is unreachable (%s); retrying in %.0f s", what, _describe(error), delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            raise Stopped(what)
        delay = min(delay * 2, BACKOFF_CAP)


async def database_ready(
    what: str, attempt: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    await keep_trying(
        what, attempt, stop, problem=database_problem, unreachable=database_unreachable
    )


async def channel_ready(
    what: str, attempt: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    await keep_trying(what, attempt, stop, problem=channel_problem, unreachable=channel_unreachable)


class Readiness:
    """What the HTTP server may do yet. Until the database is ready every request is answered
    503 (a messenger delivers a webhook again later); until the channels are registered too,
    ``/healthz`` stays 503 while webhooks are served (Viber calls its webhook while it is being
    registered)."""

    def __init__(self) -> None:
        self.database = False
        self.serving = False

    def install(self, app: web.Application) -> None:
        """Before the application is started (its middlewares are frozen then)."""
        app.middlewares.insert(0, self._gate)

    @web.middleware
    async def _gate(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        path = request.path
        if self.serving or (self.database and path != "/healthz") or path in ALWAYS_SERVED:
            return await handler(request)
        state = "connecting" if self.database else "waiting for the database"
        return web.json_response(
            {"status": "starting", "state": state, "version": __version__},
            status=503,
            headers={"Retry-After": "5"},
        )
