"""``citybot open311 key add | list | revoke``: the key is printed once and only its SHA-256
is stored; the list never shows a key; a revoked key stops working; every change is audited."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import run_admin
from bot.cli import _parser
from bot.config import load_settings
from storage.models import AuditEntry, Open311Key
from storage.open311_keys import active_key


async def _admin(database_url: str, *argv: str) -> int:
    settings = load_settings({"CITYBOT_DATABASE_URL": database_url})
    return await run_admin(settings, _parser().parse_args(list(argv)))


async def test_keys_are_added_listed_and_revoked(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _admin(database_url, "open311", "key", "list") == 0
    assert "no keys yet" in capsys.readouterr().out
    assert await _admin(database_url, "open311", "key", "add", "contact-centre-1520") == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "key 1 for contact-centre-1520 (shown once, keep it secret):"
    plain = printed[1]
    assert len(plain) >= 40
    assert await _admin(database_url, "open311", "key", "add", "   ") == 1
    async with sessionmaker() as session:
        (key,) = (await session.scalars(select(Open311Key))).all()
        assert key.key_hash == hashlib.sha256(plain.encode()).hexdigest()
        assert plain not in (key.name, key.key_hash)
    assert await _admin(database_url, "open311", "key", "list") == 0
    listing = capsys.readouterr().out
    assert listing.startswith("1\tcontact-centre-1520\tactive\tcreated ") and plain not in listing
    async with sessionmaker() as session, session.begin():
        assert await active_key(session, plain, now=datetime.now(UTC)) is not None
    assert await _admin(database_url, "open311", "key", "revoke", "1") == 0
    assert capsys.readouterr().out == "key 1 (contact-centre-1520): revoked\n"
    assert await _admin(database_url, "open311", "key", "revoke", "7") == 1
    assert "no key 7" in capsys.readouterr().err
    assert await _admin(database_url, "open311", "key", "list") == 0
    assert "\trevoked " in capsys.readouterr().out
    async with sessionmaker() as session, session.begin():
        assert await active_key(session, plain, now=datetime.now(UTC)) is None
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.startswith("open311."))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert list(actions) == ["open311.key_added", "open311.key_revoked"]
