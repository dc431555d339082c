"""No dead ends: every keyboard a resident can reach leads back to the main menu, in Telegram and
in Viber, on SQLite and PostgreSQL.

The check is generic: a crawler starts from every command a resident can send (and a poll that
reached them), presses every button of every screen it meets and types a fitting answer where a
step waits for text, until it has seen every screen (a screen: the flow, the step and the
buttons' actions). Each press is replayed in its own transaction from the start and rolled back,
so pressing "erase my data" or "withdraw consent" changes nothing for the next press. A new
screen anywhere is therefore crawled and checked without changing this test.

Free text is a root too, so whatever screens answer it are crawled as well.

A screen passes when one of its buttons, pressed, shows the main menu — or, in Telegram once the
resident has finished onboarding, because the main menu is the persistent reply keyboard there.
In Viber every message carries a keyboard (the client shows the last one), and no text tells
the resident to type a slash command.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import actions as act
from handlers.conversation import KEYBOARD_CHANNELS, Conversation
from handlers.polls import poll_keyboard, poll_text
from handlers.tickets.flows import ResidentTickets, TicketPolicy
from messaging.contract import EventKind, Identity, Incoming, KeyboardKind, Reply, with_keyboard
from messaging.i18n import Catalog
from messaging.text import markup_to_plain
from storage import conversations, polls, tickets
from storage.models import Delivery, Ticket
from storage.residents import resident_for_event
from storage.vocabulary import MessageDirection

ZONE = ZoneInfo("Europe/Kyiv")
CATALOG = Catalog.load()
CHANNELS = ("telegram", "viber")
# Deep enough for the longest form (an appeal: eight steps and the confirmation).
MAX_DEPTH = 12
MENU_ACTIONS = frozenset({act.FILE, act.MY_LIST, act.MENU_SETTINGS, act.MENU_HELP})
# A slash command as a resident would type it (not a URL, not a closing tag).
SLASH_COMMAND = re.compile(r"(?<![\w/<.:])/[a-z][a-z_]*\b")
# What a resident types at a step that waits for text, by the step's key.
TYPED = {
    "body": "Третій день не світять ліхтарі біля будинку на вул. Металургів, 5",
    "full_name": "Петренко Оксана Іванівна",
    "address": "Кривий Ріг, вул. Металургів, 5, кв. 12",
    "contact": "oksana@example.com",
    "urgent_reason": "Аварія на тепломережі: потрібні дані для безпеки мешканців",
}
TYPED_DEFAULT = "Дякую, додаю ще подробиці до звернення"
FREE_TEXT = "Доброго дня! У нас на вул. Металургів, 5 третій день не світять ліхтарі."
TEXT_FLOWS = frozenset({"ticket", "followup", "rating"})

_keys = itertools.count()


def conversation() -> Conversation:
    policy = TicketPolicy(zone=ZONE, per_hour=1000, per_day=1000)
    return Conversation(CATALOG, ResidentTickets(CATALOG, policy))


@dataclass(frozen=True)
class Move:
    kind: EventKind
    value: str

    def event(self, channel: str, user: str) -> Incoming:
        identity = Identity(channel=channel, external_id=user, name="Оксана Петренко")
        key = f"crawl-{next(_keys)}"
        if self.kind is EventKind.BUTTON:
            return Incoming(identity=identity, kind=self.kind, update_key=key, action=self.value)
        if self.kind is EventKind.COMMAND:
            return Incoming(
                identity=identity, kind=self.kind, update_key=key, command=self.value,
                text=f"/{self.value}",
            )  # fmt: skip
        return Incoming(identity=identity, kind=self.kind, update_key=key, text=self.value)


def press(action: str) -> Move:
    return Move(EventKind.BUTTON, action)


def command(name: str) -> Move:
    return Move(EventKind.COMMAND, name)


@dataclass(frozen=True)
class Result:
    replies: list[Reply]
    flow: str
    step: str
    # The form being filled, if any: the same step of two forms leads on differently.
    form: str | None
    onboarded: bool
    consented: bool


async def play(
    session: AsyncSession, conv: Conversation, channel: str, user: str, moves: Sequence[Move]
) -> Result:
    now = datetime.now(UTC)
    replies: list[Reply] = []
    for move in moves:
        known = await resident_for_event(
            session, channel=channel, external_id=user, name=None, language="uk", now=now
        )
        replies, _effects = await conv.handle(
            session, known.resident, move.event(channel, user), now=now, state=known.state
        )
        await session.flush()
    known = await resident_for_event(
        session, channel=channel, external_id=user, name=None, language="uk", now=now
    )
    state = known.state
    return Result(
        replies=replies,
        flow=state.flow if state else "idle",
        step=state.step if state else "",
        form=state.data.get("kind") if state else None,
        onboarded=known.resident.onboarded_at is not None,
        consented=known.resident.has_consent,
    )


async def replay(
    sessionmaker: async_sessionmaker[AsyncSession],
    conv: Conversation,
    channel: str,
    user: str,
    moves: Sequence[Move],
) -> Result:
    """``moves`` from the committed state, rolled back afterwards."""
    async with sessionmaker() as session:
        await session.begin()
        try:
            return await play(session, conv, channel, user, moves)
        finally:
            await session.rollback()


def is_main_menu(reply: Reply) -> bool:
    actions = {b.action for row in reply.buttons for b in row}
    return reply.keyboard is KeyboardKind.MENU and actions >= MENU_ACTIONS


def shown(channel: str, result: Result) -> list[Reply]:
    """The keyboards the resident sees after a turn: in Viber the last message's (the client
    shows only that one); in Telegram every message's own buttons."""
    if channel in KEYBOARD_CHANNELS:
        return result.replies[-1:]
    return [r for r in result.replies if r.buttons and r.keyboard is KeyboardKind.INLINE]


