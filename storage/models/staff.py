"""Who works the desks: staff accounts, the departments each works in, web desk sessions,
one-time invitations and failed logins (for rate limiting).

A staff account is keyed by its own id, not by a Telegram id: a council may run with no staff on
Telegram at all (issue 15). Accounts that existed before kept their Telegram id as their id
(migration 0016), so every column that names a staff member (``tickets.assignee_id``,
``broadcasts.created_by``, ``residents.banned_by``…) still points at the right account.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, BigId


class Staff(Base):
    """A staff account: who they are, their role, and how they sign in to the web desk."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # What they type at the login form; lower case, unique.
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    # Set for staff who also work in the Telegram operator chat.
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Argon2id (argon2-cffi); None until the invitation was used.
    password_hash: Mapped[str | None] = mapped_column(String(256))
    # The base32 TOTP secret once the second factor is confirmed (required for admins).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="uk")
    # A disabled account keeps its history; every session of it stops working at once.
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    departments: Mapped[list[StaffDepartment]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def department_codes(self) -> frozenset[str]:
        return frozenset(item.queue_code for item in self.departments)

    @property
    def display_name(self) -> str:
        return self.name or self.login


class StaffDepartment(Base):
    """A department (queue) a staff member works in; admins see every department regardless."""

    __tablename__ = "staff_departments"

    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    queue_code: Mapped[str] = mapped_column(
        String(32), ForeignKey("queues.code", ondelete="CASCADE"), primary_key=True
    )


class StaffSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so a
    copy of the database signs nobody in."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # The client address at sign-in, shown in "your sessions" and audited.
    address: Mapped[str | None] = mapped_column(String(64))
    # "full": signed in. "totp": the password was right, the second factor is still asked;
    # "enrol": the password was right and the account must set up its second factor first
    # (administrators). Only a "full" session opens any page but those steps.
    stage: Mapped[str] = mapped_column(String(8), default="full")


class StaffInvite(Base):
    """A one-time link that lets a new (or reset) account set its password."""

    __tablename__ = "staff_invites"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class LoginFailure(Base):
    """A failed sign-in, counted per login and per address for rate limiting; pruned after the
    longest window."""

    __tablename__ = "staff_login_failures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    login: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))


Index("ix_staff_login_failures_login", LoginFailure.login, LoginFailure.at)
Index("ix_staff_login_failures_address", LoginFailure.address, LoginFailure.at)


class DeskPresence(Base):
    """A staff member typing in a ticket's answer box of the web desk ("Марія відповідає…"):
    one row per ping (the page pings every few seconds while typing). Stored, not kept in one
    process, because several ``citybot run`` processes may serve the desk: each process's live
    feed reads the new rows like any other change. Rows older than a minute are deleted."""

    __tablename__ = "desk_presence"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff_accounts.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(index=True)
