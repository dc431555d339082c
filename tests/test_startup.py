"""``citybot run`` failing at start, as an operator sees it: a real subprocess against the fake
messengers and a real PostgreSQL.

What only the operator can fix ends in one line naming the setting and exit 2; what waiting
fixes (a database or a messenger not reachable yet) is retried, one line an attempt, with
``/healthz`` answering 503 meanwhile and 200 as soon as it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from tests.conftest import PG_ADMIN_URL, free_port, pg_database
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN, WEBHOOK_SECRET
from tests.test_cli import _citybot, _env

# A token of the right shape that the fake Telegram does not know.
REFUSED_TELEGRAM_TOKEN = "987654321:AAF_refused-telegram-token-for-tests_01"
REFUSED_VIBER_TOKEN = "4f2a9c1e8b7d6a50-0123456789abcdef-0000000000000000"
TIMEOUT = 60.0


async def _start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _finish(process: asyncio.subprocess.Process) -> tuple[int, list[str]]:
    out, err = await asyncio.wait_for(process.communicate(), timeout=TIMEOUT)
    assert process.returncode is not None
    return process.returncode, (out + err).decode().splitlines()


async def _run(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    return await _finish(await _start(env, cwd))


def _one_line_naming(lines: list[str], variable: str, *words: str) -> None:
    """The failure is one line naming the variable; nothing else is an error or a trace."""
    lines = [line for line in lines if "aiohttp.access" not in line]
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    failures = [line for line in lines if "ERROR" in line or "CRITICAL" in line]
    assert len(failures) == 1, "\n".join(lines)
    assert variable in failures[0], failures[0]
    for word in words:
        assert word in failures[0], failures[0]
    # The rest is the start-up narrative (listening on …, migrated …), not a dump.
    assert len(lines) <= 3, "\n".join(lines)


async def _health(port: int) -> int | None:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            return response.status
    except aiohttp.ClientError:
        return None


async def _wait_health(port: int, status: int) -> None:
    async with asyncio.timeout(TIMEOUT):
        while await _health(port) != status:  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.1)


async def _read_until(process: asyncio.subprocess.Process, text: str, count: int) -> list[str]:
    """stderr lines until ``count`` of them contain ``text``."""
    assert process.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(TIMEOUT):
        while sum(text in line for line in lines) < count:
            line = await process.stderr.readline()
            assert line, "\n".join(lines)
            lines.append(line.decode())
    return lines


async def _stop(process: asyncio.subprocess.Process) -> tuple[int, list[str]]:
    process.send_signal(signal.SIGTERM)
    return await _finish(process)


@contextlib.asynccontextmanager
async def _forwarder(port: int, target_host: str, target_port: int) -> AsyncIterator[None]:
    """A TCP forwarder on 127.0.0.1:``port``: the service "comes up" there."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                target_host, target_port
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(connect, "127.0.0.1", port)
    async with server:
        yield


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


def _telegram_env(
    tmp_path: Path, api_url: str, port: int, *, token: str = TELEGRAM_TOKEN, **extra: str
) -> dict[str, str]:
    return _env(
        _sqlite(tmp_path),
        CITYBOT_TELEGRAM_TOKEN=token,
        CITYBOT_TELEGRAM_API_URL=api_url,
        CITYBOT_HTTP_PORT=str(port),
        **extra,
    )


def _viber_env(
    tmp_path: Path, api_url: str, port: int, *, token: str = VIBER_TOKEN, **extra: str
) -> dict[str, str]:
    """Viber on the fake; the bot's own port is its public URL (the fake calls it)."""
    return _env(
        _sqlite(tmp_path),
        CITYBOT_VIBER_TOKEN=token,
        CITYBOT_VIBER_API_URL=api_url,
        CITYBOT_PUBLIC_URL=f"http://127.0.0.1:{port}",
        CITYBOT_HTTP_PORT=str(port),
        **extra,
    )


