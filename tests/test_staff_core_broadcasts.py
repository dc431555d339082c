"""The staff core's news, poll and report operations called directly, as any desk calls them
(no Telegram): roles, the two-person rule, the lifecycle's refusals, waking the engine after
the commit, and the audit; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.staff.broadcasts.news import Content, NewsCore, Submission, Target
from handlers.staff.broadcasts.polls import PollCore, Setting
from handlers.staff.broadcasts.reports import BAD_PERIOD, ReportsCore
from handlers.staff.core import Actor, Done, Outcome, Reason, Refused, StaffCore
from messaging.i18n import Catalog
from storage.models import AuditEntry, Broadcast, Delivery, Poll
from storage.vocabulary import Role
from tests.staff_accounts import add_staff
from tests.test_broadcast_helpers import Person, add_residents

T = TypeVar("T")
NOW = datetime.now(UTC).replace(microsecond=0)
ADMIN, EDITOR, EDITOR_2, OPERATOR, OUTSIDER = 1, 2, 3, 4, 99


class World:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, two_person: bool) -> None:
        self.sessionmaker = sessionmaker
        self.woken = 0
        core = StaffCore(sessionmaker=sessionmaker, clock=lambda: NOW)
        self.news = NewsCore(core, two_person=two_person, wake=self.wake)
        self.polls = PollCore(
            core, catalog=Catalog.load(), zone=ZoneInfo("Europe/Kyiv"), wake=self.wake
        )
        self.reports = ReportsCore(core, zone=ZoneInfo("Europe/Kyiv"))

    def wake(self) -> None:
        self.woken += 1

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.sessionmaker() as session:
            query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            return list((await session.scalars(query)).all())

    async def broadcast(self, broadcast_id: int) -> Broadcast:
        async with self.sessionmaker() as session:
            found = await session.get(Broadcast, broadcast_id)
            assert found is not None
            return found

    async def deliveries(self, broadcast_id: int) -> int:
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(Delivery.id).where(Delivery.broadcast_id == broadcast_id)
            )
            return len(rows.all())


async def world(
    sessionmaker: async_sessionmaker[AsyncSession], *, two_person: bool = False
) -> World:
    async with sessionmaker() as session, session.begin():
        for telegram_id, role in (
            (ADMIN, Role.ADMIN),
            (EDITOR, Role.EDITOR),
            (EDITOR_2, Role.EDITOR),
            (OPERATOR, Role.OPERATOR),
        ):
            await add_staff(session, telegram_id, role, now=NOW)
    await add_residents(sessionmaker, [Person("telegram", "1"), Person("viber", "v1")])
    return World(sessionmaker, two_person=two_person)


def done(outcome: Outcome[T]) -> T:
    assert isinstance(outcome, Done), outcome
    return outcome.value


async def test_compose_approve_send(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    w = await world(sessionmaker, two_person=True)
    news_id = done(await w.news.compose(Actor(EDITOR), Content("<b>Вода</b> завтра")))
    submitted = done(await w.news.submit(Actor(EDITOR), news_id, report_to=-100))
    assert submitted.became is Submission.PENDING
    assert w.woken == 0 and await w.deliveries(news_id) == 0
    approved = done(await w.news.approve(Actor(EDITOR_2), news_id))
    assert approved.became is Submission.SENDING and approved.recipients == 2
    item = await w.broadcast(news_id)
    assert (item.status, item.approved_by, item.progress_chat_id) == ("sending", EDITOR_2, -100)
    assert await w.deliveries(news_id) == 2
    # The engine is woken once, after the commit.
    assert w.woken == 1
    [sent] = await w.audit("news.sent")
    assert sent.actor == f"staff:{EDITOR_2}" and sent.details["recipients"] == 2
    assert sent.details["desk"] == "telegram"


async def test_the_author_cannot_approve(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    w = await world(sessionmaker, two_person=True)
    news_id = done(await w.news.compose(Actor(EDITOR), Content("Новина")))
    done(await w.news.submit(Actor(EDITOR), news_id))
    refused = await w.news.approve(Actor(EDITOR), news_id)
    assert isinstance(refused, Refused) and refused.reason is Reason.TWO_PERSON
    assert (await w.broadcast(news_id)).status == "pending_approval"
    assert len(await w.audit("news.approve_refused")) == 1
    # Approving a later time schedules it; nothing is planned yet.
    later = NOW + timedelta(days=1)
    done(await w.news.cancel(Actor(EDITOR), news_id))
    other = done(await w.news.compose(Actor(EDITOR), Content("Пізніше")))
    done(await w.news.submit(Actor(EDITOR), other, when=later))
    scheduled = done(await w.news.approve(Actor(ADMIN), other))
    assert scheduled.became is Submission.SCHEDULED
    assert w.woken == 0 and await w.deliveries(other) == 0


async def test_wrong_roles_are_refused(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    w = await world(sessionmaker)
    for actor, reason in ((Actor(OPERATOR), Reason.ROLE), (Actor(OUTSIDER), Reason.NOT_STAFF)):
        outcome = await w.news.compose(actor, Content("Чужа новина"))
        assert isinstance(outcome, Refused) and outcome.reason is reason
        poll = await w.polls.compose(actor, question="?", options=("так", "ні"))
        assert isinstance(poll, Refused) and poll.reason is reason
    assert len(await w.audit("staff.denied")) == 4
    async with w.sessionmaker() as session:
        assert (await session.scalars(select(Broadcast.id))).all() == []
    # Reports: any staff member; personal columns for administrators only.
    assert isinstance(await w.reports.stats(Actor(OPERATOR)), Done)
    export = done(
        await w.reports.export(Actor(OPERATOR), "tickets", "01.12.2026", "05.12.2026", place=-1)
    )
    assert export.personal is False
    export = done(
        await w.reports.export(Actor(ADMIN), "tickets", "01.12.2026", "05.12.2026", place=-1)
    )
    assert export.personal is True
    bad = await w.reports.export(Actor(ADMIN), "tickets", "05.12.2026", "01.12.2026", place=-1)
    assert isinstance(bad, Refused) and bad.details["problem"] == BAD_PERIOD
    refused = await w.reports.stats(Actor(OUTSIDER))
    assert isinstance(refused, Refused) and refused.reason is Reason.NOT_STAFF


async def test_cancel_after_sending_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    w = await world(sessionmaker)
    news_id = done(await w.news.compose(Actor(EDITOR), Content("Новина")))
    assert isinstance(await w.news.target(Actor(EDITOR), news_id, Target.CHANNEL, "viber"), Done)
    bad = await w.news.target(Actor(EDITOR), news_id, Target.TOPIC, "no-such-topic")
    assert isinstance(bad, Refused) and bad.reason is Reason.INVALID
    sent = done(await w.news.submit(Actor(EDITOR), news_id))
    assert sent.recipients == 1  # Telegram only
    refused = await w.news.cancel(Actor(EDITOR), news_id)
    assert isinstance(refused, Refused) and refused.reason is Reason.STATE
    assert refused.details["status"] == "sending"
    # Being sent, it is stopped instead; stopped, it stays so.
    stopped = done(await w.news.stop(Actor(ADMIN), news_id))
    assert stopped.cancelled == 1
    again = await w.news.stop(Actor(ADMIN), news_id)
    assert isinstance(again, Refused) and again.reason is Reason.STATE
    target = await w.news.target(Actor(EDITOR), news_id, Target.URGENT)
    assert isinstance(target, Refused) and target.reason is Reason.STATE


async def test_poll_send_and_close(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    w = await world(sessionmaker)
    poll_id = done(
        await w.polls.compose(Actor(EDITOR), question="Ремонт двору?", options=("Так", "Ні"))
    )
    assert done(await w.polls.toggle(Actor(EDITOR), poll_id, Setting.MULTIPLE)) is True
    sent = done(await w.polls.send(Actor(EDITOR), poll_id, report_to=-5))
    assert sent.recipients == 2 and w.woken == 1
    # Sent: no longer a draft.
    late = await w.polls.toggle(Actor(EDITOR), poll_id, Setting.PUBLISH)
    assert isinstance(late, Refused) and late.reason is Reason.STATE
    assert isinstance(await w.polls.close(Actor(OPERATOR), poll_id), Refused)
    assert done(await w.polls.close(Actor(ADMIN), poll_id)) == poll_id
    again = await w.polls.close(Actor(ADMIN), poll_id)
    assert isinstance(again, Refused) and again.reason is Reason.STATE
    missing = await w.polls.close(Actor(ADMIN), 4242)
    assert isinstance(missing, Refused) and missing.reason is Reason.NOT_FOUND
    async with w.sessionmaker() as session:
        poll = await session.get(Poll, poll_id)
        assert poll is not None and poll.status == "closed" and poll.multiple
    assert len(await w.audit("poll.closed_early")) == 1


async def test_a_draft_poll_is_cancelled_and_closed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    w = await world(sessionmaker)
    poll_id = done(await w.polls.compose(Actor(ADMIN), question="Так?", options=("Так", "Ні")))
    assert isinstance(await w.polls.cancel(Actor(EDITOR), poll_id), Done)
    again = await w.polls.cancel(Actor(EDITOR), poll_id)
    assert isinstance(again, Refused) and again.reason is Reason.STATE
    nobody = await w.polls.send(Actor(EDITOR), poll_id)
    assert isinstance(nobody, Refused) and nobody.reason is Reason.STATE
