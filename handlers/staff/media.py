"""Signed links to Telegram files, for residents on Viber.

A photo or document staff send in Telegram is known by its ``file_id``, which only our bot can
download. Viber fetches media by URL, so we hand it ``<public url>/media/<token>``, where the token
carries the file_id and an HMAC of it; the route (``bot/telegram/files.py``) checks the HMAC in
constant time and streams the file from Telegram. Without the key nobody can turn our server into
a proxy for arbitrary file_ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final

MEDIA_PATH: Final = "/media/{token}"
# Derivation label: the same bot token must give a different key for a different purpose.
_KEY_LABEL: Final = b"citybot/media-links/v1"
# 128 bits of HMAC are plenty for an unguessable link and keep the URL short.
_MAC_BYTES: Final = 16
# Telegram file_ids are about 70-100 characters; anything much longer is not one.
_MAX_FILE_ID: Final = 512


def derive_key(secret: str) -> bytes:
    """A key for media links from the Telegram bot token (or the webhook secret)."""
    return hmac.new(_KEY_LABEL, secret.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MediaLinks:
    def __init__(self, *, key: bytes, public_url: str) -> None:
        self._key = key
        self._base = public_url.rstrip("/")

    def _mac(self, file_id: str) -> bytes:
        return hmac.new(self._key, file_id.encode(), hashlib.sha256).digest()[:_MAC_BYTES]

    def token(self, file_id: str) -> str:
        return f"{_b64(file_id.encode())}.{_b64(self._mac(file_id))}"

    def url(self, file_id: str) -> str:
        return self._base + MEDIA_PATH.format(token=self.token(file_id))

    def file_id(self, token: str) -> str | None:
        """The file_id a token was made for, or None when the token is not ours."""
        encoded, _, mac = token.partition(".")
        if not encoded or not mac or len(token) > 2 * _MAX_FILE_ID:
            return None
        try:
            file_id = _unb64(encoded).decode()
            given = _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(given, self._mac(file_id)):
            return None
        return file_id
