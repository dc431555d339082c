"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# aiosqlite logs every statement with its parameters at DEBUG: residents' names, addresses and
# texts. Its own level is set, so a root logger at DEBUG (``citybot --log-level DEBUG``, a test's
# log capture) does not bring them into the log.
_AIOSQLITE_LOG = logging.getLogger("aiosqlite")
if _AIOSQLITE_LOG.level < logging.INFO:
    _AIOSQLITE_LOG.setLevel(logging.INFO)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# Two processes use at most 80 of PostgreSQL's default 100 connections.
POOL_SIZE = 24
POOL_OVERFLOW = 16


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine; on SQLite enforce foreign keys and let writers wait instead of failing.

    Every engine of the project is made here (the bot, the CLI, migrations, the sandbox, the
    benchmarks). Statements are never logged with their parameters (``hide_parameters``): an
    error's message would otherwise carry residents' names, addresses and texts into the log,
    once per redelivery."""
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # WAL lets readers (the sandbox page, `citybot staff list`) run beside the bot.
            if make_url(url).database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    # No pre-ping (a round trip per transaction): a connection that died with the server fails
    # its transaction, SQLAlchemy then discards the whole pool, and the messenger redelivers the
    # update. The pool keeps as many connections as a burst of webhook calls uses at once: a
    # connection beyond ``pool_size`` is closed as soon as it is returned, and the next burst
    # pays for a new one (a PostgreSQL backend forked, the JSON codecs set up, every statement
    # prepared again) — measured as a large share of a follow-up's CPU at 32 requests in flight.
    return create_async_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after the edge commits (replies are rendered
    # from them after the transaction ends).
    return async_sessionmaker(engine, expire_on_commit=False)
