"""Migration 0014 gives tickets filed before it their timeline: events from the tickets' own
columns (taken, extended, first answer, closed or refused), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Connection

from bot.migrate import alembic_config
from storage.db import create_engine
from storage.models import Ticket, TicketEvent

RECEIVED = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _old_ticket(number: str, status: str, **columns: object) -> dict[str, object]:
    return {
        "number": number,
        "kind": "appeal",
        "status": status,
        "channel": "telegram",
        "queue_code": "housing",
        "urgent": False,
        "anonymous": False,
        "received_at": RECEIVED,
        "created_at": RECEIVED,
        "updated_at": RECEIVED,
        **columns,
    }


async def test_tickets_filed_before_get_their_events(database_url: str) -> None:
    engine = create_engine(database_url)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    taken, extended, answered, closed = (RECEIVED + timedelta(days=d) for d in (1, 2, 3, 4))
    deadline = RECEIVED + timedelta(days=45)
    # Only the columns that existed at revision 0010.
    rows = [
        _old_ticket("ЗВ-2026-000001", "new"),
        _old_ticket(
            "ЗВ-2026-000002",
            "closed",
            taken_at=taken,
            assignee_id=7002,
            extended_at=extended,
            deadline_at=deadline,
            first_answer_at=answered,
            closed_at=closed,
        ),
        _old_ticket("ЗВ-2026-000003", "refused", closed_at=closed),
    ]
    table = Ticket.__table__
    assert isinstance(table, Table)

    def to(revision: str) -> Callable[[Connection], None]:
        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        return run

    try:
        async with engine.begin() as connection:
            await connection.run_sync(to("0010"))
            columns = ("number", *sorted({key for row in rows for key in row} - {"number"}))
            for row in rows:
                await connection.execute(
                    insert(table).values({key: row.get(key) for key in columns})
                )
        async with engine.begin() as connection:
            await connection.run_sync(to("head"))
            found = await connection.execute(
                select(
                    Ticket.number,
                    TicketEvent.kind,
                    TicketEvent.at,
                    TicketEvent.queue_code,
                    TicketEvent.staff_id,
                    TicketEvent.deadline_at,
                )
                .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                .order_by(Ticket.number, TicketEvent.at)
            )
            events = [tuple(row) for row in found]
    finally:
        await engine.dispose()

    def utc(moment: object) -> object:
        # SQLite hands back what it stored; compare as aware UTC either way.
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if isinstance(moment, datetime) and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment

    assert [(n, k, utc(a), q, s, utc(d)) for n, k, a, q, s, d in events] == [
        ("ЗВ-2026-000002", "taken", taken, "housing", 7002, None),
        ("ЗВ-2026-000002", "extended", extended, "housing", None, deadline),
        ("ЗВ-2026-000002", "answered", answered, "housing", None, None),
        ("ЗВ-2026-000002", "closed", closed, "housing", None, None),
        ("ЗВ-2026-000003", "refused", closed, "housing", None, None),
    ]
