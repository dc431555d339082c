"""Helpers of the web desk's tests: the bot running with the desk under /desk/ on a real port,
fake Viber (and optionally Telegram with an operator chat), staff accounts with passwords and
second factors, and browsers of staff signed in over real HTTP (an aiohttp client with its own
cookie jar, as a browser keeps one)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pyotp
from sqlalchemy import select

from bot.app import Runtime
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from storage import staff_auth
from storage.models import AuditEntry
from storage.staff import add_account
from storage.vocabulary import Role
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN, bot_settings, running_bot
from tests.staff_world import FORUM_CHAT, Clock, create_ticket

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass(frozen=True)
class Account:
    id: int
    login: str
    password: str
    totp_secret: str | None

    def code(self, clock: Clock) -> str:
        assert self.totp_secret is not None
        return pyotp.TOTP(self.totp_secret).at(clock())


@dataclass
class Browser:
    """One browser of a staff member: its cookies and the last CSRF token a page gave it."""

    http: aiohttp.ClientSession
    base: str
    csrf: str = ""

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.http.get(self.base + path, **kwargs) as response:
            body = await response.text()
            self._keep_token(body)
            return response.status, body

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> tuple[int, str]:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        async with self.http.post(self.base + path, data=form, **kwargs) as response:
            body = await response.text()
            self._keep_token(body)
            return response.status, body

    def _keep_token(self, body: str) -> None:
        """The token the page's forms carry (a page may also have forms without one)."""
        tokens = [token for token in _CSRF.findall(body) if token]
        if tokens:
            self.csrf = tokens[-1]

    def cookie(self, name: str) -> Any:
        for cookie in self.http.cookie_jar:
            if cookie.key == name:
                return cookie
        return None


@dataclass
class DeskWorld:
    runtime: Runtime
    clock: Clock
    viber: FakeViber
    telegram: FakeTelegram | None
    base: str
    stack: contextlib.AsyncExitStack

    async def account(
        self,
        login: str,
        role: Role,
        *,
        departments: tuple[str, ...] | None = ("housing",),
        totp: bool = False,
        name: str | None = None,
        telegram_id: int | None = None,
    ) -> Account:
        """An account with a password set (as after its invitation) and, if asked, a second
        factor. ``departments`` None: none at all."""
        async with self.runtime.sessionmaker() as session, session.begin():
            staff = await add_account(
                session,
                login=login,
                role=role,
                now=self.clock(),
                name=name,
                telegram_id=telegram_id,
                departments=departments or (),
            )
            staff.password_hash = staff_auth.hash_password(PASSWORD)
            secret = pyotp.random_base32() if totp else None
            staff.totp_secret = secret
            return Account(staff.id, staff.login, PASSWORD, secret)

    async def browser(self) -> Browser:
        http = await self.stack.enter_async_context(
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        )
        return Browser(http=http, base=self.base)

    async def signed_in(self, account: Account) -> Browser:
        browser = await self.browser()
        status, _ = await browser.get("/desk/login")
        assert status == 200
        status, body = await browser.post(
            "/desk/login", {"login": account.login, "password": account.password}
        )
        if account.totp_secret is not None:
            assert status == 200 and "/desk/login/code" in body, status
            status, body = await browser.post(
                "/desk/login/code", {"code": account.code(self.clock)}
            )
        # Signed in: the desk's home page, with the sign-out form.
        assert status == 200 and 'action="/desk/logout"' in body, (status, body[:300])
        return browser

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.runtime.sessionmaker() as session:
            query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            return list((await session.scalars(query)).all())

    async def file(self, **fields: Any) -> int:
        """A ticket straight into the database (a Viber resident's by default)."""
        fields.setdefault("channel", "viber")
        fields.setdefault("external_id", VIBER_RESIDENT)
        return await create_ticket(self.runtime, clock=self.clock, **fields)


VIBER_RESIDENT = "Vb3rRes1dent0000000000=="


@contextlib.asynccontextmanager
async def desk_world(
    database_url: str, *, telegram: bool = False, **settings: Any
) -> AsyncIterator[DeskWorld]:
    """The bot with the web desk (and Viber; Telegram with a forum operator chat if asked)."""
    clock = Clock()
    async with contextlib.AsyncExitStack() as stack:
        viber = await stack.enter_async_context(FakeViber(VIBER_TOKEN))
        overrides: dict[str, Any] = {
            "viber_token": VIBER_TOKEN,
            "viber_api_url": viber.base_url,
            **settings,
        }
        fake_telegram = None
        if telegram:
            fake_telegram = await stack.enter_async_context(FakeTelegram(TELEGRAM_TOKEN))
            overrides.update(
                telegram_token=TELEGRAM_TOKEN,
                telegram_api_url=fake_telegram.base_url,
                telegram_mode="webhook",
                operator_chat_id=str(FORUM_CHAT),
            )
        config = bot_settings(database_url, **overrides)
        runtime = await stack.enter_async_context(running_bot(config, clock=clock))
        base = f"http://127.0.0.1:{config.http_port}"
        yield DeskWorld(
            runtime=runtime,
            clock=clock,
            viber=viber,
            telegram=fake_telegram,
            base=base,
            stack=stack,
        )