def signature(result: Result, screen: Reply) -> tuple[object, ...]:
    actions = tuple(b.action for row in screen.buttons for b in row)
    return (result.flow, result.step, result.form, result.onboarded, result.consented, actions)


@dataclass
class Screen:
    path: tuple[Move, ...]
    result: Result
    reply: Reply


async def crawl(
    sessionmaker: async_sessionmaker[AsyncSession],
    conv: Conversation,
    channel: str,
    user: str,
    roots: Sequence[tuple[Move, ...]],
    *,
    root_results: dict[tuple[Move, ...], Result] | None = None,
    until_onboarded: bool = False,
) -> list[str]:
    """Every screen reachable from ``roots``; returns the problems found (empty: none).
    ``until_onboarded``: screens after the onboarding are left to the crawl of an onboarded
    resident."""
    problems: list[str] = []
    seen: set[tuple[object, ...]] = set()
    queue: deque[Screen] = deque()

    def visit(path: tuple[Move, ...], result: Result) -> None:
        for reply in result.replies:
            check_text(channel, path, reply, problems)
        keyboard_due = channel in KEYBOARD_CHANNELS and (result.consented or result.onboarded)
        if keyboard_due and not (result.replies and result.replies[-1].buttons):
            problems.append(f"{channel} {describe(path)}: the last message has no keyboard")
        for screen in shown(channel, result):
            key = signature(result, screen)
            if until_onboarded and result.onboarded:
                continue
            if key not in seen and len(path) < MAX_DEPTH:
                seen.add(key)
                queue.append(Screen(path, result, screen))

    for root in roots:
        given = (root_results or {}).get(root)
        visit(root, given or await replay(sessionmaker, conv, channel, user, root))
    while queue:
        screen = queue.popleft()
        home = is_main_menu(screen.reply)
        for move in moves_from(screen):
            path = (*screen.path, move)
            result = await replay(sessionmaker, conv, channel, user, path)
            pressed = move.kind is EventKind.BUTTON and bool(result.replies)
            if pressed and is_main_menu(result.replies[-1]):
                home = True
            visit(path, result)
        if not (home or has_menu_anyway(channel, screen)):
            labels = [b.label for row in screen.reply.buttons for b in row]
            problems.append(f"{channel} {describe(screen.path)}: no way to the menu from {labels}")
    return problems


def moves_from(screen: Screen) -> list[Move]:
    """Every button of ``screen``, and a typed answer where its step takes text."""
    moves = [press(b.action) for row in screen.reply.buttons for b in row]
    if screen.result.flow in TEXT_FLOWS:
        moves.append(Move(EventKind.TEXT, TYPED.get(screen.result.step, TYPED_DEFAULT)))
    return moves


def has_menu_anyway(channel: str, screen: Screen) -> bool:
    """A screen that needs no button to the menu: the messenger keeps one under it (Telegram,
    once onboarded), or the resident has not consented yet (there is no menu to go to)."""
    persistent = channel not in KEYBOARD_CHANNELS and screen.result.onboarded
    before_consent = not (screen.result.consented or screen.result.onboarded) and (
        screen.result.step in ("", "consent")
    )
    return persistent or before_consent


