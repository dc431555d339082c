"""The broadcast lifecycle's guarded steps (``storage.broadcast_lifecycle``): pure rules on a
broadcast row, and the guard planning keeps on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import broadcast_lifecycle as lifecycle
from storage.broadcast_lifecycle import LifecycleError, Problem
from storage.broadcasts import create_broadcast
from storage.models import Broadcast
from storage.planning import plan_broadcast

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
AUTHOR, SECOND = 101, 202


def item(
    status: str = lifecycle.DRAFT, *, when: datetime | None = None, approved_by: int | None = None
) -> Broadcast:
    return Broadcast(
        status=status,
        created_by=AUTHOR,
        scheduled_at=when,
        text="x",
        approved_by=approved_by,
        approved_at=NOW if approved_by is not None else None,
    )


def refused(problem: Problem, step: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(LifecycleError) as caught:
        step(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.problem is problem


def test_submit_waits_for_approval_and_keeps_the_time() -> None:
    news = item()
    later = NOW + timedelta(hours=2)
    lifecycle.submit(news, when=later, now=NOW)
    assert news.status == lifecycle.PENDING and news.scheduled_at == later
    refused(Problem.STATE, lifecycle.submit, news, when=None, now=NOW)


def test_the_author_may_not_approve_their_own_broadcast() -> None:
    news = item(lifecycle.PENDING)
    refused(Problem.TWO_PERSON, lifecycle.approve, news, approver=AUTHOR, now=NOW)
    assert news.status == lifecycle.PENDING and news.approved_by is None
    assert lifecycle.approve(news, approver=SECOND, now=NOW) is True
    assert news.approved_by == SECOND and news.approved_at == NOW


def test_approving_a_later_time_schedules_it() -> None:
    news = item(lifecycle.PENDING, when=NOW + timedelta(days=1))
    assert lifecycle.approve(news, approver=SECOND, now=NOW) is False
    assert news.status == lifecycle.SCHEDULED


@pytest.mark.parametrize("status", [lifecycle.DRAFT, lifecycle.SCHEDULED, lifecycle.SENDING])
def test_only_pending_broadcasts_are_approved(status: str) -> None:
    refused(Problem.STATE, lifecycle.approve, item(status), approver=SECOND, now=NOW)


def test_schedule_needs_a_draft_and_a_future_time() -> None:
    refused(Problem.TOO_LATE, lifecycle.schedule, item(), when=NOW, now=NOW)
    refused(Problem.STATE, lifecycle.schedule, item(lifecycle.SENDING), when=NOW, now=NOW)
    news = item()
    lifecycle.schedule(news, when=NOW + timedelta(minutes=5), now=NOW)
    assert news.status == lifecycle.SCHEDULED


def test_reopen_clears_approval_and_schedule() -> None:
    news = item(lifecycle.SCHEDULED, when=NOW + timedelta(days=1), approved_by=SECOND)
    assert lifecycle.reopen(news) is True
    assert (news.status, news.scheduled_at, news.approved_by) == (lifecycle.DRAFT, None, None)
    assert lifecycle.reopen(news) is False
    refused(Problem.STATE, lifecycle.reopen, item(lifecycle.FINISHED))


@pytest.mark.parametrize("status", [lifecycle.DRAFT, lifecycle.PENDING, lifecycle.SCHEDULED])
def test_cancel_before_sending(status: str) -> None:
    news = item(status)
    assert lifecycle.cancel(news, now=NOW) == status
    assert news.status == lifecycle.CANCELLED and news.cancelled_at == NOW


@pytest.mark.parametrize("status", [lifecycle.SENDING, lifecycle.FINISHED, lifecycle.CANCELLED])
def test_cancel_after_sending_started_is_refused(status: str) -> None:
    refused(Problem.STATE, lifecycle.cancel, item(status), now=NOW)


def test_stopping_applies_to_a_broadcast_being_sent() -> None:
    lifecycle.require_sending(item(lifecycle.SENDING))
    refused(Problem.STATE, lifecycle.require_sending, item(lifecycle.FINISHED))


def test_planning_starts_only_from_the_lifecycle_s_statuses() -> None:
    assert lifecycle.may_start_from(["scheduled"]) == ("scheduled",)
    refused(Problem.STATE, lifecycle.may_start_from, ("finished",))


async def test_planning_keeps_the_guard(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        news = await create_broadcast(session, text="Новина", now=NOW, created_by=AUTHOR)
        lifecycle.cancel(news, now=NOW)
        await session.flush()
        assert await plan_broadcast(session, broadcast_id=news.id, now=NOW) is None
        with pytest.raises(LifecycleError):
            await plan_broadcast(
                session, broadcast_id=news.id, now=NOW, statuses=(lifecycle.CANCELLED,)
            )
