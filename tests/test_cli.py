"""The ``citybot`` command as an operator runs it: a real subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from bot.sandbox.fakes.telegram import FakeTelegram
from tests.conftest import free_port
from tests.harness import TELEGRAM_TOKEN

STARTUP_TIMEOUT = 30.0


def _env(database_url: str, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYBOT_")}
    return {**clean, "CITYBOT_DATABASE_URL": database_url, **extra}


async def _citybot(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_migrate_and_staff_commands(database_url: str, tmp_path: Path) -> None:
    env = _env(database_url)
    code, out, _ = await _citybot("migrate", env=env, cwd=tmp_path)
    assert code == 0 and "migrated from empty" in out
    code, out, _ = await _citybot("migrate", env=env, cwd=tmp_path)
    assert code == 0 and "up to date" in out
    # The form of before the web desk: a Telegram id alone makes an account for it.
    code, out, _ = await _citybot(
        "staff", "add", "1001", "operator", "--name", "Ірина", env=env, cwd=tmp_path
    )
    assert code == 0 and "added tg1001 as operator" in out and "/desk/invite#" in out
    code, out, _ = await _citybot("staff", "add", "1001", "editor", env=env, cwd=tmp_path)
    assert code == 0 and "updated tg1001 as editor" in out and "invite" not in out
    maria = ("staff", "add", "maria", "operator", "--telegram-id", "2002")
    code, out, _ = await _citybot(*maria, "--department", "housing", env=env, cwd=tmp_path)
    assert code == 0 and "added maria as operator" in out
    (link,) = [word for word in out.split() if "/desk/invite#" in word]
    assert link.startswith("http://127.0.0.1:8080/desk/invite#") and len(link) > 60
    wrong = ("staff", "add", "petro", "head", "--department", "nowhere")
    code, out, err = await _citybot(*wrong, env=env, cwd=tmp_path)
    assert code == 1 and "unknown_department: nowhere" in err
    code, out, _ = await _citybot("staff", "list", env=env, cwd=tmp_path)
    assert code == 0 and "tg1001\teditor\tactive\t" in out and "Ірина" in out
    assert "maria\toperator\tactive\thousing\t2002" in out and "petro" not in out
    code, out, err = await _citybot("staff", "disable", "nobody", env=env, cwd=tmp_path)
    assert code == 1 and "no account" in err
    code, out, err = await _citybot("staff", "add", "1", "king", env=env, cwd=tmp_path)
    assert code == 2 and "invalid choice" in err
    code, out, _ = await _citybot("staff", "disable", "maria", env=env, cwd=tmp_path)
    assert code == 0 and "maria: disabled" in out
    code, out, _ = await _citybot("staff", "list", env=env, cwd=tmp_path)
    assert "maria\toperator\tdisabled\t" in out


async def _wait_healthy(url: str) -> None:
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("citybot run did not become healthy")
            await asyncio.sleep(0.1)


async def test_run_serves_and_stops_cleanly_on_sigterm_without_losing_updates(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        port = free_port()
        env = _env(
            database_url,
            CITYBOT_TELEGRAM_TOKEN=TELEGRAM_TOKEN,
            CITYBOT_TELEGRAM_API_URL=fake.base_url,
            CITYBOT_HTTP_PORT=str(port),
            CITYBOT_ADMIN_IDS="700,701",
        )

        async def start() -> asyncio.subprocess.Process:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                env=env,
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            await _wait_healthy(f"http://127.0.0.1:{port}/healthz")
            return process

        async def stop(process: asyncio.subprocess.Process) -> str:
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), timeout=30)
            assert process.returncode == 0, err.decode()
            assert "Traceback" not in err.decode()
            return err.decode()

        process = await start()
        await fake.send_text(600, "/start")
        await fake.wait_for_messages(600, 1, timeout=10)
        # An update arrives and the process is told to stop at once.
        update = await fake.send_text(600, "/help")
        await stop(process)
        answered = len(fake.messages(600)) == 2
        pending = any(u["update_id"] == update["update_id"] for u in fake.pending_updates())
        # Either it was handled and confirmed, or it is still waiting: never confirmed unhandled.
        assert answered != pending

        process = await start()
        await fake.wait_for_messages(600, 2, timeout=10)
        assert len(fake.messages(600)) == 2
        await stop(process)

    code, out, _ = await _citybot("staff", "list", env=_env(database_url), cwd=tmp_path)
    assert code == 0
    assert "tg700\tadmin" in out and "tg701\tadmin" in out


async def test_sandbox_refuses_a_bad_port_and_a_port_in_use(tmp_path: Path) -> None:
    env = _env(f"sqlite+aiosqlite:///{tmp_path / 'sb.db'}")
    code, _, err = await _citybot("sandbox", "--port", "70000", env=env, cwd=tmp_path)
    assert code == 2 and "--port must be 1-65535" in err
    port = free_port()
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", port)
    async with server:
        code, _, err = await _citybot("sandbox", "--port", str(port), env=env, cwd=tmp_path)
    assert code == 1 and "cannot start the sandbox" in err and "address already in use" in err


async def test_sandbox_says_at_once_that_another_host_is_reachable_by_others(
    tmp_path: Path,
) -> None:
    """With stdout a pipe (a service's log), the warning and the address are there while the
    sandbox runs, not only when it exits."""
    env = _env(f"sqlite+aiosqlite:///{tmp_path / 'sb.db'}")
    # As a service runs it: Python buffers a pipe unless told otherwise.
    env.pop("PYTHONUNBUFFERED", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "sandbox",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        warning = await asyncio.wait_for(process.stdout.readline(), timeout=STARTUP_TIMEOUT)
        assert process.returncode is None
        assert warning.decode().startswith("WARNING: the sandbox listens on 0.0.0.0")
        address = await asyncio.wait_for(process.stdout.readline(), timeout=STARTUP_TIMEOUT)
        assert process.returncode is None
        assert address.decode().startswith("citybot sandbox: open http://0.0.0.0:")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
    assert process.returncode == 0
