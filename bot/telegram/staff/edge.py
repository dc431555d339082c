"""Where every staff event of the operator chat is opened and closed, once for all handlers.

Three aiogram middlewares. The ticket desk's staff router has two:

- the outer one (``StaffEdge``) runs before the handlers' filters: it keeps to the staff chats,
  opens the event's one transaction, finds what the message belongs to (its ticket, the prompt
  it answers), and after the commit answers the button and runs the after-commit steps (notices
  to residents, card edits, replies in the chat). Failures follow the staff chats' rule
  (``chat_router.guarded``);
- the inner one (``StaffClaim``) runs once a handler was chosen, for handlers flagged ``staff``:
  it claims the update (a redelivered update does nothing twice), loads the staff member, and
  refuses (with an audit entry) anyone who is not staff, before the handler runs.

The news and poll composers and the statistics commands have the third (``FeatureEdge``, for
handlers flagged ``staff_event``): the same transaction, claim, button answer and after-commit
steps; their features check the staff member through the staff core themselves (each command
has its own roles and refusal text).

Nothing leaves the process before the commit: an action is never announced that was not
stored, and no Telegram call is made while a ticket row is locked by this transaction.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff import callbacks as cb
from bot.telegram.staff.chat_router import GROUP_CHATS, guarded
from bot.telegram.staff.command_line import COMMANDS, parse_command
from bot.telegram.staff.service import CLAIM_CHANNEL, STAFF_NAME_MAX, StaffService, full_name
from handlers.staff.core import Actor, After, run_after
from handlers.staff.tickets.context import Within
from messaging.contract import telegram_update_key
from messaging.text import clean_text, markup_to_plain
from storage import audit, dedup, staff_desk
from storage.models import Staff, Ticket
from storage.staff import get_staff
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

# The Dispatcher's workflow-data key of the StaffService.
KEY: Final = "staff"
# The flag of handlers that act as staff; its value names the attempt in a refusal's audit.
FLAG: Final = "staff"
EDGE: Final = "staff_edge"
# The flag of the composers' and the statistics commands' handlers (``FeatureEdge``); its value
# is the workflow-data key of the feature whose event it is.
EVENT_FLAG: Final = "staff_event"

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@dataclass
class Edge:
    """One staff event: its transaction and what to do once it committed."""

    session: AsyncSession
    now: datetime
    after: list[After] = field(default_factory=list)
    claimed: bool = False
    # The text of the callback answer (buttons only).
    answer: str | None = None
    alert: bool = False

    def later(
        self, step: Callable[..., Awaitable[None]], /, *args: object, **kwargs: object
    ) -> None:
        self.after.append(functools.partial(step, *args, **kwargs))


@dataclass
class Work:
    """What a staff handler works with: the event's transaction, who acts, their record."""

    edge: Edge
    actor: Actor
    staff: Staff

    @property
    def session(self) -> AsyncSession:
        return self.edge.session

    @property
    def within(self) -> Within:
        return Within(session=self.edge.session, after=self.edge.after)

    def later(
        self, step: Callable[..., Awaitable[None]], /, *args: object, **kwargs: object
    ) -> None:
        self.edge.later(step, *args, **kwargs)

    def mark(self) -> int:
        """Where the next step goes; ``before`` puts one there after the core queued its own."""
        return len(self.edge.after)

    def before(
        self, mark: int, step: Callable[..., Awaitable[None]], /, *args: object, **kwargs: object
    ) -> None:
        self.edge.after.insert(mark, functools.partial(step, *args, **kwargs))

    def answer(self, text: str, *, alert: bool = False) -> None:
        self.edge.answer, self.edge.alert = text, alert


def is_content(message: Message) -> bool:
    """Something a person sent, as opposed to service messages (a pinned message, a topic
    renamed, members joining), which must never be taken for an answer."""
    return any(
        value is not None
        for value in (
            message.text,
            message.caption,
            message.photo,
            message.document,
            message.sticker,
            message.voice,
            message.video,
            message.video_note,
            message.audio,
            message.animation,
            message.location,
            message.contact,
            message.poll,
        )
    )


