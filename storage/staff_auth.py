"""How staff sign in to the web desk: one-time invitations (the first visit sets a password),
Argon2id passwords, the TOTP second factor, server-side sessions and sign-in rate limits.

Tokens are random (``secrets``) and only their SHA-256 is stored, so the database alone signs
nobody in and an invitation link cannot be read back from it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LoginFailure, Staff, StaffInvite, StaffSession
from storage.vocabulary import Role

# Long enough for a new colleague to open their mail; a new link replaces an unused one.
INVITE_LIFETIME = timedelta(days=3)
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


async def create_invite(
    session: AsyncSession, staff: Staff, *, now: datetime, lifetime: timedelta = INVITE_LIFETIME
) -> str:
    """A new one-time invitation for ``staff`` (earlier ones stop working); the token to put in
    the link."""
    await session.execute(delete(StaffInvite).where(StaffInvite.staff_id == staff.id))
    token = new_token()
    session.add(
        StaffInvite(
            token_hash=token_hash(token),
            staff_id=staff.id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def invited_staff(session: AsyncSession, token: str, *, now: datetime) -> Staff | None:
    """The enabled account an unexpired invitation token is for."""
    query = (
        select(Staff)
        .join(StaffInvite, StaffInvite.staff_id == Staff.id)
        .where(
            StaffInvite.token_hash == token_hash(token),
            StaffInvite.expires_at > now,
            Staff.disabled_at.is_(None),
        )
    )
    return (await session.scalars(query)).first()


async def find_invite(session: AsyncSession, token: str) -> tuple[StaffInvite, Staff] | None:
    """The invitation a token names and its account, expired or not (the invitation page tells
    an expired link from a wrong one)."""
    found = await session.get(StaffInvite, token_hash(token)) if token else None
    if found is None:
        return None
    staff = await session.get(Staff, found.staff_id)
    return None if staff is None else (found, staff)


async def forget_invites(session: AsyncSession, staff_id: int) -> None:
    """Every invitation of an account ends (one was used: each is good once)."""
    await session.execute(delete(StaffInvite).where(StaffInvite.staff_id == staff_id))


def invite_link(public_url: str | None, token: str, *, port: int = 8080) -> str:
    """Where the invitation is opened: under the desk's public address (or this machine's, for
    a council trying citybot without one)."""
    base = (public_url or f"http://127.0.0.1:{port}").rstrip("/")
    return f"{base}/desk/invite#{token}"


# -- passwords ---------------------------------------------------------------------------------

# Argon2id with argon2-cffi's defaults (RFC 9106's second recommended option: 64 MiB, 3 passes):
# about 50 ms a check on this machine, and no GPU farm makes a leaked hash cheap to crack.
_HASHER = PasswordHasher()
PASSWORD_MIN = 12
PASSWORD_MAX = 256


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(staff: Staff, password: str) -> bool:
    """Whether ``password`` is the account's; an account without a password matches nothing.
    A hash made with weaker parameters than today's is upgraded on the next sign-in."""
    if staff.password_hash is None:
        # The same work as a real check, so timing does not tell which logins exist.
        _HASHER.hash(password)
        return False
    try:
        _HASHER.verify(staff.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _HASHER.check_needs_rehash(staff.password_hash):
        staff.password_hash = _HASHER.hash(password)
    return True


def burn_password_check(password: str) -> None:
    """Spend what a password check costs (for a login that does not exist)."""
    _HASHER.hash(password)


# -- the second factor ---------------------------------------------------------------------------


def totp_matches(secret: str, code: str, *, now: datetime) -> bool:
    """A six-digit TOTP code (RFC 6238, 30 s steps) valid now or one step either side (clocks
    of phones drift)."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return False
    return bool(pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1))


# -- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenedSession:
    token: str  # goes into the cookie, never stored
    csrf: str


FULL = "full"
TOTP = "totp"
ENROL = "enrol"
# How long the second step of a sign-in may take.
STEP_LIFETIME = timedelta(minutes=5)


def stage_after_password(staff: Staff) -> str:
    """What a right password leads to: the second factor if set up, its set-up if the role
    requires one (administrators), else a full session."""
    if staff.totp_secret is not None:
        return TOTP
    return ENROL if staff.role == Role.ADMIN.value else FULL


async def open_session(
    session: AsyncSession,
    staff: Staff,
    *,
    now: datetime,
    address: str | None,
    stage: str = FULL,
) -> OpenedSession:
    """A new session for ``staff``: every step of a sign-in makes a new one (no session
    fixation: a token seen before the password was checked is worth nothing after)."""
    token, csrf = new_token(), new_token()
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            staff_id=staff.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            address=(address or "")[:64] or None,
            stage=stage,
        )
    )
    await session.flush()
    return OpenedSession(token=token, csrf=csrf)


async def step_session(
    session: AsyncSession, token: str, *, stage: str, now: datetime
) -> tuple[StaffSession, Staff] | None:
    """A half-done sign-in at ``stage`` (second factor, or its set-up), if still fresh."""
    found = await session.get(StaffSession, token_hash(token))
    if found is None or found.stage != stage:
        return None
    staff = await session.get(Staff, found.staff_id)
    if staff is None or staff.disabled_at is not None or now - found.created_at > STEP_LIFETIME:
        await session.delete(found)
        return None
    return found, staff


# A request updates ``last_seen_at`` at most this often: a page that polls does not write a row
# each second.
TOUCH_EVERY = timedelta(minutes=1)


async def live_session(
    session: AsyncSession,
    token: str,
    *,
    now: datetime,
    idle: timedelta,
    lifetime: timedelta,
) -> tuple[StaffSession, Staff] | None:
    """The session a cookie names and its enabled account, if neither timeout has passed; an
    expired session is deleted."""
    found = await session.get(StaffSession, token_hash(token))
    if found is None or found.stage != FULL:
        return None
    staff = await session.get(Staff, found.staff_id)
    expired = now - found.last_seen_at > idle or now - found.created_at > lifetime
    if staff is None or staff.disabled_at is not None or expired:
        await session.delete(found)
        return None
    if now - found.last_seen_at > TOUCH_EVERY:
        found.last_seen_at = now
    return found, staff


async def close_session(session: AsyncSession, token_hash_value: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash_value))


async def close_all_sessions(session: AsyncSession, staff_id: int) -> int:
    """End every session of an account ("sign out everywhere", a disabled account)."""
    result = await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
    return int(getattr(result, "rowcount", 0) or 0)


# -- rate limits ---------------------------------------------------------------------------------

# Failed sign-ins counted over this window: per login (someone guessing one colleague's
# password) and per address (someone trying many logins). Both are far above what a person
# who mistypes needs, and far below what guessing needs.
FAILURE_WINDOW = timedelta(minutes=15)
FAILURES_PER_LOGIN = 5
FAILURES_PER_ADDRESS = 20


async def record_failure(session: AsyncSession, *, login: str, address: str, now: datetime) -> None:
    session.add(LoginFailure(at=now, login=login[:64], address=address[:64]))
    # Old rows are of no use to any window: prune them as we go.
    await session.execute(delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW))
    await session.flush()


async def throttled(session: AsyncSession, *, login: str, address: str, now: datetime) -> bool:
    """Whether sign-ins for this login or from this address must wait (too many failures in
    ``FAILURE_WINDOW``)."""
    since = now - FAILURE_WINDOW
    per_login = await session.scalar(
        select(func.count()).where(LoginFailure.login == login[:64], LoginFailure.at >= since)
    )
    per_address = await session.scalar(
        select(func.count()).where(LoginFailure.address == address[:64], LoginFailure.at >= since)
    )
    return (per_login or 0) >= FAILURES_PER_LOGIN or (per_address or 0) >= FAILURES_PER_ADDRESS
