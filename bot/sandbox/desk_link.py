"""The sandbox's door to the web desk: one click signs the page's user in as the demo
administrator, so a newcomer sees the desk with no account to make and no password to type.

Only the sandbox installs this route (loopback only, no login by design, like the rest of its
page); ``citybot run`` has no such door."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.context import SESSION_COOKIE
from bot.sandbox.page_input import SAY
from bot.sandbox.world import DEFAULT_ADMIN
from storage import audit, staff_auth
from storage.staff import get_staff

ROUTE = "/sandbox/desk"


class DeskDoor:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def open(self, request: web.Request) -> web.StreamResponse:
        now = datetime.now(UTC)
        async with self._sessionmaker() as session, session.begin():
            admin = await get_staff(session, telegram_id=DEFAULT_ADMIN[0])
            if admin is None:
                t = request.app[SAY]
                raise web.HTTPNotFound(text=t("sandbox.error.no_admin"))
            opened = await staff_auth.open_session(session, admin, now=now, address=request.remote)
            audit.record(
                session,
                actor=f"staff:{admin.id}",
                action="desk.signed_in",
                now=now,
                details={"desk": "web", "address": request.remote or "", "sandbox": True},
            )
        response = web.Response(status=303, headers={"Location": "/desk/"})
        response.set_cookie(
            SESSION_COOKIE, opened.token, path="/desk/", httponly=True, samesite="Strict"
        )
        return response
