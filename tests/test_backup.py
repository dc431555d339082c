"""The documented backup, done once for real: ``deploy/backup.sh once`` dumps a migrated
PostgreSQL database holding a resident and a ticket (pg_dump -Fc), prunes old dumps, and
README's pg_restore command brings every row and the schema version back in a fresh database."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.migrate import current_revision, head_revision, upgrade_to_head
from storage.db import create_engine, create_sessionmaker
from storage.deadlines import TicketKind
from storage.filing import FilingPolicy, TicketForm, file_ticket
from storage.residents import get_or_create_resident
from tests.conftest import PG_ADMIN_URL, pg_database

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
# README "Backups" restores with exactly these options.
RESTORE = ["--clean", "--if-exists", "--no-owner"]
DAY = 86400


def _libpq(database: str) -> dict[str, str]:
    url = make_url(PG_ADMIN_URL)
    env = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PGDATABASE": database,
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


async def _run(*command: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, f"{command}: {err.decode()}"
    return out.decode()


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        tables = (
            await connection.scalars(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            )
        ).all()
        return {
            table: int(await connection.scalar(text(f'SELECT count(*) FROM "{table}"')) or 0)
            for table in tables
        }


def _files(directory: Path, pattern: str) -> set[Path]:
    return set(directory.glob(pattern))


async def _fill(engine: AsyncEngine) -> str:
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        resident, _ = await get_or_create_resident(
            session, channel="telegram", external_id="777", name="Олена", language="uk", now=NOW
        )
        ticket = await file_ticket(
            session,
            resident=resident,
            form=TicketForm(
                kind=TicketKind.FEEDBACK, channel="telegram", body="Яма на дорозі", category=None
            ),
            now=NOW,
            policy=FilingPolicy(zone=ZoneInfo("Europe/Kyiv")),
        )
        return ticket.number


async def test_backup_script_dump_restores_every_row(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"pg_restore -U citybot -d citybot {' '.join(RESTORE)}" in readme
    async with pg_database() as source_url, pg_database() as target_url:
        source = create_engine(source_url)
        await upgrade_to_head(source)
        number = await _fill(source)
        counts = await _counts(source)
        await source.dispose()
        assert counts["residents"] == 1 and counts["tickets"] == 1

        # A dump older than BACKUP_KEEP_DAYS goes; a recent one stays.
        old, recent = tmp_path / "citybot-old.dump", tmp_path / "citybot-recent.dump"
        for path, age in ((old, 20 * DAY), (recent, 2 * DAY)):
            path.write_bytes(b"")
            os.utime(path, (time.time() - age, time.time() - age))
        source_name = make_url(source_url).database or ""
        env = {**_libpq(source_name), "BACKUP_DIR": str(tmp_path), "BACKUP_KEEP_DAYS": "14"}
        out = await _run("sh", str(ROOT / "deploy" / "backup.sh"), "once", env=env)
        assert f"backup: deleted {old}" in out
        made = _files(tmp_path, "*.dump") - {recent}
        assert len(made) == 1 and not old.exists() and not _files(tmp_path, "*.part")
        (dump,) = made
        assert dump.name.startswith(source_name)
        # It holds personal data: readable by its owner only.
        assert dump.stat().st_mode & 0o077 == 0

        target_name = make_url(target_url).database or ""
        await _run("pg_restore", *RESTORE, "-d", target_name, str(dump), env=_libpq(""))
        target = create_engine(target_url)
        try:
            assert await _counts(target) == counts
            assert await current_revision(target) == head_revision()
            async with target.connect() as connection:
                restored = await connection.scalar(text("SELECT number FROM tickets"))
            assert restored == number
        finally:
            await target.dispose()
