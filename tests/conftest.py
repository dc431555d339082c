"""Shared fixtures: real databases (SQLite file and a fresh PostgreSQL database per test), the
fake messenger servers on 127.0.0.1, and a running bot wired to them.

A database is empty unless the test is marked ``migrated_database`` or uses ``engine``: then it
starts at the newest schema, a copy of one the real migrations built once per xdist worker
(``CREATE DATABASE … TEMPLATE`` on PostgreSQL, a file copy on SQLite) — the same schema and
seeded rows, without running the 19 migrations again for each test. The migrations themselves
are tested from empty (tests/test_migrations.py, the *_migration.py tests, ``citybot migrate``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import random
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

# The machine's environment sets PYTHONDONTWRITEBYTECODE=1: every xdist worker then compiled the
# project's modules and pytest rewrote the asserts of all test modules again (~6 s of CPU per
# process), and each `citybot` subprocess compiled the project anew. The caches go into the
# ignored __pycache__/ folders, and are rebuilt when a source file changes.
sys.dont_write_bytecode = False

# After the line above, so that they are cached too.
from bot.migrate import upgrade_to_head  # noqa: E402
from storage.db import create_engine, create_sessionmaker  # noqa: E402
from tests.chromium import shared_chromium  # noqa: E402, F401 (the browser tests' fixture)

# The PostgreSQL server tests create their databases on (trust auth on this machine).
PG_ADMIN_URL = os.environ.get(
    "CITYBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ["sqlite", "postgresql"]
# The test (or its module, through ``pytestmark``) needs no empty database: it gets one at head.
MIGRATED = "migrated_database"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MIGRATED}: the database fixtures give a database already at the newest schema "
        "(a copy of one migrated once per worker) instead of an empty one",
    )


# Ports the tests choose for servers they start later come from below the kernel's ephemeral
# range (32768-60999 here), a separate block per xdist worker: a port the kernel hands out to
# anyone binding port 0 (the fake servers, outgoing connections) or one another worker chose
# can then not be taken between our choosing it and the server binding it.
_PORT_BLOCK = 2000
_PORT_BASE = 20000
# Where in its block a run starts: two runs at once on one machine (two checkouts) would
# otherwise try the same ports in the same order and take each other's.
_next_port = random.randrange(_PORT_BLOCK)


def free_port() -> int:
    global _next_port
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = _PORT_BASE + (int(worker) if worker.isdigit() else 0) % 6 * _PORT_BLOCK
    for _ in range(_PORT_BLOCK):
        port = base + _next_port % _PORT_BLOCK
        _next_port += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use (a server of an earlier test still closing): the next one
            return port
    raise RuntimeError(f"no free port in {base}-{base + _PORT_BLOCK - 1}")


async def _pg_connect() -> asyncpg.Connection:
    url = make_url(PG_ADMIN_URL)
    return await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )


async def _pg_execute(statement: str) -> None:
    admin = await _pg_connect()
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _new_name(kind: str = "test") -> str:
    return f"citybot_{kind}_{uuid.uuid4().hex[:12]}"


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


class _Templates:
    """The databases at head this worker copies: made on first use, dropped at its end."""

    def __init__(self) -> None:
        self.postgresql: str | None = None
        self.sqlite: Path | None = None

    async def pg(self) -> str:
        if self.postgresql is None:
            name = _new_name("template")
            await _pg_execute(f'CREATE DATABASE "{name}"')
            await _migrate(_pg_url(name))
            if self.postgresql is None:
                self.postgresql = name
            else:  # another test of this worker made one meanwhile
                _dropper.drop(name)
        return self.postgresql

    async def sqlite_file(self) -> Path:
        if self.sqlite is None:
            path = Path(tempfile.mkdtemp(prefix="citybot-template-")) / "citybot.db"
            await _migrate(f"sqlite+aiosqlite:///{path}")
            # The last connection folded the write-ahead log in: the file alone is the database.
            assert sorted(os.listdir(path.parent)) == ["citybot.db"], os.listdir(path.parent)
            self.sqlite = path
        return self.sqlite

    def remove(self) -> None:
        if self.postgresql is not None:
            _dropper.drop(self.postgresql)
            self.postgresql = None
        if self.sqlite is not None:
            shutil.rmtree(self.sqlite.parent, ignore_errors=True)
            self.sqlite = None


_DROPPERS = 4


class _Dropper:
    """Drops test databases in a thread of its own, so a test does not wait for it.

    ``DROP DATABASE`` waits for a checkpoint on PostgreSQL (1-2 s on this machine); the database
    has a name of its own and nothing uses it after the test, so the next test need not wait.
    Several at once: the checkpoints of drops waiting together are one checkpoint. A drop that
    fails is reported when the session ends (``_dropped`` below)."""

    def __init__(self) -> None:
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: list[concurrent.futures.Future[None]] = []

    def drop(self, name: str) -> None:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(_DROPPERS, "citybot-dropdb")
        statement = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        self._pending.append(self._pool.submit(asyncio.run, _pg_execute(statement)))

    def wait(self) -> list[BaseException]:
        """Wait for every drop; the errors of those that failed."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        done, self._pending = self._pending, []
        return [error for future in done if (error := future.exception()) is not None]


_templates = _Templates()
_dropper = _Dropper()


@pytest.fixture(scope="session", autouse=True)
def _dropped() -> Iterator[None]:
    """At the end of the session the template databases go too, and every drop must be done."""
    yield
    _templates.remove()
    errors = _dropper.wait()
    assert errors == [], f"test databases not dropped: {errors}"


@contextlib.asynccontextmanager
async def pg_database(*, migrated: bool = False) -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards. PostgreSQL being down fails the test.

    ``migrated``: at the newest schema (a copy of this worker's template) instead of empty."""
    name = _new_name()
    template = f' TEMPLATE "{await _templates.pg()}"' if migrated else ""
    await _pg_execute(f'CREATE DATABASE "{name}"{template}')
    try:
        yield _pg_url(name)
    finally:
        _dropper.drop(name)


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'citybot.db'}"


async def sqlite_database(folder: Path, *, migrated: bool = False) -> str:
    """A SQLite database in ``folder``: empty, or a copy of this worker's template at head."""
    if migrated:
        shutil.copyfile(await _templates.sqlite_file(), folder / "citybot.db")
    return sqlite_url(folder)


def _wants_migrated(request: pytest.FixtureRequest) -> bool:
    # A test using ``engine`` sees its database migrated to head before it starts either way.
    return request.node.get_closest_marker(MIGRATED) is not None or "engine" in request.fixturenames


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of each kind: every test using it runs on SQLite and PostgreSQL. Empty, or at
    the newest schema for a test marked ``migrated_database`` (or using ``engine``)."""
    migrated = _wants_migrated(request)
    if request.param == "sqlite":
        yield await sqlite_database(tmp_path, migrated=migrated)
        return
    async with pg_database(migrated=migrated) as url:
        yield url


@pytest.fixture
async def pg_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async with pg_database(migrated=_wants_migrated(request)) as url:
        yield url


async def set_connections_allowed(database_url: str, allowed: bool) -> None:
    """Simulate a database outage: refuse new connections and cut the existing ones."""
    name = make_url(database_url).database
    admin = await _pg_connect()
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
    finally:
        await admin.close()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)
