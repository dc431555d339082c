"""Staff accounts as the staff core changes them: administrators add, change, disable and
re-invite accounts; every member of staff keeps their own (name, language, password, second
factor). Any desk calls these (the web desk today; the CLI's ``citybot staff`` is the
operator's own tool and audits as ``cli``).

Each operation runs in a ``StaffCall`` (role checked, audited with the actor's desk and address
in the same transaction) and answers ``Done`` or ``Refused``. A refusal for bad input is
``Reason.INVALID`` with ``{"problem": AccountProblem | PasswordProblem | "self"}``, which a desk
renders in its own words.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

import pyotp
from sqlalchemy import select

from handlers.staff.core import ADMINS, Actor, Done, Outcome, Reason, Refused, StaffCore
from messaging.i18n import LANGUAGES
from storage import staff_auth
from storage.models import Staff
from storage.staff import NAME_MAX, AccountError, add_account, set_departments
from storage.vocabulary import Role

# An administrator may not lock themselves out: no disabling, no demotion of their own account.
SELF = "self"
# A TOTP secret as pyotp makes it: base32, 32 characters (160 bits, RFC 4226's recommendation).
SECRET_LENGTH = 32


class PasswordProblem(StrEnum):
    SHORT = "short"
    LONG = "long"
    MISMATCH = "mismatch"
    LOGIN = "login"  # the password is the login
    CURRENT = "current"  # the current password given was wrong


@dataclass(frozen=True, slots=True)
class Invited:
    """An account and the token of its new one-time invitation (shown once, never stored)."""

    staff_id: int
    login: str
    token: str


@dataclass(frozen=True, slots=True)
class AccountFields:
    """What an administrator sets on an account."""

    role: Role
    name: str | None
    departments: Collection[str]
    telegram_id: int | None


def password_problem(login: str, password: str, repeated: str) -> PasswordProblem | None:
    """Whether a new password may be used: long enough to resist guessing at Argon2's cost,
    typed the same twice, and not the login itself."""
    if len(password) < staff_auth.PASSWORD_MIN:
        return PasswordProblem.SHORT
    if len(password) > staff_auth.PASSWORD_MAX:
        return PasswordProblem.LONG
    if password != repeated:
        return PasswordProblem.MISMATCH
    if password.strip().lower() == login.lower():
        return PasswordProblem.LOGIN
    return None


def _invalid(problem: str) -> Refused:
    return Refused(Reason.INVALID, {"problem": problem})


def _subject(staff: Staff) -> str:
    return f"staff:{staff.id}"


# -- administrators ------------------------------------------------------------------------------


async def add(core: StaffCore, actor: Actor, login: str, fields: AccountFields) -> Outcome[Invited]:
    """A new account and its first invitation."""
    async with core.call(actor, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        try:
            staff = await add_account(
                call.session,
                login=login,
                role=fields.role,
                now=call.now,
                name=fields.name,
                telegram_id=fields.telegram_id,
                departments=fields.departments,
            )
        except AccountError as error:
            return _invalid(error.problem.value)
        token = await staff_auth.create_invite(call.session, staff, now=call.now)
        call.audit(
            "staff.added",
            subject=_subject(staff),
            login=staff.login,
            role=staff.role,
            departments=sorted(fields.departments),
        )
        return Done(Invited(staff.id, staff.login, token))


async def change(
    core: StaffCore, actor: Actor, staff_id: int, fields: AccountFields
) -> Outcome[int]:
    """Role, name, departments and Telegram id of an account."""
    async with core.call(actor, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        staff = await call.session.get(Staff, staff_id)
        if staff is None:
            return Refused(Reason.NOT_FOUND)
        if staff.id == call.staff.id and fields.role is not Role.ADMIN:
            return _invalid(SELF)
        if fields.telegram_id is not None:
            taken = await call.session.scalar(
                select(Staff.id).where(
                    Staff.telegram_id == fields.telegram_id, Staff.id != staff.id
                )
            )
            if taken is not None:
                return _invalid("telegram_taken")
        try:
            await set_departments(call.session, staff, fields.departments)
        except AccountError as error:
            return _invalid(error.problem.value)
        before = staff.role
        staff.role = fields.role.value
        staff.name = (fields.name or "").strip()[:NAME_MAX] or None
        staff.telegram_id = fields.telegram_id
        call.audit(
            "staff.changed",
            subject=_subject(staff),
            role=staff.role,
            role_before=before,
            departments=sorted(fields.departments),
            telegram_id=staff.telegram_id,
        )
        return Done(staff.id)


async def set_disabled(
    core: StaffCore, actor: Actor, staff_id: int, *, disabled: bool
) -> Outcome[int]:
    """Disable an account (its sessions end at once, its history stays) or enable it again."""
    async with core.call(actor, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        staff = await call.session.get(Staff, staff_id)
        if staff is None:
            return Refused(Reason.NOT_FOUND)
        if staff.id == call.staff.id:
            return _invalid(SELF)
        if disabled:
            staff.disabled_at = staff.disabled_at or call.now
            ended = await staff_auth.close_all_sessions(call.session, staff.id)
            call.audit("staff.disabled", subject=_subject(staff), sessions_ended=ended)
        else:
            staff.disabled_at = None
            call.audit("staff.enabled", subject=_subject(staff))
        return Done(staff.id)


async def reinvite(core: StaffCore, actor: Actor, staff_id: int) -> Outcome[Invited]:
    """A new one-time link to set the password (a forgotten one, or a first one lost); earlier
    links stop working. The password stays until the link is used."""
    async with core.call(actor, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        staff = await call.session.get(Staff, staff_id)
        if staff is None:
            return Refused(Reason.NOT_FOUND)
        if staff.disabled_at is not None:
            return Refused(Reason.STATE)
        token = await staff_auth.create_invite(call.session, staff, now=call.now)
        call.audit("staff.invited", subject=_subject(staff))
        return Done(Invited(staff.id, staff.login, token))


async def reset_totp(core: StaffCore, actor: Actor, staff_id: int) -> Outcome[int]:
    """Forget an account's second factor (a lost phone): an administrator then sets it up again
    at their next sign-in, others may."""
    async with core.call(actor, roles=ADMINS) as call:
        if isinstance(call, Refused):
            return call
        staff = await call.session.get(Staff, staff_id)
        if staff is None:
            return Refused(Reason.NOT_FOUND)
        staff.totp_secret = None
        # Whoever holds the lost phone and a session keeps nothing.
        await staff_auth.close_all_sessions(call.session, staff.id)
        call.audit("desk.totp_disabled", subject=_subject(staff), by_admin=True)
        return Done(staff.id)


# -- one's own account ---------------------------------------------------------------------------


async def set_profile(core: StaffCore, actor: Actor, *, name: str, language: str) -> Outcome[int]:
    async with core.call(actor) as call:
        if isinstance(call, Refused):
            return call
        if language not in LANGUAGES:
            return _invalid("language")
        call.staff.name = name.strip()[:NAME_MAX] or None
        call.staff.language = language
        call.audit("staff.profile", subject=_subject(call.staff), language=language)
        return Done(call.staff.id)


async def change_password(
    core: StaffCore, actor: Actor, *, current: str, new: str, repeated: str
) -> Outcome[int]:
    async with core.call(actor) as call:
        if isinstance(call, Refused):
            return call
        if not staff_auth.password_matches(call.staff, current):
            call.audit("desk.password_refused", subject=_subject(call.staff))
            return _invalid(PasswordProblem.CURRENT)
        problem = password_problem(call.staff.login, new, repeated)
        if problem is not None:
            return _invalid(problem)
        call.staff.password_hash = staff_auth.hash_password(new)
        call.audit("desk.password_changed", subject=_subject(call.staff))
        return Done(call.staff.id)


def valid_secret(secret: str) -> bool:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    return len(secret) == SECRET_LENGTH and set(secret) <= alphabet


async def enable_totp(core: StaffCore, actor: Actor, *, secret: str, code: str) -> Outcome[int]:
    """Save the second factor once a code from the app proves the secret reached it."""
    async with core.call(actor) as call:
        if isinstance(call, Refused):
            return call
        if not valid_secret(secret):
            return _invalid("secret")
        if not staff_auth.totp_matches(secret, code, now=call.now):
            return _invalid("code")
        call.staff.totp_secret = secret
        call.audit("desk.totp_enabled", subject=_subject(call.staff))
        return Done(call.staff.id)


async def disable_totp(core: StaffCore, actor: Actor) -> Outcome[int]:
    """Turn one's own second factor off; administrators must keep theirs."""
    async with core.call(actor) as call:
        if isinstance(call, Refused):
            return call
        if call.role is Role.ADMIN:
            return Refused(Reason.ROLE)
        call.staff.totp_secret = None
        call.audit("desk.totp_disabled", subject=_subject(call.staff))
        return Done(call.staff.id)


def new_secret() -> str:
    return pyotp.random_base32(length=SECRET_LENGTH)


def provisioning_uri(secret: str, login: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)


ISSUER = "Kryvyi Rih City Council desk"
