"""Migrations: up from empty on both databases, idempotent, and the result matches the models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.migrate import current_revision, head_revision, upgrade_to_head
from storage.db import create_engine
from storage.models import Base
from storage.models.base import objects_of

TABLES = {
    "residents",
    "resident_topics",
    "staff_accounts",
    "staff_departments",
    "staff_sessions",
    "staff_invites",
    "staff_login_failures",
    "conversation_states",
    "processed_updates",
    "audit_log",
    "alembic_version",
}


async def test_upgrade_from_empty_matches_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is None
        before, after = await upgrade_to_head(engine)
        assert (before, after) == (None, head_revision())
        # A second run is a no-op.
        assert await upgrade_to_head(engine) == (after, after)

        def inspect_schema(connection: Connection) -> tuple[set[str], list[Any]]:
            tables = set(inspect(connection).get_table_names())
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_object": objects_of(connection.dialect.name),
                },
            )
            return tables, compare_metadata(context, Base.metadata)

        async with engine.connect() as connection:
            tables, differences = await connection.run_sync(inspect_schema)
        assert tables >= TABLES
        assert differences == []
    finally:
        await engine.dispose()


async def test_processes_starting_together_migrate_once(pg_url: str) -> None:
    """Three `citybot run` processes start at once on an empty PostgreSQL database: one
    migrates, the others wait for it and find the schema at head."""
    import asyncio

    from bot.migrate import head_revision, upgrade_to_head
    from storage.db import create_engine

    engines = [create_engine(pg_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(upgrade_to_head(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert {after for _, after in results} == {head_revision()}
