"""``GET /media/{token}`` for every file behind a signed link: the files the bot keeps itself
(``storage.kept_files``: a resident's Viber file, a file staff uploaded in the web desk; the
link's file id is ``kept:<id>``) are served from the database; a Telegram file_id goes to the
Telegram proxy (``bot.telegram.files.MediaProxy``) when Telegram is configured.

So a council with the web desk alone (no Telegram) can still send staff files to residents:
Viber fetches them by this URL. The same rules as the Telegram proxy: a bad token is a 404
checked in constant time, an expired one a 410, ``nosniff`` on every answer, and anything a
browser could render as a page is a download.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.files import INLINE, NOSNIFF, _disposition
from handlers.staff.media import MediaLinks
from storage import kept_files

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CACHE_SECONDS = 3600


class KeptMedia:
    def __init__(
        self,
        *,
        links: MediaLinks,
        sessionmaker: async_sessionmaker[AsyncSession],
        telegram: Handler | None,
    ) -> None:
        self._links = links
        self._sessionmaker = sessionmaker
        self._telegram = telegram

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._serve(request)
        except web.HTTPException as error:
            error.headers.update(NOSNIFF)
            raise

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        link = self._links.verify(request.match_info.get("token", ""))
        if link is None:
            raise web.HTTPNotFound()
        kept = kept_files.id_of(link.file_id)
        if kept is None:
            if self._telegram is None:
                raise web.HTTPNotFound()
            return await self._telegram(request)
        if link.expired:
            raise web.HTTPGone()
        async with self._sessionmaker() as session:
            row = await kept_files.load(session, kept)
            if row is None:
                raise web.HTTPGone()  # erased (the resident's /forget)
            content, mime, name = row.content, row.mime_type, row.file_name
        left = int((link.expires_at - self._links.now()).total_seconds())
        content_type = mime if mime in INLINE else "application/octet-stream"
        return web.Response(
            body=content,
            headers={
                "Content-Type": content_type,
                "Cache-Control": f"private, max-age={max(0, min(CACHE_SECONDS, left))}",
                **NOSNIFF,
                **_disposition(content_type, name or "file"),
            },
        )
