"""GET /consultations/report/<token>.pdf: the report of a closed consultation, the link its
outcome message gives every participant.

The token is 32 random bytes (``secrets.token_urlsafe``) made at the close: the link cannot
be guessed from a consultation's number, and the document names no resident (only districts
and organisations, ``handlers.staff.consultations.report``). Anything else is a plain 404.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import consultations

REPORT_ROUTE: Final = "/consultations/report/{token}.pdf"
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")


class ReportRoute:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def handle(self, request: web.Request) -> web.Response:
        token = request.match_info.get("token", "")
        if not _TOKEN.fullmatch(token):
            raise web.HTTPNotFound
        async with self._sessionmaker() as session:
            report = await consultations.report_by_token(session, token)
        if report is None:
            raise web.HTTPNotFound
        name = f"consultation-{report.consultation_id}.pdf"
        return web.Response(
            body=report.pdf,
            content_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{name}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "public, max-age=300",
            },
        )
