"""``GET /media/{token}``: a Telegram file served by our own URL, for residents on Viber.

Viber fetches pictures and files by URL; a Telegram file_id is useless to it. The token is a
signed file_id (``handlers.staff.media.MediaLinks``): a bad or forged token is a 404, checked in
constant time before Telegram is asked anything. The file is streamed from Telegram's file
endpoint (``CITYBOT_TELEGRAM_API_URL``/file/bot…) without being stored.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import AsyncGenerator

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramNotFound
from aiohttp import web

from handlers.staff.media import MEDIA_PATH, MediaLinks

log = logging.getLogger(__name__)

ROUTE = MEDIA_PATH
DOWNLOAD_TIMEOUT = 60
CHUNK = 64 * 1024


class MediaProxy:
    def __init__(self, *, bot: Bot, links: MediaLinks) -> None:
        self._bot = bot
        self._links = links

    async def handle(self, request: web.Request) -> web.StreamResponse:
        file_id = self._links.file_id(request.match_info.get("token", ""))
        if file_id is None:
            raise web.HTTPNotFound()
        try:
            file = await self._bot.get_file(file_id)
        except (TelegramBadRequest, TelegramNotFound):
            raise web.HTTPNotFound() from None
        except TelegramAPIError as error:
            log.warning("media: getFile failed: %s", error)
            raise web.HTTPBadGateway() from None
        if not file.file_path:
            raise web.HTTPNotFound()
        url = self._bot.session.api.file_url(self._bot.token, file.file_path)
        stream: AsyncGenerator[bytes, None] = self._bot.session.stream_content(
            url, timeout=DOWNLOAD_TIMEOUT, chunk_size=CHUNK, raise_for_status=True
        )
        try:
            # The first chunk decides the status; after prepare() it cannot change.
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                first = b""
            except aiohttp.ClientResponseError as error:
                log.warning("media: download failed: %s", error.status)
                raise web.HTTPNotFound() if error.status == 404 else web.HTTPBadGateway() from None
            except (aiohttp.ClientError, TimeoutError) as error:
                log.warning("media: download failed: %r", error)
                raise web.HTTPBadGateway() from None
            content_type = mimetypes.guess_type(file.file_path)[0] or "application/octet-stream"
            response = web.StreamResponse(
                headers={
                    "Content-Type": content_type,
                    "Cache-Control": "private, max-age=3600",
                    "X-Content-Type-Options": "nosniff",
                }
            )
            await response.prepare(request)
            # A download failing from here on propagates: aiohttp then aborts the connection,
            # so the client sees a broken transfer rather than a truncated "complete" file.
            await response.write(first)
            async for chunk in stream:
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            await stream.aclose()
