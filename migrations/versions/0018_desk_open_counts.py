"""desk queue counts: the open tickets' index by department, deadline and assignee

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in storage/models/tickets.py at this revision.
OPEN_PREDICATE = "status IN ('answered', 'in_progress', 'new')"


def upgrade() -> None:
    # The Queues screen's counts on every page: open, overdue, due soon and unassigned per
    # department read this small index instead of every ticket (BENCHMARKS.md).
    op.create_index(
        "ix_tickets_open_queue",
        "tickets",
        ["queue_code", "deadline_at", "assignee_id"],
        unique=False,
        postgresql_where=sa.text(OPEN_PREDICATE),
        sqlite_where=sa.text(OPEN_PREDICATE),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_open_queue", table_name="tickets")
