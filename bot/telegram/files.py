"""``GET /media/{token}``: a Telegram file served by our own URL, for residents on Viber.

Viber fetches pictures and files by URL; a Telegram file_id is useless to it. The token is a
signed file_id with a signed expiry (``handlers.staff.media.MediaLinks``): a bad, forged or
tampered token is a 404, checked in constant time before Telegram is asked anything; a genuine
link past its expiry is a 410 Gone (it existed and will not come back: clients and caches stop
asking; only a holder of a once-valid link can tell it from a 404). The file is streamed from
Telegram's file endpoint (``CITYBOT_TELEGRAM_API_URL``/file/bot…) without being stored.

Every answer carries ``X-Content-Type-Options: nosniff``; a file a browser could render as a
page (HTML, SVG, XML, scripts — anything but the images, audio, video and PDF in ``INLINE``) is
served as a download (``Content-Disposition: attachment``), so a staff file opened through the
link cannot run in our origin. The access log (``RedactingAccessLogger``) leaves the token out.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import AsyncGenerator
from typing import Final

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramNotFound
from aiohttp import web
from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest

from handlers.staff.media import MEDIA_PATH, MEDIA_PREFIX, MediaLinks

log = logging.getLogger(__name__)

ROUTE = MEDIA_PATH
DOWNLOAD_TIMEOUT = 60
CHUNK = 64 * 1024
CACHE_SECONDS = 3600
NOSNIFF: Final = {"X-Content-Type-Options": "nosniff"}
# Types a browser shows as media, never as a page with scripts; everything else is a download.
# (SVG is an image that runs scripts when opened on its own: a download.)
INLINE: Final = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/bmp",
        "video/mp4",
        "video/mpeg",
        "video/quicktime",
        "video/webm",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg",
        "audio/wav",
        "audio/x-wav",
        "application/pdf",
    }
)
REDACTED_PATH: Final = MEDIA_PREFIX + "REDACTED"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _disposition(content_type: str, file_path: str) -> dict[str, str]:
    if content_type in INLINE:
        return {}
    name = _UNSAFE_NAME.sub("_", file_path.rsplit("/", 1)[-1]).strip("._") or "file"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access log, with ``/media/<token>`` logged as ``/media/REDACTED``: a link
    in the log would open the file for whoever reads the log, until it expires."""

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.path.startswith(MEDIA_PREFIX):
            try:
                request = request.clone(rel_url=REDACTED_PATH)
            except RuntimeError:
                # A request whose body was read cannot be cloned: no line rather than the token.
                return
        super().log(request, response, time)


class MediaProxy:
    def __init__(self, *, bot: Bot, links: MediaLinks) -> None:
        self._bot = bot
        self._links = links

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._serve(request)
        except web.HTTPException as error:
            # Refusals too: nothing on this route may be sniffed into a page.
            error.headers.update(NOSNIFF)
            raise

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        link = self._links.verify(request.match_info.get("token", ""))
        if link is None:
            raise web.HTTPNotFound()
        if link.expired:
            raise web.HTTPGone()
        file_id = link.file_id
        # A browser's copy must not outlive the link.
        left = int((link.expires_at - self._links.now()).total_seconds())
        max_age = max(0, min(CACHE_SECONDS, left))
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
                    "Cache-Control": f"private, max-age={max_age}",
                    **NOSNIFF,
                    **_disposition(content_type, file.file_path),
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
