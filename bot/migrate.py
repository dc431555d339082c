"""Run Alembic migrations from inside the application (``citybot migrate`` / ``citybot run``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
# An arbitrary constant advisory-lock key for "migrating citybot's schema".
MIGRATE_LOCK = 0x63697479626F74


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % specially; a password may contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def upgrade_to_head(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Upgrade the database to the newest schema; returns (revision before, revision after)."""
    before = await current_revision(engine)
    head = head_revision()
    if before == head:
        return before, head
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def _upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several `citybot run` processes starting at once: one migrates, the others wait
            # here and then find the schema at head (Alembic reads the version after the lock).
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            await connection.execute(lock, {"key": MIGRATE_LOCK})
        await connection.run_sync(_upgrade)
    return before, head
