"""The integrators' Open311 ``api_key``s: a random token shown once, stored as its SHA-256.

A key is looked up by its digest (a unique index), so checking one costs one indexed read and
compares no secret in Python. Revoked keys stay (their requests keep naming them)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Open311Key

# 32 random bytes, URL-safe base64: 43 characters.
KEY_BYTES = 32
NAME_MAX = 64
# A key longer than this is not one of ours: refused before it is hashed.
KEY_MAX = 128


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def add_key(session: AsyncSession, *, name: str, now: datetime) -> tuple[Open311Key, str]:
    """A new key for ``name``: the row (flushed, it has its id) and the key itself, which is
    not stored anywhere and cannot be shown again."""
    plain = secrets.token_urlsafe(KEY_BYTES)
    key = Open311Key(name=name[:NAME_MAX], key_hash=digest(plain), created_at=now)
    session.add(key)
    await session.flush()
    return key, plain


async def list_keys(session: AsyncSession) -> Sequence[Open311Key]:
    return (await session.scalars(select(Open311Key).order_by(Open311Key.id))).all()


async def revoke_key(session: AsyncSession, *, key_id: int, now: datetime) -> Open311Key | None:
    """Revoke key ``key_id`` (again: a no-op); None when there is no such key."""
    key = await session.get(Open311Key, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = now
    return key


async def active_key(session: AsyncSession, plain: str, *, now: datetime) -> Open311Key | None:
    """The key ``plain`` is, when it exists and is not revoked; its last use is recorded."""
    if not plain or len(plain) > KEY_MAX:
        return None
    key = await session.scalar(select(Open311Key).where(Open311Key.key_hash == digest(plain)))
    if key is None or key.revoked_at is not None:
        return None
    key.last_used_at = now
    return key
