"""Keep a copy of every file a resident sends through Viber, before its URL expires.

Viber hands the bot a media URL (a signed CDN link that stops working after about an hour), so
a ticket that referred to the URL would lose the file before staff opened it. Each picture,
video or file is downloaded while the callback is handled, before the event is stored, and
kept in the database (``storage.kept_files``); the event then names the copy (``kept:<id>``).

A file the bot cannot take is never dropped silently: over ``MAX_BYTES`` (declared by Viber, or
found while downloading) or a download that fails becomes a ``FILE_FAILED`` event, which the
conversation answers (what went wrong, send it again) and records.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Final

import aiohttp
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from messaging.contract import (
    DOWNLOAD_FAILED,
    FILE_KINDS,
    TOO_BIG,
    Attachment,
    EventKind,
    Incoming,
)
from storage import kept_files
from storage.vocabulary import Clock, system_clock

log = logging.getLogger(__name__)

# Long enough for 50 MB on a slow link; Viber waits for the webhook's answer meanwhile.
DOWNLOAD_TIMEOUT: Final = 120.0
CHUNK: Final = 64 * 1024


class _TooBig(Exception):
    pass


class MediaKeeper:
    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock = system_clock,
        max_bytes: int = kept_files.MAX_BYTES,
        timeout: float = DOWNLOAD_TIMEOUT,
    ) -> None:
        self._http = http
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._max = min(max_bytes, kept_files.MAX_BYTES)
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def keep(self, event: Incoming) -> Incoming:
        """``event`` naming the kept copy of its file; a ``FILE_FAILED`` event when the file
        cannot be kept; any other event unchanged."""
        attachment = event.attachment
        if event.kind not in FILE_KINDS or attachment is None:
            return event
        if attachment.size is not None and attachment.size > self._max:
            return _failed(event, attachment, TOO_BIG)
        channel, owner = event.identity.channel, event.identity.external_id
        async with self._sessionmaker() as session:
            found = await kept_files.find_for_update(
                session, channel=channel, update_key=event.update_key
            )
        if found is not None:
            # A redelivered callback: the file was kept the first time.
            return _kept(event, attachment, found, size=attachment.size, mime=attachment.mime_type)
        try:
            content, mime = await self._download(attachment.ref)
        except _TooBig:
            return _failed(event, attachment, TOO_BIG)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            # The URL expired, Viber's CDN failed, or it is not a URL at all.
            log.warning("viber media not downloaded (%s): %r", attachment.kind, error)
            return _failed(event, attachment, DOWNLOAD_FAILED)
        try:
            async with self._sessionmaker() as session, session.begin():
                kept_id = await kept_files.add(
                    session,
                    channel=channel,
                    external_id=owner,
                    update_key=event.update_key,
                    kind=attachment.kind,
                    file_name=attachment.file_name,
                    mime_type=attachment.mime_type or mime,
                    content=content,
                    now=self._clock(),
                )
        except IntegrityError:
            # The same callback, delivered twice at once: the other copy is the one.
            async with self._sessionmaker() as session:
                found = await kept_files.find_for_update(
                    session, channel=channel, update_key=event.update_key
                )
            if found is None:
                raise
            kept_id = found
        mime = attachment.mime_type or mime
        return _kept(event, attachment, kept_id, size=len(content), mime=mime)

    async def _download(self, url: str) -> tuple[bytes, str | None]:
        if not url.startswith(("https://", "http://")):
            raise ValueError("not an http(s) URL")
        async with self._http.get(url, timeout=self._timeout, allow_redirects=True) as response:
            response.raise_for_status()
            if response.content_length is not None and response.content_length > self._max:
                raise _TooBig()
            parts: list[bytes] = []
            total = 0
            async for chunk in response.content.iter_chunked(CHUNK):
                total += len(chunk)
                if total > self._max:
                    raise _TooBig()
                parts.append(chunk)
            # aiohttp's default when the CDN names no type says nothing about the file.
            known = response.content_type != "application/octet-stream"
            return b"".join(parts), response.content_type if known else None


def _kept(
    event: Incoming, attachment: Attachment, kept_id: int, *, size: int | None, mime: str | None
) -> Incoming:
    kept = dataclasses.replace(
        attachment, ref=kept_files.ref_of(kept_id), size=size, mime_type=mime
    )
    return dataclasses.replace(event, attachment=kept)


def _failed(event: Incoming, attachment: Attachment, problem: str) -> Incoming:
    # The expired-soon URL is not kept: it carries Viber's signature and opens nothing later.
    lost = dataclasses.replace(attachment, ref="", problem=problem)
    return dataclasses.replace(event, kind=EventKind.FILE_FAILED, attachment=lost)
