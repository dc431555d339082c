"""The pipeline's promises, with a recording Sender standing in for a messenger."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.conversation import Conversation
from handlers.parts import MAX_INLINE_RETRIES
from handlers.pipeline import Pipeline, owed_for
from handlers.sending import ReplySender
from handlers.tickets.flows import ResidentTickets, TicketPolicy
from messaging.contract import (
    Effect,
    EventKind,
    Identity,
    Incoming,
    PermanentChannelError,
    RateLimited,
    RecipientBlocked,
    Reply,
    Sent,
)
from messaging.i18n import Catalog
from storage.models import AuditEntry, Resident

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class RecordingSender:
    channel = "telegram"

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.failures = list(failures or [])

    async def send(self, recipient: str, reply: Reply) -> Sent:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((recipient, reply))
        return Sent(message_id=str(len(self.sent)))

    async def edit(
        self,
        recipient: str,
        message_id: str,  # noqa: ARG002 - the Sender protocol's name
        reply: Reply,
    ) -> Sent:
        return await self.send(recipient, reply)

    def parts(self, reply: Reply) -> tuple[Reply, ...]:
        return (reply,)


class BrokenConversation(Conversation):
    """A flow with a bug in it."""

    async def handle(self, *_args: object, **_kwargs: object) -> tuple[list[Reply], list[Effect]]:
        raise ZeroDivisionError("a bug")


def _tickets(catalog: Catalog) -> ResidentTickets:
    return ResidentTickets(catalog, TicketPolicy(zone=ZoneInfo("Europe/Kyiv")))


def _event(key: str, text: str = "/start") -> Incoming:
    return Incoming(
        identity=Identity(channel="telegram", external_id="77", name="Test"),
        kind=EventKind.COMMAND,
        update_key=key,
        text=text,
        command=text.lstrip("/"),
    )


def _replies(sessionmaker: async_sessionmaker[AsyncSession]) -> ReplySender:
    return ReplySender(sessionmaker=sessionmaker, clock=lambda: NOW)


def _pipeline(
    sessionmaker: async_sessionmaker[AsyncSession],
    conversation: Conversation | None = None,
    replies: ReplySender | None = None,
) -> Pipeline:
    catalog = Catalog.load()
    return Pipeline(
        sessionmaker=sessionmaker,
        conversation=conversation or Conversation(catalog, _tickets(catalog)),
        catalog=catalog,
        clock=lambda: NOW,
        default_language="uk",
        replies=replies or _replies(sessionmaker),
    )


async def test_a_bug_in_a_flow_is_audited_and_answered_with_an_apology(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    catalog = Catalog.load()
    pipeline = _pipeline(sessionmaker, BrokenConversation(catalog, _tickets(catalog)))
    result = await pipeline.process(_event("1"))
    assert len(result.replies) == 1 and "сталася помилка" in result.replies[0].text
    # Redelivered: not processed (and not apologised for) again.
    assert (await pipeline.process(_event("1"))).duplicate
    async with sessionmaker() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions == ["handler.failed"]


async def test_blocked_on_send_marks_the_resident_inactive(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    pipeline, replies = _pipeline(sessionmaker), _replies(sessionmaker)
    event = _event("2")
    result = await pipeline.process(event)
    sender = RecordingSender([RecipientBlocked("blocked", channel="telegram")])
    assert (await replies.deliver(sender, owed_for(event, result.replies))).sent == 0
    async with sessionmaker() as session:
        resident = (await session.scalars(select(Resident))).one()
    assert not resident.is_active and resident.blocked_at == NOW


async def test_short_rate_limits_are_waited_out(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    pipeline, replies = _pipeline(sessionmaker), _replies(sessionmaker)
    event = _event("3")
    result = await pipeline.process(event)
    short = RateLimited("slow down", channel="telegram", retry_after=0.01)
    sender = RecordingSender([short] * MAX_INLINE_RETRIES)
    assert (await replies.deliver(sender, owed_for(event, result.replies))).sent == 1
    # One 429 too many in a row, or a long retry_after, leaves the message to the owed-replies
    # job instead of holding the resident's answers up.
    sender = RecordingSender([short] * (MAX_INLINE_RETRIES + 1))
    delivered = await replies.deliver(sender, owed_for(event, result.replies))
    assert delivered.sent == 0 and delivered.unsent is not None
    assert delivered.unsent.replies == result.replies
    sender = RecordingSender([RateLimited("x", channel="telegram", retry_after=60)])
    assert (await replies.deliver(sender, owed_for(event, result.replies))).sent == 0
    sender = RecordingSender([PermanentChannelError("bad request", channel="telegram")])
    assert (await replies.deliver(sender, owed_for(event, result.replies))).sent == 0
