"""Migration 0022 (media monitoring) is undone cleanly and done again, on both databases."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.migrate import alembic_config
from storage.db import create_engine

TABLES = {"media_feeds", "media_items", "media_stories", "media_watch_terms"}


async def test_down_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def to(revision: str, *, up: bool = True) -> Callable[[Connection], set[str]]:
        def run(connection: Connection) -> set[str]:
            config.attributes["connection"] = connection
            (command.upgrade if up else command.downgrade)(config, revision)
            return set(inspect(connection).get_table_names())

        return run

    try:
        async with engine.begin() as connection:
            assert await connection.run_sync(to("0022")) >= TABLES
        async with engine.begin() as connection:
            assert not TABLES & await connection.run_sync(to("0021", up=False))
        async with engine.begin() as connection:
            assert await connection.run_sync(to("0022")) >= TABLES
    finally:
        await engine.dispose()
