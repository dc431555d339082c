"""README's SQLite backup, done once for real: ``sqlite3 citybot.db ".backup '…'"`` while the bot
holds the database open (WAL mode, committed rows not yet checkpointed into the main file, a
write transaction in progress) makes a consistent copy; put in place of ``citybot.db`` after the
``-wal`` and ``-shm`` files are deleted, it holds every committed row and the schema version,
and nothing of the transaction that had not committed."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import text

from bot.migrate import current_revision, head_revision
from storage.db import create_engine, create_sessionmaker
from storage.residents import get_or_create_resident
from tests.conftest import sqlite_database, sqlite_url
from tests.test_backup import NOW, ROOT, _fill

# README "Backups", the SQLite paragraph, with the date filled in.
BACKUP = """sqlite3 citybot.db ".backup 'citybot-$(date +%F).db'\""""


async def _sqlite3(database: Path, command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "sqlite3",
        str(database),
        command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()


async def _rows(url: str) -> tuple[int, int, str | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            residents = int(await connection.scalar(text("SELECT count(*) FROM residents")) or 0)
            tickets = int(await connection.scalar(text("SELECT count(*) FROM tickets")) or 0)
            number = await connection.scalar(text("SELECT number FROM tickets"))
        assert await current_revision(engine) == head_revision()
        return residents, tickets, number
    finally:
        await engine.dispose()


async def test_sqlite_backup_while_running_restores_what_was_committed(tmp_path: Path) -> None:
    assert BACKUP in (ROOT / "README.md").read_text(encoding="utf-8")
    live = tmp_path / "live"
    live.mkdir()
    url = await sqlite_database(live, migrated=True)
    engine = create_engine(url)
    copy = tmp_path / "citybot-copy.db"
    try:
        number = await _fill(engine)  # committed: in the WAL file, not yet in citybot.db
        assert (live / "citybot.db-wal").stat().st_size > 0
        async with create_sessionmaker(engine)() as session:
            await session.begin()
            await get_or_create_resident(
                session,
                channel="viber",
                external_id="uncommitted==",
                name=None,
                language="uk",
                now=NOW,
            )
            await session.flush()  # a write transaction in progress, holding the write lock
            await _sqlite3(live / "citybot.db", f".backup '{copy}'")
            await session.rollback()
    finally:
        await engine.dispose()

    # Restore as README says: the bot stopped, -wal and -shm deleted, the copy in place.
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copyfile(copy, restored / "citybot.db")
    assert await _rows(sqlite_url(restored)) == (1, 1, number)
