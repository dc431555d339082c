"""Repositories on SQLite and PostgreSQL: the same tests against both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit, conversations, dedup
from storage.models import AuditEntry, Resident
from storage.residents import get_or_create_resident, get_resident, set_topics
from storage.staff import (
    AccountError,
    AccountProblem,
    add_account,
    ensure_admins,
    get_staff,
    list_staff,
    upsert_telegram_staff,
)
from storage.vocabulary import Role, Topic

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


async def test_resident_created_once_with_every_topic(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        first, created = await get_or_create_resident(
            session, channel="telegram", external_id="42", name="Олена 🌻", language="uk", now=NOW
        )
        assert created
    async with sessionmaker() as session, session.begin():
        again, created = await get_or_create_resident(
            session,
            channel="telegram",
            external_id="42",
            name="Other",
            language="en",
            now=NOW + timedelta(hours=1),
        )
        assert not created and again.id == first.id
        assert again.name == "Олена 🌻"
        assert again.topic_codes == {t.value for t in Topic}
    async with sessionmaker() as session:
        stored = await get_resident(session, channel="telegram", external_id="42")
        assert stored is not None
        # Timezone-aware on both databases.
        assert stored.last_seen_at == NOW + timedelta(hours=1)
        assert stored.last_seen_at.tzinfo is not None
        # The same id on the other messenger is another identity.
        assert await get_resident(session, channel="viber", external_id="42") is None


async def test_identity_is_unique(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    def make() -> Resident:
        return Resident(
            channel="viber",
            external_id="abc==",
            language="uk",
            digest="instant",
            subscribed=True,
            is_active=True,
            created_at=NOW,
            last_seen_at=NOW,
        )

    async with sessionmaker() as session, session.begin():
        session.add(make())
    with pytest.raises(IntegrityError):
        async with sessionmaker() as session, session.begin():
            session.add(make())


async def test_topics_replace(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        resident, _ = await get_or_create_resident(
            session, channel="telegram", external_id="1", name=None, language="uk", now=NOW
        )
        set_topics(resident, {"outages"})
    async with sessionmaker() as session:
        stored = await get_resident(session, channel="telegram", external_id="1")
        assert stored is not None and stored.topic_codes == {"outages"}


async def test_claim_update_once(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        assert await dedup.claim_update(session, channel="telegram", update_key="7", now=NOW)
    async with sessionmaker() as session, session.begin():
        assert not await dedup.claim_update(session, channel="telegram", update_key="7", now=NOW)
        assert await dedup.claim_update(session, channel="viber", update_key="7", now=NOW)
    async with sessionmaker() as session, session.begin():
        removed = await dedup.prune_processed(
            session, older_than=timedelta(days=7), now=NOW + timedelta(days=8)
        )
        assert removed == 2


async def test_highest_claimed_number(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The largest number claimed after a prefix, compared as numbers (9 < 10), on one channel."""
    async with sessionmaker() as session, session.begin():
        assert await dedup.highest_claimed(session, channel="telegram", prefix="70:") is None
        for channel, key in [
            ("telegram", "70:9"),
            ("telegram", "70:10"),
            ("telegram", "70:100000002"),
            ("telegram", "71:900000000"),  # another bot
            ("viber", "70:999999999"),
            ("telegram", "7_:999999999"),  # "_" is no wildcard
        ]:
            await dedup.claim_update(session, channel=channel, update_key=key, now=NOW)
    async with sessionmaker() as session:
        found = await dedup.highest_claimed(session, channel="telegram", prefix="70:")
        assert found == 100000002
        assert await dedup.highest_claimed(session, channel="telegram", prefix="7_:") == 999999999


async def test_claim_rolls_back_with_its_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A failed handling leaves the update unclaimed, so its redelivery is processed."""
    with pytest.raises(RuntimeError):
        async with sessionmaker() as session, session.begin():
            await dedup.claim_update(session, channel="telegram", update_key="9", now=NOW)
            raise RuntimeError("handler failed")
    async with sessionmaker() as session, session.begin():
        assert await dedup.claim_update(session, channel="telegram", update_key="9", now=NOW)


async def test_staff_roles(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        staff, created = await upsert_telegram_staff(
            session, telegram_id=5, role=Role.OPERATOR, now=NOW
        )
        assert created and staff.login == "tg5" and staff.department_codes  # every department
        _, created = await upsert_telegram_staff(session, telegram_id=5, role=Role.EDITOR, now=NOW)
        assert not created
        changed = await ensure_admins(session, telegram_ids=[5, 6], now=NOW)
        assert [account.telegram_id for account in changed] == [5, 6]
        assert await ensure_admins(session, telegram_ids=[5, 6], now=NOW) == []
    async with sessionmaker() as session, session.begin():
        assert [(s.telegram_id, s.role) for s in await list_staff(session)] == [
            (5, "admin"),
            (6, "admin"),
        ]
        # A disabled account is not found by its Telegram id: the chat desk refuses it.
        six = await get_staff(session, telegram_id=6)
        assert six is not None
        six.disabled_at = NOW
    async with sessionmaker() as session:
        assert await get_staff(session, telegram_id=6) is None


async def test_staff_accounts(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Accounts by login: checked logins, unique logins and Telegram ids, known departments."""
    async with sessionmaker() as session, session.begin():
        maria = await add_account(
            session, login=" Maria.K ", role=Role.OPERATOR, now=NOW, departments=["housing"]
        )
        assert maria.login == "maria.k" and maria.password_hash is None
        assert maria.department_codes == frozenset({"housing"})
        problems = []
        for login, telegram_id, departments in (
            ("MARIA.K", None, ()),
            ("x", None, ()),
            ("=cmd()", None, ()),
            ("petro", None, ("nowhere",)),
        ):
            try:
                await add_account(
                    session,
                    login=login,
                    role=Role.HEAD,
                    now=NOW,
                    telegram_id=telegram_id,
                    departments=departments,
                )
            except AccountError as error:
                problems.append(error.problem)
        assert problems == [
            AccountProblem.LOGIN_TAKEN,
            AccountProblem.BAD_LOGIN,
            AccountProblem.BAD_LOGIN,
            AccountProblem.UNKNOWN_DEPARTMENT,
        ]


async def test_conversation_state_and_audit(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        resident, _ = await get_or_create_resident(
            session, channel="viber", external_id="u1", name=None, language="uk", now=NOW
        )
        await conversations.save_state(
            session,
            resident_id=resident.id,
            flow="onboarding",
            step="topics",
            data={"draft": "текст <b>"},
            now=NOW,
        )
        audit.record(session, actor="system", action="test", now=NOW, details={"k": [1, 2]})
        resident_id = resident.id
    async with sessionmaker() as session, session.begin():
        state = await conversations.load_state(session, resident_id=resident_id)
        assert state is not None and (state.flow, state.step) == ("onboarding", "topics")
        assert state.data == {"draft": "текст <b>"}
        await conversations.clear_state(session, resident_id=resident_id)
        count = await session.scalar(select(func.count()).select_from(AuditEntry))
        assert count == 1
    async with sessionmaker() as session:
        assert await conversations.load_state(session, resident_id=resident_id) is None