def check_text(channel: str, path: Sequence[Move], reply: Reply, problems: list[str]) -> None:
    if channel not in KEYBOARD_CHANNELS:
        return
    found = SLASH_COMMAND.findall(markup_to_plain(reply.text))
    if found:
        problems.append(f"viber {describe(path)}: the text names commands {found}")


def describe(path: Sequence[Move]) -> str:
    return " → ".join(m.value if m.kind is not EventKind.TEXT else "«text»" for m in path)


ONBOARDING = (
    command("start"),
    press(act.CONSENT_YES),
    press(act.with_arg(act.LANGUAGE, "uk")),
    press(act.TOPICS_DONE),
    press(act.with_arg(act.DISTRICT, "city")),
)
FEEDBACK = (
    command("feedback"),
    press(act.with_arg(act.CHOOSE, "other")),
    Move(EventKind.TEXT, TYPED["body"]),
    press(act.FORM_NEXT),
    press(act.with_arg(act.CHOOSE, "no")),
    press(act.FORM_SUBMIT),
)


async def _setup(
    sessionmaker: async_sessionmaker[AsyncSession], conv: Conversation, channel: str, user: str
) -> int:
    """An onboarded resident with an open ticket answered by staff, a closed one not yet rated,
    and a poll sent to them; returns the poll's id."""
    async with sessionmaker() as session, session.begin():
        await play(session, conv, channel, user, (*ONBOARDING, *FEEDBACK, *FEEDBACK))
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        known = await resident_for_event(
            session, channel=channel, external_id=user, name=None, language="uk", now=now
        )
        own = await tickets.resident_tickets(session, resident_id=known.resident.id, limit=10)
        assert len(own) == 2
        first, second = sorted(own, key=lambda t: t.id)
        await session.execute(update(Ticket).where(Ticket.id == first.id).values(status="closed"))
        tickets.add_message(
            session, second, direction=MessageDirection.STAFF, now=now, text="Перевіримо завтра"
        )
        poll = await polls.create_poll(
            session,
            question="Де потрібне нове освітлення?",
            options=["Парк", "Сквер", "Зупинка"],
            closes_at=now + timedelta(days=3),
            now=now,
        )
        session.add(
            Delivery(
                broadcast_id=poll.broadcast_id,
                resident_id=known.resident.id,
                channel=channel,
                external_id=user,
                state="sent",
                next_attempt_at=now,
            )
        )
        return poll.id


async def _poll_message(
    sessionmaker: async_sessionmaker[AsyncSession],
    conv: Conversation,
    channel: str,
    user: str,
    poll_id: int,
) -> Result:
    """The poll as the broadcast engine sends it (in Viber, with the resident's keyboard)."""
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        poll = await polls.get_poll(session, poll_id=poll_id)
        assert poll is not None
        known = await resident_for_event(
            session, channel=channel, external_id=user, name=None, language="uk", now=now
        )
        reply = Reply(text=poll_text(CATALOG, "uk", poll, ZONE), buttons=poll_keyboard(poll))
        if channel in KEYBOARD_CHANNELS:
            state = await conversations.load_state(session, resident_id=known.resident.id)
            keyboard = conv.keyboard(session, known.resident, state, now=now)
            reply = with_keyboard(reply, keyboard)
        await session.rollback()
    return Result([reply], "idle", "", None, onboarded=True, consented=True)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_every_screen_leads_back_to_the_main_menu(
    channel: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    conv = conversation()
    user = f"{channel}-crawler"
    poll_id = await _setup(sessionmaker, conv, channel, user)
    # The poll message is not an answer to anything: its path is empty.
    poll_root: tuple[Move, ...] = ()
    roots: list[tuple[Move, ...]] = [(command(name),) for name, _key in act.PUBLIC_COMMANDS]
    roots += [(command(act.CMD_MENU),), (command("nonsense"),)]
    # What a resident most often does: write their problem in their own words.
    roots.append((Move(EventKind.TEXT, FREE_TEXT),))
    # Without consent (withdrawn in settings), a form first asks for it.
    roots.append((command(act.CMD_SETTINGS), press(act.SETTINGS_CONSENT), command("appeal")))
    problems = await crawl(
        sessionmaker,
        conv,
        channel,
        user,
        [*roots, poll_root],
        root_results={poll_root: await _poll_message(sessionmaker, conv, channel, user, poll_id)},
    )
    # Onboarding, from a resident's first message.
    problems += await crawl(
        sessionmaker,
        conv,
        channel,
        f"{channel}-newcomer",
        [(command("start"),)],
        until_onboarded=True,
    )
    assert problems == []
