"""Signed, expiring links to Telegram files, for residents on Viber.

A photo or document staff send in Telegram is known by its ``file_id``, which only our bot can
download. Viber fetches media by URL, so we hand it ``<public url>/media/<token>``, where the token
is ``<file_id>.<expiry>.<HMAC of both>``; the route (``bot/telegram/files.py``) checks the HMAC in
constant time, then the expiry, and streams the file from Telegram. Without the key nobody can
turn our server into a proxy for arbitrary file_ids, nor move a link's expiry: it is signed with
the file_id. A link lives ``LINK_TTL`` (a day: Viber fetches the file when the message is sent;
a link that leaked later, from a forwarded message or a log, no longer opens the file).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from storage.vocabulary import Clock, system_clock

MEDIA_PREFIX: Final = "/media/"
MEDIA_PATH: Final = MEDIA_PREFIX + "{token}"
# How long a link opens its file: long enough for Viber to fetch it (at once, or after a retry).
LINK_TTL: Final = timedelta(days=1)
# Derivation label: the same bot token must give a different key for a different purpose.
# v2: the expiry is signed too (v1 links, which never expired, are no longer accepted).
_KEY_LABEL: Final = b"citybot/media-links/v2"
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


@dataclass(frozen=True, slots=True)
class Link:
    """A token that is ours (its signature checked): which file, until when."""

    file_id: str
    expires_at: datetime
    expired: bool


class MediaLinks:
    def __init__(
        self,
        *,
        key: bytes,
        public_url: str,
        clock: Clock = system_clock,
        ttl: timedelta = LINK_TTL,
    ) -> None:
        self._key = key
        self._base = public_url.rstrip("/")
        self._clock = clock
        self._ttl = ttl

    def now(self) -> datetime:
        return self._clock()

    def lasting(self, ttl: timedelta) -> MediaLinks:
        """The same links (same key, same route) living ``ttl``: a file attached to news that
        may be scheduled months ahead must still open when it is sent."""
        return MediaLinks(key=self._key, public_url=self._base, clock=self._clock, ttl=ttl)

    def _mac(self, file_id: str, expires: int) -> bytes:
        # The expiry is in the signed payload: changing it breaks the signature.
        payload = f"{expires}\n{file_id}".encode()
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def token(self, file_id: str) -> str:
        expires = int((self._clock() + self._ttl).timestamp())
        return f"{_b64(file_id.encode())}.{expires}.{_b64(self._mac(file_id, expires))}"

    def url(self, file_id: str) -> str:
        return self._base + MEDIA_PATH.format(token=self.token(file_id))

    def verify(self, token: str) -> Link | None:
        """What a token links to, or None when it is not ours (malformed, forged, tampered).
        The signature is compared in constant time before the expiry is looked at."""
        if len(token) > 2 * _MAX_FILE_ID:
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        encoded, expiry, mac = parts
        if not encoded or not mac or not expiry.isascii() or not expiry.isdigit():
            return None
        try:
            file_id = _unb64(encoded).decode()
            given = _unb64(mac)
            expires = int(expiry)
            expires_at = datetime.fromtimestamp(expires, UTC)
        except (binascii.Error, ValueError, OverflowError, OSError):
            return None
        if str(expires) != expiry or not hmac.compare_digest(given, self._mac(file_id, expires)):
            return None
        return Link(file_id=file_id, expires_at=expires_at, expired=self._clock() >= expires_at)

    def file_id(self, token: str) -> str | None:
        """The file_id of a token that is ours and has not expired, else None."""
        link = self.verify(token)
        return None if link is None or link.expired else link.file_id
