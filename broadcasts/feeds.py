"""Fetching a feed over HTTP, bounded: shared by the council's news import (``broadcasts.rss``)
and media monitoring (``broadcasts.media_monitor``).

A fetch never raises for what a remote server does: a status other than 200 (or 304 for a
conditional request), a refused connection, a timeout or a body over the size cap come back as
a ``Fetched`` whose ``error`` says what happened, and the caller logs it in its own words (the
news import at every fetch, media monitoring once per failing spell). The body is read in
chunks and never held beyond ``max_bytes``: over it, the fetch either gives up (``cut=False``,
the news import: a half news item is worse than none) or keeps the start (``cut=True``, media
monitoring: the newest items come first, and feedparser recovers the complete ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import aiohttp

CHUNK: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes | None = None
    error: str | None = None  # why there is no body (None: a body, or not modified)
    not_modified: bool = False
    cut: bool = False  # the body is the first max_bytes of a larger one
    etag: str | None = None
    last_modified: str | None = None


async def fetch_feed(
    http: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    cut: bool = False,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Fetched:
    """GET ``url`` (conditionally, when ``etag`` or ``last_modified`` is given)."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with http.get(url, headers=headers) as response:
            if response.status == 304 and headers:
                return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
            if response.status != 200:
                return Fetched(error=f"HTTP {response.status}")
            declared = response.content_length or 0
            if declared > max_bytes and not cut:
                return Fetched(error=f"{declared} bytes, over the limit")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(CHUNK):
                if size + len(chunk) > max_bytes:
                    if not cut:
                        return Fetched(error=f"over {max_bytes} bytes, skipped")
                    chunks.append(chunk[: max_bytes - size])
                    # A cut body must not be taken for the whole feed next time.
                    return Fetched(body=b"".join(chunks), cut=True)
                size += len(chunk)
                chunks.append(chunk)
            return Fetched(
                body=b"".join(chunks),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return Fetched(error=f"not fetched: {error!r}")
