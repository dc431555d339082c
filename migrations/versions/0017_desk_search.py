"""desk search, queues and dashboard: the folded search text of tickets and residents' names,
the open tickets' index by deadline, indexes on the first answer and closing times, and trigram
indexes on PostgreSQL when the server has pg_trgm

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.textfold import fold_fields

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
# As in storage/models/tickets.py at this revision.
OPEN_PREDICATE = "status IN ('answered', 'in_progress', 'new')"


def _fill(table: str, target: str, fields: tuple[str, ...]) -> None:
    """Fold the existing rows in Python (the same fold as the mapper events), in id batches,
    so a database's locale never decides what matches."""
    bind = op.get_bind()
    columns = ", ".join(fields)
    update = sa.text(f"UPDATE {table} SET {target} = :folded WHERE id = :id")
    last = 0
    while True:
        rows = bind.execute(
            sa.text(f"SELECT id, {columns} FROM {table} WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        values = [{"id": row[0], "folded": fold_fields(row[1:]) or None} for row in rows]
        bind.execute(update, values)
        last = rows[-1][0]


def _has_trigrams() -> bool:
    """Create pg_trgm where the server offers it and we may (a trusted extension since
    PostgreSQL 13: the database owner may); without it search scans, still correct."""
    bind = op.get_bind()
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if available is None:
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    op.add_column("tickets", sa.Column("search_text", sa.Text(), nullable=True))
    op.add_column("residents", sa.Column("search_name", sa.Text(), nullable=True))
    # Open tickets by deadline, partial (see storage/models/tickets.py).
    op.create_index(
        "ix_tickets_open_deadline",
        "tickets",
        ["deadline_at", "id"],
        unique=False,
        postgresql_where=sa.text(OPEN_PREDICATE),
        sqlite_where=sa.text(OPEN_PREDICATE),
    )
    # The dashboard's 30-day windows (medians, on-time share) read these ranges.
    op.create_index(op.f("ix_tickets_first_answer_at"), "tickets", ["first_answer_at"])
    op.create_index(op.f("ix_tickets_closed_at"), "tickets", ["closed_at"])
    _fill("tickets", "search_text", ("number", "full_name", "subject", "body"))
    _fill("residents", "search_name", ("name",))
    if op.get_bind().dialect.name == "postgresql" and _has_trigrams():
        op.create_index(
            "ix_tickets_search_text_trgm",
            "tickets",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
        op.create_index(
            "ix_residents_search_name_trgm",
            "residents",
            ["search_name"],
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_residents_search_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_tickets_search_text_trgm")
    op.drop_index("ix_tickets_open_deadline", table_name="tickets")
    op.drop_index(op.f("ix_tickets_closed_at"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_first_answer_at"), table_name="tickets")
    # Plain DROP COLUMN (SQLite 3.35+), as in 0015: no rebuild of the tables.
    op.drop_column("residents", "search_name")
    op.drop_column("tickets", "search_text")
