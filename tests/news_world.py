"""Helpers of the news composer tests: the bot against the fake Telegram (and Viber) servers
with a staff chat, editors, an operator and an outsider, and residents of both messengers.
(No tests here.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import select

from bot.news_jobs import JOBS_KEY, NewsJobs
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from bot.telegram.staff.news.composer import NewsComposer
from bot.telegram.staff.news.router import KEY
from storage.models import Broadcast
from storage.vocabulary import Role
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN, bot_settings, running_bot
from tests.staff_accounts import add_staff
from tests.staff_world import ADMIN, GROUP_CHAT, OPERATOR, OUTSIDER, Clock, World
from tests.test_broadcast_helpers import Person, add_residents

T = TypeVar("T")

EDITOR = 7004
EDITOR_2 = 7005


@contextlib.asynccontextmanager
async def news_world(
    database_url: str,
    *,
    viber: bool = False,
    two_person: bool = False,
    **settings: Any,
) -> AsyncIterator[World]:
    """The bot (webhook mode) with an ordinary staff group as the operator chat; no quiet
    hours (the tests run at any time of day)."""
    clock = Clock()
    async with contextlib.AsyncExitStack() as stack:
        telegram = await stack.enter_async_context(FakeTelegram(TELEGRAM_TOKEN))
        overrides: dict[str, Any] = {
            "telegram_token": TELEGRAM_TOKEN,
            "telegram_api_url": telegram.base_url,
            "telegram_mode": "webhook",
            "operator_chat_id": GROUP_CHAT,
            "quiet_hours": "",
            "news_two_person": str(two_person).lower(),
            **settings,
        }
        fake_viber: FakeViber | None = None
        if viber:
            fake_viber = await stack.enter_async_context(FakeViber(VIBER_TOKEN))
            overrides.update(viber_token=VIBER_TOKEN, viber_api_url=fake_viber.base_url)
        runtime = await stack.enter_async_context(
            running_bot(bot_settings(database_url, **overrides), clock=clock)
        )
        for user_id, first in (
            (ADMIN, "Ірина"),
            (OPERATOR, "Петро"),
            (OUTSIDER, "Сторонній"),
            (EDITOR, "Олена"),
            (EDITOR_2, "Марко"),
        ):
            telegram.user(user_id, first_name=first)
        telegram.add_group(
            GROUP_CHAT,
            "Редакція",
            members=(ADMIN, OPERATOR, OUTSIDER, EDITOR, EDITOR_2),
            admins=(ADMIN,),
        )
        async with runtime.sessionmaker() as session, session.begin():
            for user_id, role in (
                (ADMIN, Role.ADMIN),
                (OPERATOR, Role.OPERATOR),
                (EDITOR, Role.EDITOR),
                (EDITOR_2, Role.EDITOR),
            ):
                await add_staff(session, user_id, role, now=clock())
        yield World(
            telegram=telegram, runtime=runtime, chat_id=GROUP_CHAT, clock=clock, viber=fake_viber
        )


async def add_people(world: World, people: Sequence[Person]) -> dict[str, int]:
    """Residents in the database, reachable in the fake messengers."""
    ids = await add_residents(world.runtime.sessionmaker, people)
    for person in people:
        if person.channel == "telegram":
            world.telegram.user(int(person.external_id), first_name="Мешканець")
            # A private chat with the bot exists (as after /start); the update is not sent.
            world.telegram._sim_chat(world.telegram._sim_user(int(person.external_id)), None)
        else:
            assert world.viber is not None
            world.viber.user(person.external_id, name="Мешканець", subscribed=True)
    return ids


def workflow(world: World, key: str, kind: type[T]) -> T:
    """What the composition root stored under ``key`` in the Dispatcher's workflow data."""
    assert world.runtime.telegram is not None
    found = world.runtime.telegram.dispatcher[key]
    assert isinstance(found, kind)
    return found


def composer(world: World) -> NewsComposer:
    return workflow(world, KEY, NewsComposer)


def jobs(world: World) -> NewsJobs:
    return workflow(world, JOBS_KEY, NewsJobs)


def with_buttons(world: World, prefix: str) -> list[dict[str, Any]]:
    """Bot messages in the staff chat that carry buttons whose callback data starts with
    ``prefix`` (a composer's previews)."""
    return [
        message
        for message in world.chat()
        if any(
            str(button.get("callback_data", "")).startswith(prefix)
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        )
    ]


def previews(world: World) -> list[dict[str, Any]]:
    """Bot messages in the staff chat that carry composer buttons."""
    return with_buttons(world, "nw:")


def last_preview(world: World) -> dict[str, Any]:
    found = previews(world)
    assert found, world.texts()
    return found[-1]


def preview_body(world: World, message_id: int) -> dict[str, Any]:
    """The resident's copy posted just above a preview (whose message carries the item's number,
    state and buttons)."""
    chat = world.chat()
    index = next(i for i, m in enumerate(chat) if m["message_id"] == message_id)
    assert index > 0, message_id
    return chat[index - 1]


def label(world: World, message_id: int, prefix: str) -> str:
    """The label of the message's button whose label starts with ``prefix``."""
    for text in world.buttons(message_id):
        if text.startswith(prefix):
            return text
    raise AssertionError(f"no button {prefix!r} in {list(world.buttons(message_id))}")


async def press(world: World, user_id: int, message_id: int, prefix: str) -> str | None:
    return await world.press(user_id, message_id, label(world, message_id, prefix))


async def news_items(world: World) -> list[Broadcast]:
    async with world.runtime.sessionmaker() as session:
        result = await session.execute(select(Broadcast).order_by(Broadcast.id))
        return list(result.scalars())


async def wait_for(predicate: Any, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            if await predicate():
                return
            await asyncio.sleep(0.05)
