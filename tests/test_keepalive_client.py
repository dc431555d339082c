"""The broadcast sender's HTTP client (bot.telegram.keepalive) against a real TCP server on
127.0.0.1 that answers the way HTTP servers and proxies do: kept-alive connections reused,
chunked and close-delimited answers, a connection closed while idle, a server that never
answers, the limit of connections."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.telegram.keepalive import HttpError, KeepAliveClient

Answer = Callable[[bytes], bytes | None]


def json_answer(body: bytes, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


class Server:
    """Reads each request (head and Content-Length body) and writes ``answer(request)``;
    ``None``: no answer at all. Counts connections and remembers the requests."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.answer(request)
                if answer is None:
                    continue
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                    break
        writer.close()


@contextlib.asynccontextmanager
async def serving(answer: Answer) -> AsyncIterator[Server]:
    server = Server(answer)
    tcp = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = tcp.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        for writer in server.writers:
            writer.close()
        tcp.close()
        await tcp.wait_closed()


async def test_connections_are_kept_alive_and_requests_well_formed() -> None:
    async with serving(lambda _request: json_answer(b'{"ok":true}')) as server:
        client = KeepAliveClient(f"http://127.0.0.1:{server.port}/botTOKEN")
        try:
            for _ in range(5):
                assert await client.post("sendMessage", b'{"a":1}') == (200, b'{"ok":true}')
        finally:
            await client.close()
    assert server.connections == 1
    request = server.requests[0]
    assert request.startswith(b"POST /botTOKEN/sendMessage HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in request
    assert b"Content-Type: application/json\r\n" in request
    assert request.endswith(b"Content-Length: 7\r\n\r\n" + b'{"a":1}')


async def test_concurrent_requests_stay_within_the_limit() -> None:
    async with serving(lambda _request: json_answer(b"{}")) as server:
        client = KeepAliveClient(f"http://127.0.0.1:{server.port}", limit=3)
        try:
            results = await asyncio.gather(*(client.post("m", b"{}") for _ in range(20)))
        finally:
            await client.close()
    assert results == [(200, b"{}")] * 20
    assert 1 <= server.connections <= 3


async def test_chunked_and_close_delimited_answers() -> None:
    chunked = (
        b"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n<html\r\n7;ext=1\r\n>oops</\r\n0\r\n\r\n"
    )
    async with serving(lambda _request: chunked) as server:
        client = KeepAliveClient(f"http://127.0.0.1:{server.port}")
        try:
            assert await client.post("m", b"{}") == (502, b"<html>oops</")
            assert await client.post("m", b"{}") == (502, b"<html>oops</")
        finally:
            await client.close()
    assert server.connections == 1
    old = b"HTTP/1.0 200 OK\r\n\r\n" + b'{"ok":true}'
    async with serving(lambda _request: old) as server:
        client = KeepAliveClient(f"http://127.0.0.1:{server.port}")
        try:
            assert await client.post("m", b"{}") == (200, b'{"ok":true}')
            # The server closed that connection: the next request opens another.
            assert await client.post("m", b"{}") == (200, b'{"ok":true}')
        finally:
            await client.close()
    assert server.connections == 2


async def test_connection_close_and_a_connection_dropped_while_idle() -> None:
    async with serving(lambda _request: json_answer(b"{}", close=True)) as server:
        client = KeepAliveClient(f"http://127.0.0.1:{server.port}")
        try:
            for _ in range(3):
                assert await client.post("m", b"{}") == (200, b"{}")
        finally:
            await client.close()
    assert server.connections == 3
    async with serving(lambda _request: json_answer(b"{}")) as server:
        client = KeepAliveClient(f"http://127.0.0.1:{server.port}")
        try:
            assert await client.post("m", b"{}") == (200, b"{}")
            # The server drops the idle kept-alive connection (its keep-alive timeout).
            server.writers[0].close()
            await asyncio.sleep(0.05)
            assert await client.post("m", b"{}") == (200, b"{}")
        finally:
            await client.close()
    assert server.connections == 2


async def test_no_answer_times_out_and_the_connection_is_not_reused() -> None:
    answered = 0

    def first_silent(_request: bytes) -> bytes | None:
        nonlocal answered
        answered += 1
        return None if answered == 1 else json_answer(b"{}")

    async with serving(first_silent) as server:
        client = KeepAliveClient(f"http://127.0.0.1:{server.port}", timeout=0.2)
        try:
            with pytest.raises(HttpError, match="no answer"):
                await client.post("m", b"{}")
            assert await client.post("m", b"{}") == (200, b"{}")
        finally:
            await client.close()
    assert server.connections == 2


CERT = Path(__file__).parent / "data" / "localhost-test-cert.pem"
KEY = Path(__file__).parent / "data" / "localhost-test-key.pem"


async def test_https_with_a_verified_certificate_only() -> None:
    """TLS as for api.telegram.org: the certificate is verified (a self-signed one for
    localhost, made for these tests, trusted here and nowhere else), the connection kept."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(CERT, KEY)
    server = Server(lambda _request: json_answer(b'{"ok":true}'))
    tcp = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_context)
    port = tcp.sockets[0].getsockname()[1]
    trusting = ssl.create_default_context(cafile=CERT)
    client = KeepAliveClient(f"https://localhost:{port}/botTOKEN", ssl_context=trusting)
    stranger = KeepAliveClient(f"https://localhost:{port}/botTOKEN")
    try:
        for _ in range(3):
            assert await client.post("getMe", b"{}") == (200, b'{"ok":true}')
        assert server.connections == 1
        assert server.requests[0].startswith(b"POST /botTOKEN/getMe HTTP/1.1\r\n")
        assert f"Host: localhost:{port}\r\n".encode() in server.requests[0]
        with pytest.raises(HttpError, match="CERTIFICATE_VERIFY_FAILED"):
            await stranger.post("getMe", b"{}")
    finally:
        await client.close()
        for writer in server.writers:
            writer.close()
        tcp.close()
        await tcp.wait_closed()


async def test_refused_connection_and_garbage_are_http_errors() -> None:
    client = KeepAliveClient("http://127.0.0.1:9")
    with pytest.raises(HttpError, match="cannot connect"):
        await client.post("m", b"{}")
    async with serving(lambda _request: b"SSH-2.0-OpenSSH\r\n\r\n") as server:
        client = KeepAliveClient(f"http://127.0.0.1:{server.port}")
        try:
            with pytest.raises(HttpError, match="status line"):
                await client.post("m", b"{}")
        finally:
            await client.close()
    with pytest.raises(ValueError, match="http"):
        KeepAliveClient("ftp://example.org")
