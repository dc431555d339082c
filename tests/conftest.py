"""Shared fixtures: real databases (SQLite file and a fresh PostgreSQL database per test), the
fake messenger servers on 127.0.0.1, and a running bot wired to them."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.migrate import upgrade_to_head
from storage.db import create_engine, create_sessionmaker

# The PostgreSQL server tests create their databases on (trust auth on this machine).
PG_ADMIN_URL = os.environ.get(
    "CITYBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ["sqlite", "postgresql"]


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


@contextlib.asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards. PostgreSQL being down fails the test."""
    name = f"citybot_test_{uuid.uuid4().hex[:12]}"
    admin = await _pg_connect()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await _pg_connect()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind: every test using it runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'citybot.db'}"
        return
    async with pg_database() as url:
        yield url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with pg_database() as url:
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