@contextlib.asynccontextmanager
async def _running(env: dict[str, str], cwd: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``citybot run``, killed at the end if the test did not stop it."""
    process = await _start(env, cwd)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_a_telegram_token_refused_is_one_line_and_exit_2(
    tmp_path: Path, log_format: str
) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        env = _telegram_env(
            tmp_path,
            fake.base_url,
            free_port(),
            token=REFUSED_TELEGRAM_TOKEN,
            CITYBOT_LOG_FORMAT=log_format,
        )
        code, lines = await _run(env, tmp_path)
    assert code == 2
    _one_line_naming(lines, "CITYBOT_TELEGRAM_TOKEN", "401")
    assert REFUSED_TELEGRAM_TOKEN not in "\n".join(lines)
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        assert [r["level"] for r in records][-1] == "ERROR"
        assert records[-1]["logger"] == "citybot"


async def test_a_viber_token_refused_is_one_line_and_exit_2(tmp_path: Path) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        port = free_port()
        env = _viber_env(tmp_path, fake.base_url, port, token=REFUSED_VIBER_TOKEN)
        code, lines = await _run(env, tmp_path)
    assert code == 2
    _one_line_naming(lines, "CITYBOT_VIBER_TOKEN", "status 2")
    assert REFUSED_VIBER_TOKEN not in "\n".join(lines)


async def test_a_webhook_url_viber_cannot_call_is_one_line_and_exit_2(tmp_path: Path) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        port = free_port()
        fake.fail_next("set_webhook", status=1)
        env = _viber_env(tmp_path, fake.base_url, port)
        code, lines = await _run(env, tmp_path)
    assert code == 2
    _one_line_naming(lines, "CITYBOT_PUBLIC_URL", "status 1")


async def test_a_database_that_does_not_exist_is_named_in_one_line(tmp_path: Path) -> None:
    url = make_url(PG_ADMIN_URL).set(database="citybot_no_such_database")
    env = _env(url.render_as_string(hide_password=False), CITYBOT_HTTP_PORT=str(free_port()))
    env["CITYBOT_TELEGRAM_TOKEN"] = TELEGRAM_TOKEN  # never reached: the database comes first
    code, lines = await _run(env, tmp_path)
    assert code == 2
    _one_line_naming(lines, "CITYBOT_DATABASE_URL", '"citybot_no_such_database" does not exist')
    # `citybot migrate` and the administration commands say the same.
    for command in (("migrate",), ("staff", "list")):
        code, out, err = await _citybot(*command, env=env, cwd=tmp_path)
        assert code == 2 and not out and "Traceback" not in err
        (line,) = err.splitlines()
        assert "CITYBOT_DATABASE_URL" in line and "does not exist" in line


async def test_a_sqlite_file_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "bot.db"
    env = _env(f"sqlite+aiosqlite:///{missing}", CITYBOT_HTTP_PORT=str(free_port()))
    env["CITYBOT_TELEGRAM_TOKEN"] = TELEGRAM_TOKEN
    code, lines = await _run(env, tmp_path)
    assert code == 2
    _one_line_naming(lines, "CITYBOT_DATABASE_URL", "SQLite database file")


async def test_credentials_postgresql_refuses_are_one_line_and_exit_2(tmp_path: Path) -> None:
    # The test server trusts local connections, so a wrong password cannot be shown there; a
    # role that does not exist is refused in the same SQLSTATE class (28, authorization).
    url = make_url(PG_ADMIN_URL).set(username="citybot_nobody", password="wrong-password")
    env = _env(url.render_as_string(hide_password=False), CITYBOT_HTTP_PORT=str(free_port()))
    env["CITYBOT_TELEGRAM_TOKEN"] = TELEGRAM_TOKEN
    code, lines = await _run(env, tmp_path)
    assert code == 2
    _one_line_naming(lines, "CITYBOT_DATABASE_URL", "citybot_nobody")
    assert "wrong-password" not in "\n".join(lines)


async def test_a_database_not_up_yet_is_waited_for_and_served_when_it_comes(
    tmp_path: Path,
) -> None:
    """PostgreSQL "starting": nothing listens on its port yet. Each attempt is one line,
    /healthz is 503 (and a webhook too), and once the port answers the bot serves."""
    db_port = free_port()
    async with pg_database() as real_url, FakeTelegram(TELEGRAM_TOKEN) as fake:
        real = make_url(real_url)
        url = real.set(host="127.0.0.1", port=db_port).render_as_string(hide_password=False)
        http_port = free_port()
        env = _env(
            url,
            CITYBOT_TELEGRAM_TOKEN=TELEGRAM_TOKEN,
            CITYBOT_TELEGRAM_API_URL=fake.base_url,
            CITYBOT_TELEGRAM_MODE="webhook",
            CITYBOT_PUBLIC_URL=f"http://127.0.0.1:{http_port}",
            CITYBOT_WEBHOOK_SECRET=WEBHOOK_SECRET,
            CITYBOT_HTTP_PORT=str(http_port),
        )
        async with _running(env, tmp_path) as process:
            lines = await _read_until(process, "the database is unreachable", 2)
            assert await _health(http_port) == 503
            # A webhook before the database is there: 503, so Telegram delivers it again.
            update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "x"}}
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"http://127.0.0.1:{http_port}/telegram/webhook",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
                ) as response,
            ):
                assert response.status == 503
            async with _forwarder(db_port, real.host or "127.0.0.1", real.port or 5432):
                await _wait_health(http_port, 200)
                await fake.send_text(600, "/start")
                await fake.wait_for_messages(600, 1, timeout=10)
                code, rest = await _stop(process)
    assert code == 0
    attempts = [line for line in lines + rest if "the database is unreachable" in line]
    assert attempts and all("ConnectionRefusedError" in line for line in attempts)
    assert "retrying in 1 s" in attempts[0] and "retrying in 2 s" in attempts[1]
    assert not any("Traceback" in line for line in lines + rest)


async def test_telegram_unreachable_is_retried_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        api_port = free_port()
        http_port = free_port()
        env = _telegram_env(tmp_path, f"http://127.0.0.1:{api_port}", http_port)
        async with _running(env, tmp_path) as process:
            lines = await _read_until(process, "Telegram is unreachable", 2)
            assert await _health(http_port) == 503
            fake_port = urlsplit(fake.base_url).port
            assert fake_port is not None
            async with _forwarder(api_port, "127.0.0.1", fake_port):
                await _wait_health(http_port, 200)
                await fake.send_text(600, "/start")
                await fake.wait_for_messages(600, 1, timeout=10)
            # Down again is the poller's business; stopping while waiting at start is ours.
            code, rest = await _stop(process)
    assert code == 0
    assert not any("Traceback" in line for line in lines + rest)

    # Asked to stop while still waiting: a clean exit at once.
    async with _running(env, tmp_path) as process:
        await _read_until(process, "Telegram is unreachable", 1)
        code, rest = await _stop(process)
    assert code == 0
    assert not any("Traceback" in line or "ERROR" in line for line in rest), rest


async def test_viber_failing_for_a_while_is_retried(tmp_path: Path) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        port = free_port()
        fake.fail_next("set_webhook", http_status=503, times=2)
        env = _viber_env(tmp_path, fake.base_url, port)
        async with _running(env, tmp_path) as process:
            await _wait_health(port, 200)
            code, lines = await _stop(process)
    assert code == 0
    attempts = [line for line in lines if "Viber is unreachable" in line]
    assert len(attempts) == 2 and "HTTP 503" in attempts[0]
    assert not any("Traceback" in line for line in lines)


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_an_unexpected_error_keeps_its_traceback_and_exits_1(
    tmp_path: Path, log_format: str
) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        port = free_port()
        # Status 3, "bad data", to a registration we send: a bug, not an operator's mistake.
        fake.fail_next("set_webhook", status=3)
        env = _viber_env(tmp_path, fake.base_url, port, CITYBOT_LOG_FORMAT=log_format)
        code, lines = await _run(env, tmp_path)
    assert code == 1
    if log_format == "json":
        # The traceback is inside its record: every line is one JSON object.
        (failure,) = [json.loads(line) for line in lines if '"ERROR"' in line]
        lines = failure["exc"].splitlines()
    assert any("Traceback" in line for line in lines)
    assert any("PermanentChannelError" in line and "status 3" in line for line in lines)


async def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        port = free_port()
        env = _telegram_env(tmp_path, fake.base_url, port)
        server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", port)
        async with server:
            code, lines = await _run(env, tmp_path)
    assert code == 2
    _one_line_naming(lines, "CITYBOT_HTTP_PORT", "address already in use")