async def answer_query(query: CallbackQuery, text: str | None, *, alert: bool = False) -> None:
    try:
        # Stops the button's spinner; after a redelivery the query may be too old.
        await query.answer(text=text[:200] if text else None, show_alert=alert)
    except TelegramAPIError as error:
        log.debug("answerCallbackQuery failed: %s", error)


class StaffEdge(BaseMiddleware):
    """Outer middleware of the staff router's messages and button presses."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Message) and event.chat.type in GROUP_CHATS:
            what, opened = "staff message", await self._message(event, data)
        elif isinstance(event, CallbackQuery) and _is_card_press(event):
            what, opened = "staff button", await self._button(event, data)
        else:
            return await handler(event, data)
        if opened:
            update: Update = data["event_update"]
            await guarded(self._run(handler, event, data), log, what, update.update_id)
        return None

    async def _message(self, message: Message, data: dict[str, Any]) -> bool:
        service: StaffService = data[KEY]
        if not await service.is_staff_chat(message.chat.id):
            return False
        if message.from_user is None or not is_content(message):
            return False
        # Cleaned as residents' texts are (``messaging.text.clean_text``) before anything is
        # stored: answers, notes, templates and reasons come from here.
        text = clean_text(message.text if message.text is not None else (message.caption or ""))
        bot: Bot = data["bot"]
        me = await bot.me()
        command = parse_command(text, me.username or "")
        if command is not None and command.name not in COMMANDS:
            return False  # another bot's command, or a resident command typed in the group
        data.update(text=text, command=command)
        return True

    async def _button(self, query: CallbackQuery, data: dict[str, Any]) -> bool:
        service: StaffService = data[KEY]
        assert query.message is not None  # _is_card_press
        if not await service.is_staff_chat(query.message.chat.id):
            await answer_query(query, None)
            return False
        return True

    async def _run(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> None:
        service: StaffService = data[KEY]
        async with service.sessionmaker() as session, session.begin():
            edge = data[EDGE] = Edge(session=session, now=service.clock())
            if isinstance(event, Message):
                data["ticket"] = await service.ticket_of(session, event)
                data["prompt"] = await service.prompt_of(session, event)
            await handler(event, data)
        if edge.claimed and isinstance(event, CallbackQuery):
            await answer_query(event, edge.answer, alert=edge.alert)
        await run_after(edge.after)


def _is_card_press(query: CallbackQuery) -> bool:
    message = query.message
    return (
        (query.data or "").startswith(cb.PREFIX + ":")
        and message is not None
        and message.chat.type in GROUP_CHATS
    )


async def claim(edge: Edge, data: dict[str, Any]) -> bool:
    """Claim the event's update in its transaction: False when it was handled already (a
    redelivered update does nothing twice)."""
    bot: Bot = data["bot"]
    update: Update = data["event_update"]
    key = telegram_update_key(bot.id, update.update_id)
    edge.claimed = await dedup.claim_update(
        edge.session, channel=CLAIM_CHANNEL, update_key=key, now=edge.now
    )
    return edge.claimed


class StaffClaim(BaseMiddleware):
    """Inner middleware: claims the update and checks that the sender is staff."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        what = get_flag(data, FLAG)
        if what is None:
            return await handler(event, data)
        edge: Edge = data[EDGE]
        if not await claim(edge, data):
            return None
        if isinstance(event, CallbackQuery):
            return await self._button(handler, event, data, edge)
        assert isinstance(event, Message) and event.from_user is not None
        staff = await get_staff(edge.session, telegram_id=event.from_user.id)
        if staff is None:
            ticket: Ticket | None = data.get("ticket")
            _deny(edge, event.from_user, event.chat.id, _attempt(what, data), ticket)
            service: StaffService = data[KEY]
            edge.after.append(functools.partial(service.reply, event, service.t("staff.denied")))
            return None
        data["work"] = _work(edge, event.from_user, staff)
        return await handler(event, data)

    async def _button(
        self, handler: Handler, query: CallbackQuery, data: dict[str, Any], edge: Edge
    ) -> Any:
        service: StaffService = data[KEY]
        pressed: cb.CardCallback = data["callback_data"]
        assert query.message is not None
        staff = await get_staff(edge.session, telegram_id=query.from_user.id)
        ticket = await staff_desk.lock_ticket(edge.session, ticket_id=pressed.id)
        if staff is None:
            _deny(edge, query.from_user, query.message.chat.id, f"button:{query.data}", ticket)
            edge.answer, edge.alert = service.t("staff.denied"), True
            return None
        if ticket is None:
            edge.answer, edge.alert = service.t("staff.error.not_found"), True
            return None
        data["work"] = _work(edge, query.from_user, staff)
        data["ticket"] = ticket
        return await handler(query, data)


