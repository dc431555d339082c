"""Keep the sandbox away from a real deployment's database.

The sandbox runs the whole bot: its delivery engine would take the pending news of whatever
database it is given and "send" them to the stand-ins, marking them sent, and ``--seed`` would add
300 invented residents. A shell that still exports the production ``CITYBOT_DATABASE_URL`` must
not make that possible. So the sandbox works only on a database that is empty or that it marked
as its own, and it checks before it migrates anything.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from storage import audit
from storage.models import AuditEntry, Broadcast, Resident, Ticket

MARK = "sandbox.database"
# Tables whose rows mean someone has used the database; staff alone do not (CITYBOT_ADMIN_IDS
# makes administrators at every start of `citybot run`, even on a fresh database).
USE_TABLES: tuple[Table, ...] = (
    Resident.__table__,  # type: ignore[assignment]
    Ticket.__table__,
    Broadcast.__table__,
)


class NotASandboxDatabase(Exception):
    """The database holds data the sandbox did not make."""


async def _rows(connection: AsyncConnection, table: Table) -> int:
    return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def check_database(engine: AsyncEngine) -> None:
    """Raise NotASandboxDatabase unless the database is empty or marked by the sandbox."""
    async with engine.connect() as connection:
        tables = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        if AuditEntry.__tablename__ in tables:
            marked = await connection.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == MARK)
            )
            if marked:
                return
        for table in USE_TABLES:
            if table.name in tables and await _rows(connection, table):
                raise NotASandboxDatabase(
                    f"{engine.url.render_as_string(hide_password=True)} holds data the sandbox "
                    f"did not make ({table.name}); the sandbox would send its pending news to "
                    "the stand-ins. Point CITYBOT_DATABASE_URL at an empty database, or unset it."
                )


async def mark_database(session: AsyncSession, *, now: datetime) -> None:
    """Mark the database as the sandbox's own (once)."""
    marked = await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == MARK)
    )
    if not marked:
        audit.record(session, actor="sandbox", action=MARK, now=now)
