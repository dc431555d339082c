"""The media CDN: files users send, served at signed URLs that expire."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import secrets
import time
import urllib.parse

from aiohttp import web

from bot.sandbox.fakes.viber.callbacks import Callbacks
from bot.sandbox.fakes.viber.records import HostedMedia


class MediaHost(Callbacks):
    """The media CDN: files users send, served at signed URLs that expire."""

    # ------------------------------------------------------------------ media (the CDN)

    def _media_signature(self, key: str, expires: int) -> str:
        mac = hmac.new(self._media_key, f"{key}:{expires}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def host_media(
        self,
        content: bytes,
        *,
        file_name: str,
        content_type: str | None = None,
        ttl: float | None = None,
    ) -> str:
        """Serve ``content`` the way Viber's CDN serves a user's file; returns its URL, signed
        and valid for ``ttl`` seconds (default ``media_ttl``)."""
        key = secrets.token_urlsafe(12)
        expires = time.time() + (self.media_ttl if ttl is None else ttl)
        kind = content_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        self.media[key] = HostedMedia(content, kind, expires)
        name = urllib.parse.quote(file_name or "file", safe="")
        query = urllib.parse.urlencode(
            {"Expires": int(expires), "Signature": self._media_signature(key, int(expires))}
        )
        return f"http://{self._host}:{self.port}/media/{key}/{name}?{query}"

    def expire_media(self) -> None:
        """Every media URL handed out so far is past its TTL (as an hour later)."""
        for item in self.media.values():
            item.expires_at = 0.0

    async def _serve_media(self, request: web.Request) -> web.StreamResponse:
        item = self.media.get(request.match_info["key"])
        if item is None:
            return web.Response(status=404, text="NoSuchKey")
        expires = request.query.get("Expires", "")
        given = request.query.get("Signature", "")
        signed = expires.isdigit() and hmac.compare_digest(
            given.encode(), self._media_signature(request.match_info["key"], int(expires)).encode()
        )
        # A CloudFront-style CDN: a bad signature or a link past its time is AccessDenied.
        if not signed or time.time() >= min(item.expires_at, float(expires)):
            return web.Response(
                status=403,
                text="<Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>",
                content_type="text/xml",
            )
        item.downloads += 1
        return web.Response(body=item.content, content_type=item.content_type)

    def _media_url(
        self, media: str | None, content: bytes | None, file_name: str, default: bytes
    ) -> tuple[str, int]:
        """The URL of a user's file (hosted here unless ``media`` is given) and its size."""
        data = default if content is None else content
        if media is not None:
            return media, len(data)
        return self.host_media(data, file_name=file_name), len(data)
