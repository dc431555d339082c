"""The frame every staff operation runs in, whichever desk calls it (DESIGN.md: the staff core).

A desk (the Telegram operator chat today, the web desk next) turns a click or a message into a
call of one core operation. The operation runs inside a ``StaffCall``: one database transaction,
the acting staff member loaded and checked against the roles the operation allows, an audit
record written in the same transaction, and steps queued for after the commit (notify the
resident, refresh the card, wake the delivery engine). It returns ``Done`` with a value or a
``Refused`` with a typed reason that any desk can render in its own way; no operation raises for
an outcome a person caused (a wrong role, a closed ticket, a term that can no longer be extended).

This module imports no messenger SDK; nor may anything that builds on it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit
from storage.models import Staff
from storage.vocabulary import Clock, Role

log = logging.getLogger(__name__)

T = TypeVar("T")
After = Callable[[], Awaitable[None]]

EVERY_ROLE: frozenset[Role] = frozenset(Role)
# Everyone who may change a ticket: every role but the read-only head of department.
WORKERS: frozenset[Role] = frozenset({Role.ADMIN, Role.EDITOR, Role.OPERATOR})
EDITORS: frozenset[Role] = frozenset({Role.ADMIN, Role.EDITOR})
ADMINS: frozenset[Role] = frozenset({Role.ADMIN})


class Desk(StrEnum):
    """Where an action came from; part of its audit record."""

    TELEGRAM = "telegram"
    WEB = "web"
    CLI = "cli"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, as a desk identified them: the staff account and the desk's own facts.

    ``staff_id`` is the account's id (``storage.models.Staff``), None when the desk found no
    account (the core refuses and audits the attempt). The chat desk finds the account by
    ``telegram_id``, the web desk by its session; ``address`` is the client address a web desk
    saw (None in a chat)."""

    staff_id: int | None
    desk: Desk = Desk.TELEGRAM
    address: str | None = None
    telegram_id: int | None = None

    @classmethod
    def of(cls, staff: Staff, *, desk: Desk = Desk.TELEGRAM, address: str | None = None) -> Actor:
        return cls(staff.id, desk=desk, address=address, telegram_id=staff.telegram_id)

    @property
    def audit_name(self) -> str:
        if self.staff_id is None and self.telegram_id is not None:
            return f"telegram:{self.telegram_id}"
        return f"staff:{self.staff_id}"

    def facts(self, **details: object) -> dict[str, object]:
        """An audit record's details with where the action came from (desk, client address)."""
        facts: dict[str, object] = {"desk": self.desk.value, **details}
        if self.address is not None:
            facts["address"] = self.address
        return facts


class Reason(StrEnum):
    """Why an operation was refused. Each desk renders these in its own words (the catalog key
    ``staff.refused.<reason>`` in the chat desk); operations add their own below, never inline
    strings."""

    NOT_STAFF = "not_staff"  # no such account, or a disabled one
    ROLE = "role"  # staff, but their role may not do this
    DEPARTMENT = "department"  # a ticket of a department they do not work in
    NOT_FOUND = "not_found"
    STATE = "state"  # not in this state (a closed ticket, a sent broadcast)
    TOO_LATE = "too_late"  # e.g. a term that can no longer be extended
    INVALID = "invalid"  # an argument out of bounds (empty, too long, unknown code)
    NO_RESIDENT = "no_resident"
    UNSUPPORTED = "unsupported"  # the resident's messenger cannot take this (a file, say)
    TWO_PERSON = "two_person"  # the author may not approve their own broadcast


@dataclass(frozen=True, slots=True)
class Refused:
    """An operation that did not happen, and why; ``details`` are the facts a desk may show
    (a ticket number, a limit), never personal data."""

    reason: Reason
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    value: T

    @property
    def ok(self) -> bool:
        return True


Outcome = Done[T] | Refused


@dataclass
class StaffCall:
    """One staff operation in progress: its session, its clock reading, its staff member, and
    what to do once it commits."""

    session: AsyncSession
    now: datetime
    actor: Actor
    staff: Staff
    after: list[After] = field(default_factory=list)

    @property
    def role(self) -> Role:
        return Role(self.staff.role)

    def works_in(self, department: str) -> bool:
        """Whether this staff member may see and act on a ticket of ``department``; admins work
        in every department."""
        return self.role is Role.ADMIN or department in self.staff.department_codes

    @property
    def departments(self) -> frozenset[str] | None:
        """The departments whose tickets this staff member sees; None: every one (admins)."""
        return None if self.role is Role.ADMIN else self.staff.department_codes

    def later(
        self, step: Callable[..., Awaitable[None]], /, *args: object, **kwargs: object
    ) -> None:
        """Queue ``step(*args, **kwargs)`` for after the commit (nothing runs if it rolls back)."""
        self.after.append(functools.partial(step, *args, **kwargs))

    def audit(self, action: str, *, subject: str | None = None, **details: object) -> None:
        """The audit record of this call, in its transaction: who, from which desk, what."""
        audit.record(
            self.session,
            actor=self.actor.audit_name,
            action=action,
            now=self.now,
            subject=subject,
            details=self.actor.facts(**details),
        )


class StaffCore:
    """Opens staff calls. Every core operation, whatever its area, goes through ``call``."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock

    @asynccontextmanager
    async def call(
        self,
        actor: Actor,
        *,
        roles: Collection[Role] = EVERY_ROLE,
        session: AsyncSession | None = None,
        after: list[After] | None = None,
    ) -> AsyncIterator[StaffCall | Refused]:
        """A transaction for ``actor``: yields the call, or a ``Refused`` (and audits it) when
        they are not staff or their role is not in ``roles``. The after-commit steps run once the
        transaction committed; a failing step is logged and does not stop the others (the data
        is stored already).

        ``session``: a desk that already opened the transaction (the chat desk claims its
        update in it) passes it in; the caller then commits and runs ``call.after`` itself
        through ``run_after``; ``after`` is then the desk's own list the steps are queued on
        (several calls of one event share it, in order)."""
        if session is not None:
            joined = await self._begin(session, actor, roles)
            if after is not None and isinstance(joined, StaffCall):
                joined.after = after
            yield joined
            return
        async with self._sessionmaker() as own, own.begin():
            opened = await self._begin(own, actor, roles)
            yield opened
        if isinstance(opened, StaffCall):
            await run_after(opened.after)

    async def _begin(
        self, session: AsyncSession, actor: Actor, roles: Collection[Role]
    ) -> StaffCall | Refused:
        now = self._clock()
        staff = None if actor.staff_id is None else await session.get(Staff, actor.staff_id)
        if staff is None or staff.disabled_at is not None:
            _audit_refusal(session, actor, now, Reason.NOT_STAFF)
            return Refused(Reason.NOT_STAFF)
        if Role(staff.role) not in roles:
            _audit_refusal(session, actor, now, Reason.ROLE)
            return Refused(Reason.ROLE)
        return StaffCall(session=session, now=now, actor=actor, staff=staff)


def _audit_refusal(session: AsyncSession, actor: Actor, now: datetime, reason: Reason) -> None:
    details = actor.facts(reason=reason.value)
    audit.record(session, actor=actor.audit_name, action="staff.denied", now=now, details=details)


async def run_after(steps: list[After]) -> None:
    """Run after-commit steps in order. A step that fails is logged with its traceback and the
    rest still run: what they follow up on is committed, and a card not refreshed is not worth
    a resident's notice."""
    for step in steps:
        try:
            await step()
        except Exception:  # logged; the next steps do not depend on this one
            log.exception("after-commit step %r failed", getattr(step, "func", step))