def _attempt(what: str, data: dict[str, Any]) -> str:
    """How a refused message is named in the audit: ``/ban``, ``prompt`` or ``answer``."""
    command = data.get("command")
    return f"/{command.name}" if command is not None else what


def _work(edge: Edge, user: User, staff: Staff) -> Work:
    if staff.name is None:
        # Cards show who took a ticket; the staff list may not have names yet.
        staff.name = full_name(user)[:STAFF_NAME_MAX]
    return Work(edge=edge, actor=Actor.of(staff), staff=staff)


def _deny(edge: Edge, user: User, chat_id: int, what: str, ticket: Ticket | None) -> None:
    audit.record(
        edge.session,
        actor=f"telegram:{user.id}",
        action="staff.denied",
        now=edge.now,
        subject=f"ticket:{ticket.id}" if ticket is not None else None,
        details={"chat": chat_id, "what": what, "name": full_name(user)[:128]},
    )
    log.info("staff action %s by non-staff user %s refused", what, user.id)


class Feature(Protocol):
    """A staff-chat feature outside the ticket desk (news, polls, statistics), as its edge
    sees it."""

    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    # Whether a redelivered press is answered (stopping a spinner the first answer missed).
    answer_duplicates: bool

    async def is_staff_chat(self, chat_id: int) -> bool:
        """Whether the feature works in this chat."""


class FeatureEdge(BaseMiddleware):
    """Inner middleware of the Dispatcher for handlers flagged ``staff_event`` (the composers,
    the statistics commands): a button outside the feature's chats is only answered; otherwise
    the event's one transaction is opened and the update claimed (a redelivered update does
    nothing twice) before the handler runs, and after the commit the button is answered
    (``Edge.answer``) and the after-commit steps run. Failures follow the staff chats' rule
    (``chat_router.guarded``)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        key = get_flag(data, EVENT_FLAG)
        if key is None:
            return await handler(event, data)
        feature: Feature = data[key]
        update: Update = data["event_update"]
        if isinstance(event, CallbackQuery):
            message = event.message
            if message is None or not await feature.is_staff_chat(message.chat.id):
                await answer_query(event, None)
                return None
            what = f"{key} button"
        else:
            what = f"{key} message"
        await guarded(self._run(handler, event, data, feature), log, what, update.update_id)
        return None

    async def _run(
        self, handler: Handler, event: TelegramObject, data: dict[str, Any], feature: Feature
    ) -> None:
        async with feature.sessionmaker() as session, session.begin():
            edge = data[EDGE] = Edge(session=session, now=feature.clock())
            if await claim(edge, data):
                await handler(event, data)
        if isinstance(event, CallbackQuery) and (edge.claimed or feature.answer_duplicates):
            text = markup_to_plain(edge.answer) if edge.answer else None
            await answer_query(event, text, alert=edge.alert)
        await run_after(edge.after)


def install_feature_edge(dispatcher: Dispatcher) -> None:
    """Put ``FeatureEdge`` on the Dispatcher's messages and button presses, once."""
    for observer in (dispatcher.message, dispatcher.callback_query):
        if not any(isinstance(middleware, FeatureEdge) for middleware in observer.middleware):
            observer.middleware(FeatureEdge())
