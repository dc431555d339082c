"""Migration 0017 folds the texts of tickets and residents that existed before it, so the desk
finds them (on SQLite and PostgreSQL), and is undone cleanly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import column, insert, select, table
from sqlalchemy.engine import Connection

from bot.migrate import alembic_config
from storage.db import create_engine
from storage.models import Resident, Ticket

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


async def test_existing_rows_are_folded(database_url: str) -> None:
    engine = create_engine(database_url)
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def to(revision: str, *, up: bool = True) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            (command.upgrade if up else command.downgrade)(config, revision)

        return run

    # Only the columns that existed at revision 0015.
    residents = table(
        "residents",
        *(column(name) for name in ("channel", "external_id", "name", "language", "digest")),
        *(column(name) for name in ("subscribed", "is_active", "created_at", "last_seen_at")),
    )
    tickets = table(
        "tickets",
        *(column(name) for name in ("number", "kind", "status", "channel", "queue_code")),
        *(column(name) for name in ("urgent", "anonymous", "full_name", "subject", "body")),
        *(column(name) for name in ("received_at", "created_at", "updated_at")),
    )
    common = {"kind": "appeal", "status": "new", "channel": "telegram", "queue_code": "housing"}
    times = {"received_at": AT, "created_at": AT, "updated_at": AT}
    try:
        async with engine.begin() as connection:
            await connection.run_sync(to("0015"))
            await connection.execute(
                insert(residents).values(
                    channel="viber",
                    external_id="1",
                    name="ЄВА  Підʼїзна",
                    language="uk",
                    digest="instant",
                    subscribed=True,
                    is_active=True,
                    created_at=AT,
                    last_seen_at=AT,
                )
            )
            await connection.execute(
                insert(tickets),
                [
                    {
                        **common,
                        **times,
                        "number": "ЗВ-2026-000001",
                        "urgent": False,
                        "anonymous": False,
                        "full_name": "Ігор Їжак",
                        "subject": "ВОДА",
                        "body": "Немає води\nу під’їзді",
                    },
                    {
                        **common,
                        **times,
                        "number": "ЗВ-2026-000002",
                        "urgent": False,
                        "anonymous": True,
                        "full_name": None,
                        "subject": None,
                        "body": None,
                    },
                ],
            )
        async with engine.begin() as connection:
            await connection.run_sync(to("head"))
            texts = (
                await connection.execute(select(Ticket.search_text).order_by(Ticket.number))
            ).scalars()
            names = (await connection.execute(select(Resident.search_name))).scalars()
            assert list(texts) == [
                "зв-2026-000001\nігор їжак\nвода\nнемає води у під'їзді",
                "зв-2026-000002",
            ]
            assert list(names) == ["єва під'їзна"]
        async with engine.begin() as connection:
            await connection.run_sync(to("0015", up=False))
        async with engine.begin() as connection:
            await connection.run_sync(to("head"))
    finally:
        await engine.dispose()
