"""Signing in to the web desk over real HTTP, as a browser does: passwords, the second factor,
rate limits, cookies, CSRF, the security headers, and accounts that are disabled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage.models import LoginFailure, Staff, StaffSession
from storage.staff_auth import FAILURES_PER_LOGIN
from storage.vocabulary import Role
from tests.desk_world import PASSWORD, desk_world

pytestmark = pytest.mark.migrated_database


async def test_sign_in_sets_a_strict_cookie_and_audits_the_address(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        browser = await world.browser()
        # Signed out: every page leads to the login form.
        status, body = await browser.get("/desk/")
        assert status == 200 and 'action="/desk/login"' in body
        async with browser.http.get(world.base + "/desk/", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/desk/login"
            csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp

        signed = await world.signed_in(maria)
        status, body = await signed.get("/desk/")
        assert status == 200 and "Марія Коваль" in body
        cookie = signed.cookie("citybot_desk")
        assert cookie is not None and cookie["httponly"] and cookie["samesite"] == "Strict"
        assert cookie["path"] == "/desk/"
        # http://127.0.0.1: not https, so not Secure (a browser would drop it).
        assert not cookie["secure"]
        (entry,) = await world.audit("desk.signed_in")
        assert entry.actor == f"staff:{maria.id}"
        assert entry.details == {"desk": "web", "address": "127.0.0.1"}
        # Only a hash of the session token is stored.
        async with world.runtime.sessionmaker() as session:
            stored = (await session.scalars(select(StaffSession.token_hash))).all()
        assert stored and cookie.value not in stored


async def test_wrong_passwords_are_refused_then_throttled(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.browser()
        for attempt in range(FAILURES_PER_LOGIN):
            await browser.get("/desk/login")
            status, body = await browser.post(
                "/desk/login", {"login": "maria", "password": f"guess {attempt}"}
            )
            assert status == 401 and "Невірний логін або пароль" in body
        # An unknown login gets the same answer (nothing tells which logins exist).
        await browser.get("/desk/login")
        status, body = await browser.post("/desk/login", {"login": "nobody", "password": "x"})
        assert status == 401 and "Невірний логін або пароль" in body
        # Past the limit even the right password waits, with a clear message.
        await browser.get("/desk/login")
        status, body = await browser.post(
            "/desk/login", {"login": "maria", "password": maria.password}
        )
        assert status == 429 and "Забагато невдалих спроб" in body
        assert len(await world.audit("desk.login_throttled")) == 1
        # The window passes: the right password works again.
        world.clock.advance(timedelta(minutes=16))
        await world.signed_in(maria)
        # Failures older than the window are pruned as new ones come.
        await browser.get("/desk/login")
        await browser.post("/desk/login", {"login": "maria", "password": "typo"})
        async with world.runtime.sessionmaker() as session:
            count = await session.scalar(select(func.count()).select_from(LoginFailure))
        assert count == 1


async def test_second_factor(database_url: str) -> None:
    async with desk_world(database_url) as world:
        petro = await world.account("petro", Role.OPERATOR, totp=True)
        browser = await world.browser()
        await browser.get("/desk/login")
        status, body = await browser.post(
            "/desk/login", {"login": "petro", "password": petro.password}
        )
        assert status == 200 and 'action="/desk/login/code"' in body
        # The half-done sign-in opens no page.
        status, body = await browser.get("/desk/")
        assert 'action="/desk/login"' in body and 'action="/desk/logout"' not in body
        await browser.get("/desk/login")
        status, body = await browser.post(
            "/desk/login", {"login": "petro", "password": petro.password}
        )
        status, body = await browser.post("/desk/login/code", {"code": "000000"})
        assert status == 401 and "Код не підійшов" in body
        status, body = await browser.post("/desk/login/code", {"code": petro.code(world.clock)})
        assert status == 200 and 'action="/desk/logout"' in body
        assert len(await world.audit("desk.code_failed")) == 1


async def test_csrf_and_cross_site_requests_are_refused(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.signed_in(maria)
        # No token, a wrong token, another site's page: refused, still signed in.
        assert (await browser.post("/desk/logout", csrf=False))[0] == 403
        assert (await browser.post("/desk/logout", {"csrf": "forged"}))[0] == 403
        evil = {"Origin": "https://evil.example"}
        assert (await browser.post("/desk/logout", headers=evil))[0] == 403
        cross = {"Sec-Fetch-Site": "cross-site"}
        assert (await browser.post("/desk/logout", headers=cross))[0] == 403
        status, body = await browser.get("/desk/")
        assert status == 200 and 'action="/desk/logout"' in body
        # The login form has its own token too: a forged login post is refused.
        stranger = await world.browser()
        status, _ = await stranger.post(
            "/desk/login", {"login": "maria", "password": PASSWORD}, csrf=False
        )
        assert status == 403
        # Our own page's form works.
        status, body = await browser.post("/desk/logout")
        assert status == 200 and 'action="/desk/login"' in body
        assert (await browser.get("/desk/"))[1].count('action="/desk/logout"') == 0


async def test_a_disabled_account_stops_at_once(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        first, second = await world.signed_in(maria), await world.signed_in(maria)
        async with world.runtime.sessionmaker() as session, session.begin():
            staff = await session.get(Staff, maria.id)
            assert staff is not None
            staff.disabled_at = world.clock()
        for browser in (first, second):
            status, body = await browser.get("/desk/")
            assert 'action="/desk/logout"' not in body and 'action="/desk/login"' in body
        # Nor can it sign in again.
        browser = await world.browser()
        await browser.get("/desk/login")
        status, _ = await browser.post("/desk/login", {"login": "maria", "password": PASSWORD})
        assert status == 401


async def test_sessions_time_out_and_sign_out_everywhere(database_url: str) -> None:
    async with desk_world(database_url, desk_idle_minutes=30, desk_session_hours=12) as world:
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.signed_in(maria)
        world.clock.advance(timedelta(minutes=31))
        assert 'action="/desk/logout"' not in (await browser.get("/desk/"))[1]
        # Active all along, still the absolute limit ends it.
        browser = await world.signed_in(maria)
        for _ in range(13):
            world.clock.advance(timedelta(minutes=29))
            await browser.get("/desk/")
        assert 'action="/desk/logout"' in (await browser.get("/desk/"))[1]
        world.clock.advance(timedelta(hours=6))
        assert 'action="/desk/logout"' not in (await browser.get("/desk/"))[1]
        # Sign out everywhere: every browser of the account is signed out.
        first, second = await world.signed_in(maria), await world.signed_in(maria)
        status, _ = await first.post("/desk/logout", {"everywhere": "1"})
        assert status == 200
        assert 'action="/desk/logout"' not in (await second.get("/desk/"))[1]


async def test_the_client_address_behind_a_trusted_proxy(database_url: str) -> None:
    """Behind the HTTPS proxy every request comes from it: its X-Forwarded-For names the client,
    but only when the proxy is trusted (anyone can send the header)."""
    forwarded = {"X-Forwarded-For": "198.51.100.4, 203.0.113.9"}
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.browser()
        await browser.get("/desk/login")
        await browser.post(
            "/desk/login", {"login": "maria", "password": maria.password}, headers=forwarded
        )
        (entry,) = await world.audit("desk.signed_in")
        assert entry.details["address"] == "127.0.0.1"
    async with desk_world(database_url, trusted_proxies="127.0.0.1") as world:
        browser = await world.browser()
        await browser.get("/desk/login")
        await browser.post(
            "/desk/login", {"login": "maria", "password": maria.password}, headers=forwarded
        )
        entry = (await world.audit("desk.signed_in"))[-1]
        # The hop the proxy added; the one before it could be the client's own invention.
        assert entry.details["address"] == "203.0.113.9"
