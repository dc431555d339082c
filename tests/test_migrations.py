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

TABLES = {
    "residents",
    "resident_topics",
    "staff",
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
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return tables, compare_metadata(context, Base.metadata)

        async with engine.connect() as connection:
            tables, differences = await connection.run_sync(inspect_schema)
        assert tables >= TABLES
        assert differences == []
    finally:
        await engine.dispose()
