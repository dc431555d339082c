"""staff accounts: staff keyed by their own id with a login (no longer by a Telegram id), the
departments they work in, web desk sessions, invitations and failed logins

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> storage.models.UTCDateTime:
    return storage.models.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("disabled_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_accounts")),
        sa.UniqueConstraint("login", name=op.f("uq_staff_accounts_login")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_staff_accounts_telegram_id")),
    )
    # Existing staff keep their Telegram id as their account id, so every column that names a
    # staff member (assignee, author, approver, banned_by…) needs no rewrite; their login is
    # "tg" + the id until an administrator renames it, and they work in every department.
    op.execute(
        "INSERT INTO staff_accounts (id, login, name, role, telegram_id, language, created_at) "
        "SELECT telegram_id, 'tg' || CAST(telegram_id AS VARCHAR(24)), name, role, telegram_id, "
        "'uk', created_at FROM staff"
    )
    if op.get_bind().dialect.name == "postgresql":
        # New accounts must not take an id an existing one got from its Telegram id.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('staff_accounts', 'id'), "
            "COALESCE((SELECT MAX(id) FROM staff_accounts), 0) + 1, false)"
        )
    op.drop_table("staff")
    op.create_table(
        "staff_departments",
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.Column("queue_code", sa.String(length=32), nullable=False),
        _fk("staff_departments", "staff_id", "staff_accounts.id"),
        _fk("staff_departments", "queue_code", "queues.code"),
        sa.PrimaryKeyConstraint("staff_id", "queue_code", name=op.f("pk_staff_departments")),
    )
    op.execute(
        "INSERT INTO staff_departments (staff_id, queue_code) "
        "SELECT staff_accounts.id, queues.code FROM staff_accounts CROSS JOIN queues"
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=8), nullable=False),
        _fk("staff_sessions", "staff_id", "staff_accounts.id"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_staff_sessions")),
    )
    op.create_index(
        op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"], unique=False
    )
    op.create_table(
        "staff_invites",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        _fk("staff_invites", "staff_id", "staff_accounts.id"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_staff_invites")),
    )
    op.create_index(op.f("ix_staff_invites_staff_id"), "staff_invites", ["staff_id"], unique=False)
    op.create_table(
        "staff_login_failures",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_login_failures")),
    )
    op.create_index(
        op.f("ix_staff_login_failures_at"), "staff_login_failures", ["at"], unique=False
    )
    op.create_index(
        "ix_staff_login_failures_login", "staff_login_failures", ["login", "at"], unique=False
    )
    op.create_index(
        "ix_staff_login_failures_address", "staff_login_failures", ["address", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("staff_login_failures")
    op.drop_table("staff_invites")
    op.drop_table("staff_sessions")
    op.drop_table("staff_departments")
    op.create_table(
        "staff",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id", name=op.f("pk_staff")),
    )
    # Only staff with a Telegram id can go back; web-only accounts are lost on downgrade.
    op.execute(
        "INSERT INTO staff (telegram_id, role, name, created_at) "
        "SELECT telegram_id, role, name, created_at FROM staff_accounts "
        "WHERE telegram_id IS NOT NULL AND role <> 'head'"
    )
    op.drop_table("staff_accounts")
