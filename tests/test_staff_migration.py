"""Migration 0016 turns the staff of before (keyed by Telegram id) into accounts: each keeps its
Telegram id as its account id, so tickets assigned to them stay assigned; each works in every
department; a new account never takes an existing id (PostgreSQL's sequence is moved past them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.migrate import alembic_config
from storage.db import create_engine, create_sessionmaker
from storage.models import Department, Staff
from storage.staff import add_account
from storage.vocabulary import Role

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_staff_of_before_become_accounts(database_url: str) -> None:
    engine = create_engine(database_url)
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def to(revision: str) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        return run

    try:
        async with engine.begin() as connection:
            await connection.run_sync(to("0015"))
            for telegram_id, role, name in ((7001, "admin", "Ірина"), (7002, "operator", None)):
                await connection.execute(
                    text(
                        "INSERT INTO staff (telegram_id, role, name, created_at) "
                        "VALUES (:id, :role, :name, :at)"
                    ),
                    {"id": telegram_id, "role": role, "name": name, "at": NOW},
                )
        async with engine.begin() as connection:
            await connection.run_sync(to("head"))
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            irina = await session.get(Staff, 7001)
            petro = await session.get(Staff, 7002)
            assert irina is not None and petro is not None
            assert (irina.login, irina.telegram_id, irina.role, irina.name) == (
                "tg7001",
                7001,
                "admin",
                "Ірина",
            )
            every = {code for code in (await session.scalars(text("SELECT code FROM queues")))}
            assert every and petro.department_codes == every
            assert petro.password_hash is None and petro.disabled_at is None
            new = await add_account(session, login="maria", role=Role.OPERATOR, now=NOW)
            assert new.id not in (7001, 7002)
            assert await session.get(Department, "housing") is not None
    finally:
        await engine.dispose()
