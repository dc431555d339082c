"""A minimal HTTP/1.1 client for the broadcast sender: JSON POSTs over a pool of keep-alive
connections (TLS for https), nothing else.

Why not aiohttp here: in paid mode the engine sends up to 1,000 messages a second, and
aiohttp's general-purpose request machinery (request and response objects, header multidicts,
cookie jar, payload classes, per-request timers and traces) was about half of the engine's CPU
per message (bench/broadcast_telegram.py, BENCHMARKS.md "Broadcast engine CPU and the Viber
rate"). The Bot API needs none of it: one request line, three headers and a JSON body; an answer
with a status, a ``Content-Length`` (or chunked) JSON body and maybe ``Connection: close``.

A request is written whole on an idle connection (or a new one, up to ``limit``; beyond that
callers wait for one to come back). A connection that fails or times out is dropped, never
reused; the caller gets ``HttpError`` and the request is not repeated here (a POST that may have
reached the server is the engine's decision to retry).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from collections import deque
from typing import Final

MAX_HEAD: Final = 64 * 1024
MAX_BODY: Final = 16 * 1024 * 1024


class HttpError(Exception):
    """The request failed on the way (connection, timeout, unreadable answer)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._head: tuple[int, int | None, bool, bool] | None = None
        self.reusable = True

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is not None:
            try:
                self._parse()
            except HttpError as error:
                self._fail(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self.transport = None
        head = self._head
        if self._waiter is not None and head is not None and head[1] is None and not head[2]:
            # No length and not chunked: the body ends with the connection.
            self._finish(head[0], bytes(self._buffer))
            return
        self._fail(HttpError(f"connection closed: {exc!r}" if exc else "connection closed"))

    # -- requests ---------------------------------------------------------------------------

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._head = None
        self._buffer.clear()
        self.transport.write(data)
        return self._waiter

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: HttpError) -> None:
        self.reusable = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if self.transport is not None:
            self.transport.abort()

    def _finish(self, status: int, body: bytes) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))

    def _parse(self) -> None:
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise HttpError("response head too large")
                return
            self._head = _parse_head(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
        status, length, chunked, close = self._head
        if close:
            self.reusable = False
        if chunked:
            body = _dechunk(self._buffer)
            if body is not None:
                self._finish(status, body)
        elif length is not None and len(self._buffer) >= length:
            self._finish(status, bytes(self._buffer[:length]))
        if len(self._buffer) > MAX_BODY:
            raise HttpError("response body too large")


def _parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """Status, Content-Length, chunked, Connection: close — of a response head."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(parts[1])
    length: int | None = None
    chunked = False
    close = parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            if not value.isdigit():
                raise HttpError("bad Content-Length")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = value.endswith(b"chunked")
        elif name == b"connection":
            close = value == b"close"
    if status in (204, 304) or 100 <= status < 200:
        length = 0
    return status, None if chunked else length, chunked, close


def _dechunk(buffer: bytearray) -> bytes | None:
    """The body of a complete chunked message in ``buffer``; None while incomplete."""
    body = bytearray()
    position = 0
    while True:
        end = buffer.find(b"\r\n", position)
        if end < 0:
            return None
        size_text = bytes(buffer[position:end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as error:
            raise HttpError("bad chunk size") from error
        start = end + 2
        if size == 0:
            # The last chunk; trailers are not used by the Bot API (and ignored here).
            return bytes(body) if buffer.find(b"\r\n\r\n", end) >= 0 else None
        if len(buffer) < start + size + 2:
            return None
        body += buffer[start : start + size]
        position = start + size + 2


class KeepAliveClient:
    """JSON POSTs to one origin (``base_url``: scheme, host, port and a path prefix)."""

    def __init__(
        self,
        base_url: str,
        *,
        limit: int = 256,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context``: for https, the certificates to trust (default: the system's)."""
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        https = url.scheme == "https"
        self._ssl = (ssl_context or ssl.create_default_context()) if https else None
        self._prefix = url.path.rstrip("/")
        default_port = self._port == (443 if url.scheme == "https" else 80)
        authority = self._host if default_port else f"{self._host}:{self._port}"
        self._headers = (
            f"Host: {authority}\r\nContent-Type: application/json\r\n"
            "Connection: keep-alive\r\nContent-Length: "
        )
        self._limit = limit
        self._timeout = timeout
        self._idle: deque[_Connection] = deque()
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``prefix/path``: the status and the body of the answer."""
        head = f"POST {self._prefix}/{path} HTTP/1.1\r\n{self._headers}{len(body)}\r\n\r\n"
        data = head.encode("latin-1") + body
        connection = await self._connection()
        try:
            async with asyncio.timeout(self._timeout):
                status, answer = await connection.request(data)
        except TimeoutError as error:
            connection.close()
            raise HttpError(f"no answer in {self._timeout:g} s") from error
        except BaseException:
            connection.close()
            raise
        finally:
            self._release(connection)
        return status, answer

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.popleft().close()

    async def _connection(self) -> _Connection:
        while True:
            if self._closed:
                raise HttpError("client closed")
            while self._idle:
                connection = self._idle.pop()
                if connection.reusable and connection.transport is not None:
                    return connection
                self._open -= 1
            if self._open < self._limit:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._open -= 1
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                _, connection = await loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except (OSError, TimeoutError, ssl.SSLError) as error:
            raise HttpError(f"cannot connect to {self._host}:{self._port}: {error!r}") from error
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.reusable and connection.transport is not None and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
            self._open -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break
