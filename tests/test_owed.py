"""Replies owed to residents survive a process that dies between the commit and the send, and
are sent exactly once otherwise; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.owed import OWED_AFTER, OWED_GIVE_UP, reply_from_json, reply_to_json
from handlers.pipeline import owed_for
from handlers.sending import ReplySender, send_owed
from messaging.contract import (
    Button,
    KeyboardKind,
    Media,
    RecipientBlocked,
    Reply,
    Sent,
    TransientChannelError,
)
from storage.models import ProcessedUpdate
from tests.test_pipeline import NOW, RecordingSender, _event, _pipeline, _replies


async def _owed(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        result = await session.execute(
            select(ProcessedUpdate.update_key).where(ProcessedUpdate.owed.is_not(None))
        )
        return [key for (key,) in result.all()]


async def _recover(
    sessionmaker: async_sessionmaker[AsyncSession], replies: ReplySender, after: timedelta
) -> RecordingSender:
    sender = RecordingSender()
    await send_owed(sessionmaker, {"telegram": sender}, replies, clock=lambda: NOW + after)
    return sender


def test_every_part_of_a_reply_survives_the_round_trip() -> None:
    replies = [
        Reply(text="<b>Привіт</b> & 🙂"),
        Reply(
            text="Оберіть",
            buttons=((Button("Так", "yes"), Button("Ні", "no")), (Button("Назад", "back"),)),
            replace=True,
        ),
        Reply(text="Меню", buttons=((Button("📰 Новини", "news"),),), keyboard=KeyboardKind.MENU),
        Reply(text="Фото", media=Media(kind="photo", ref="AgAD-file-id", file_name=None)),
        Reply(text="", media=Media(kind="document", ref="https://x.test/a.pdf", file_name="a.pdf")),
    ]
    for reply in replies:
        assert reply_from_json(reply_to_json(reply)) == reply


async def test_replies_left_by_a_dead_process_are_sent_once_by_the_next(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # The update is stored with its replies; the process dies before sending them.
    dead = _pipeline(sessionmaker)
    result = await dead.process(_event("1"))
    assert result.replies and result.owed_key == ("telegram", "1")
    assert await _owed(sessionmaker) == ["1"]

    # The next process: too fresh to be another process's leftovers, so not sent yet...
    alive = _replies(sessionmaker)
    assert (await _recover(sessionmaker, alive, OWED_AFTER - timedelta(seconds=1))).sent == []
    # ...then sent, in order, to the resident who caused the update, and only once.
    sender = await _recover(sessionmaker, alive, OWED_AFTER + timedelta(seconds=1))
    assert sender.sent == [("77", reply) for reply in result.replies]
    assert await _owed(sessionmaker) == []
    assert (await _recover(sessionmaker, alive, timedelta(hours=1))).sent == []


async def test_replies_sent_by_a_live_process_are_not_sent_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    replies = _replies(sessionmaker)
    pipeline = _pipeline(sessionmaker, replies=replies)
    sender = RecordingSender()
    result = await pipeline.handle(_event("2"), sender)
    assert len(sender.sent) == len(result.replies) > 0
    # Recorded as sent in a batch, at the latest when the process stops.
    await replies.close()
    assert await _owed(sessionmaker) == []
    assert (await _recover(sessionmaker, replies, timedelta(hours=1))).sent == []


async def test_a_resident_who_blocked_the_bot_is_not_owed_anything(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    replies = _replies(sessionmaker)
    pipeline = _pipeline(sessionmaker, replies=replies)
    sender = RecordingSender([RecipientBlocked("blocked", channel="telegram")])
    await pipeline.handle(_event("3"), sender)
    await replies.close()
    assert await _owed(sessionmaker) == []


async def test_an_answer_carried_in_the_response_is_not_kept(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Viber's welcome travels in the webhook's HTTP answer.
    result = await _pipeline(sessionmaker).process(_event("4"), owe=False)
    assert result.replies and result.owed_key is None
    assert await _owed(sessionmaker) == []


async def test_unreadable_or_unsendable_leftovers_are_dropped_not_retried_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    replies = _replies(sessionmaker)
    pipeline = _pipeline(sessionmaker, replies=replies)
    await pipeline.process(_event("5"))
    async with sessionmaker() as session, session.begin():
        row = await session.get(ProcessedUpdate, ("telegram", "5"))
        assert row is not None
        row.owed = {"v": 1, "replies": [{"no": "text"}]}
    sender = await _recover(sessionmaker, replies, timedelta(hours=1))
    assert sender.sent == []
    assert await _owed(sessionmaker) == []
    # A channel that is no longer configured: dropped with a warning.
    await pipeline.process(_event("6"))
    await send_owed(sessionmaker, {}, replies, clock=lambda: NOW + timedelta(hours=1))
    assert await _owed(sessionmaker) == []


async def test_replies_the_messenger_failed_for_now_are_tried_again_later(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    replies = _replies(sessionmaker)
    pipeline = _pipeline(sessionmaker, replies=replies)
    result = await pipeline.process(_event("7"))
    assert result.owed_key is not None
    # Three messages for the resident; the second meets an outage.
    owed = owed_for(_event("7"), tuple(Reply(text=f"Частина {n}") for n in (1, 2, 3)))

    class FailsSecond(RecordingSender):
        async def send(self, recipient: str, reply: Reply) -> Sent:
            if len(self.sent) == 1:
                raise TransientChannelError("502 Bad Gateway", channel="telegram")
            return await super().send(recipient, reply)

    live = FailsSecond()
    delivered = await replies.deliver(live, owed)
    assert delivered.sent == 1 and delivered.unsent is not None
    assert [r.text for _to, r in live.sent] == ["Частина 1"]
    await replies.keep_owed(result.owed_key, delivered.unsent)
    # The job sends the rest, not the one that already went out.
    later = await _recover(sessionmaker, replies, OWED_AFTER + timedelta(seconds=1))
    assert [r.text for _to, r in later.sent] == ["Частина 2", "Частина 3"]
    assert await _owed(sessionmaker) == []


async def test_the_job_keeps_trying_through_an_outage_and_gives_up_after_a_day(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    replies = _replies(sessionmaker)
    pipeline = _pipeline(sessionmaker, replies=replies)
    result = await pipeline.process(_event("8"))
    down = RecordingSender([TransientChannelError("timeout", channel="telegram")])
    await send_owed(sessionmaker, {"telegram": down}, replies, clock=lambda: NOW + OWED_AFTER * 2)
    assert down.sent == [] and await _owed(sessionmaker) == ["8"]
    up = await _recover(sessionmaker, replies, OWED_AFTER * 3)
    assert [reply for _to, reply in up.sent] == list(result.replies)
    # Another update, never sendable for more than a day: dropped, not sent that late.
    await pipeline.process(_event("9"))
    late = await _recover(sessionmaker, replies, OWED_GIVE_UP + timedelta(minutes=1))
    assert late.sent == [] and await _owed(sessionmaker) == []


async def test_a_reply_that_met_an_outage_stays_owed_after_the_live_attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    replies = _replies(sessionmaker)
    pipeline = _pipeline(sessionmaker, replies=replies)
    down = RecordingSender([TransientChannelError("timeout", channel="telegram")])
    result = await pipeline.handle(_event("10"), down)
    await replies.close()
    assert down.sent == [] and await _owed(sessionmaker) == ["10"]
    up = await _recover(sessionmaker, replies, OWED_AFTER + timedelta(seconds=1))
    assert [reply for _to, reply in up.sent] == list(result.replies)
