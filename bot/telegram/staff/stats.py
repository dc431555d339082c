"""``/stats`` and ``/export`` in the staff chats, and the Telegram poster of reports and files.

``/stats`` works in any staff chat for any registered staff member. ``/export
tickets|residents|polls FROM TO`` works in the operator chat: the CSV is uploaded as a document;
names, contacts, addresses and texts are in it only for administrators, and such a file goes to
the administrator's private chat with the bot, never to the group (the group gets a short
notice, or, when the bot may not write to them yet, how to /start it). Every event is one
transaction: the update is claimed (a redelivered update does nothing twice), the
sender is checked (non-staff are refused and audited), the figures are read and the export
audited; Telegram is called after the commit. The transaction, the claim and the after-commit
steps are the edge's (``edge.FeatureEdge``), as for the composers.

The handlers sit on the Dispatcher's own observers (run before the staff router), filtered to
these two commands in group chats, like the news composer's.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher, F
from aiogram.enums import ChatType, ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    User,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.command_line import Command, parse_command
from bot.telegram.staff.edge import EVENT_FLAG, Edge, install_feature_edge
from bot.telegram.staff.identity import actor_of
from bot.telegram.staff.service import full_name
from broadcasts.stats_text import StatsTexts
from handlers.staff.broadcasts.reports import BAD_PERIOD, ReportsCore
from handlers.staff.core import Done, Refused, StaffCall, StaffCore
from messaging import labels
from messaging.i18n import Catalog, Markup
from messaging.text import split_text
from storage import audit, staff_desk
from storage.export import Export
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

CMD_STATS: Final = "stats"
CMD_EXPORT: Final = "export"
COMMANDS: Final = frozenset({CMD_STATS, CMD_EXPORT})
GROUP_CHATS: Final = {ChatType.GROUP, ChatType.SUPERGROUP}
KEY: Final = "stats"
TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024


class TelegramFiles:
    """Posts staff-facing HTML, PNG images and documents to Telegram chats."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def post(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        button: tuple[str, str] | None = None,
    ) -> None:
        """Post ``text`` (split at the limit); ``button``: (label, callback data) of one
        button under its last part."""
        parts = split_text(text, TEXT_LIMIT)
        for index, part in enumerate(parts):
            markup = None
            if button is not None and index == len(parts) - 1:
                label, data = button
                markup = InlineKeyboardMarkup(
                    inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=data)]]
                )
            await self._bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
                reply_markup=markup,
            )

    async def post_photo(self, chat_id: int, png: bytes, *, filename: str, caption: str) -> None:
        await self._bot.send_photo(
            chat_id,
            BufferedInputFile(png, filename=filename),
            caption=caption[:CAPTION_LIMIT],
            parse_mode=ParseMode.HTML,
        )

    async def post_document(
        self,
        chat_id: int,
        data: bytes,
        *,
        filename: str,
        caption: str,
        thread_id: int | None = None,
    ) -> None:
        await self._bot.send_document(
            chat_id,
            BufferedInputFile(data, filename=filename),
            caption=caption[:CAPTION_LIMIT],
            parse_mode=ParseMode.HTML,
            message_thread_id=thread_id,
        )


class StatsDesk:
    """The Telegram side of ``handlers.staff.broadcasts.reports``."""

    answer_duplicates = False  # no buttons

    def __init__(
        self,
        *,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        clock: Clock,
        zone: ZoneInfo,
        operator_chat_id: int | None,
        staff: StaffCore,
    ) -> None:
        self.files = TelegramFiles(bot)
        self.sessionmaker = sessionmaker
        self.texts = StatsTexts(catalog, zone=zone)
        self.clock = clock
        self.zone = zone
        self.operator_chat_id = operator_chat_id
        self.staff = staff
        self.reports = ReportsCore(staff, zone=zone)

    def t(self, key: str, /, **params: object) -> Markup:
        return self.texts.t(key, **params)

    async def is_staff_chat(self, chat_id: int) -> bool:
        async with self.sessionmaker() as session:
            return await staff_desk.is_staff_chat(
                session, chat_id=chat_id, operator_chat_id=self.operator_chat_id
            )

    async def wants(self, message: Message, bot_username: str) -> bool:
        text = message.text or ""
        command = parse_command(text, bot_username) if text.startswith("/") else None
        if command is None or command.name not in COMMANDS:
            return False
        return await self.is_staff_chat(message.chat.id)

    async def on_message(self, message: Message, bot: Bot, staff_edge: Edge) -> None:
        """``/stats`` or ``/export`` (``wants``), in the edge's transaction (``staff_edge``, the
        workflow data's ``edge.EDGE``); what it posts is posted after the commit."""
        edge = staff_edge
        user = message.from_user
        me = await bot.me()
        bot_username = me.username or ""
        command = parse_command(message.text or "", bot_username)
        assert user is not None and command is not None  # ``wants``
        actor, _staff = await actor_of(edge.session, user.id)
        async with self.staff.call(actor, session=edge.session) as call:
            pass
        export: Export | None = None
        if isinstance(call, Refused):
            self._refused(edge.session, user, message, command, edge.now)
            reply: Markup | None = self.t("stats.denied")
        elif command.name == CMD_STATS:
            report = await self.reports.stats_in(call, place=message.chat.id)
            assert isinstance(report, Done)
            reply = self.texts.report(report.value)
        else:
            reply, export = await self._export(call, message, command)
        edge.later(self._post, message, user, reply, export, bot_username)

    async def _post(
        self,
        message: Message,
        user: User,
        reply: Markup | None,
        export: Export | None,
        bot_username: str,
    ) -> None:
        thread = message.message_thread_id if message.is_topic_message else None
        if export is not None:
            caption = self.t(
                "stats.export.caption",
                kind=self.t(labels.STATS_EXPORT_KIND[export.kind.value]),
                first=export.period.first.strftime("%d.%m.%Y"),
                last=export.period.last.strftime("%d.%m.%Y"),
                rows=export.rows,
                personal=self.t(
                    "stats.export.personal" if export.personal else "stats.export.no_personal"
                ),
            )
            if export.personal:
                await self._send_privately(message, user, export, caption, bot_username)
                return
            await self.files.post_document(
                message.chat.id,
                export.data,
                filename=export.filename,
                caption=caption,
                thread_id=thread,
            )
        elif reply is not None:
            await self.files.post(message.chat.id, reply, thread_id=thread)

    @staticmethod
    def _refused(
        session: AsyncSession, user: User, message: Message, command: Command, now: datetime
    ) -> None:
        audit.record(
            session,
            actor=f"telegram:{user.id}",
            action="stats.denied",
            now=now,
            details={
                "chat": message.chat.id,
                "what": f"/{command.name}",
                "name": full_name(user)[:128],
            },
        )
        log.info("/%s by non-staff user %s refused", command.name, user.id)

    async def _send_privately(
        self, message: Message, user: User, export: Export, caption: str, bot_username: str
    ) -> None:
        """Personal data never lands in the group, where every member can download it: the
        file goes to the administrator's private chat with the bot (its id is the user's), and
        the group hears only that it went, or how to let the bot write to them."""
        thread = message.message_thread_id if message.is_topic_message else None
        name = full_name(user)
        try:
            await self.files.post_document(
                user.id, export.data, filename=export.filename, caption=caption
            )
        except (TelegramForbiddenError, TelegramBadRequest) as error:
            # 403: never started the bot, or blocked it; 400 "chat not found": never met it.
            if isinstance(error, TelegramBadRequest) and "chat not found" not in error.message:
                raise
            log.info("export for admin %s not sent privately: %s", user.id, error.message)
            async with self.sessionmaker() as session, session.begin():
                audit.record(
                    session,
                    actor=f"staff:{user.id}",
                    action="export.undelivered",
                    now=self.clock(),
                    details={**export.audit_details(), "reason": error.message[:200]},
                )
            bot = f"@{bot_username}" if bot_username else ""
            notice = self.t("stats.export.start_private", name=name, bot=bot)
        else:
            notice = self.t("stats.export.sent_privately", name=name)
        await self.files.post(message.chat.id, notice, thread_id=thread)

    async def _export(
        self, call: StaffCall, message: Message, command: Command
    ) -> tuple[Markup | None, Export | None]:
        if self.operator_chat_id is None or message.chat.id != self.operator_chat_id:
            return self.t("stats.export.operator_chat"), None
        args = command.args.split()
        if len(args) != 3:
            return self.t("stats.export.usage"), None
        # Personal data goes to the administrator's private chat (its id is theirs), not here.
        outcome = await self.reports.export_in(call, *args, place=message.chat.id)
        if isinstance(outcome, Done):
            return None, outcome.value
        if outcome.details.get("problem") == BAD_PERIOD:
            return self.t("stats.export.bad_period", problem=outcome.details["error"]), None
        return self.t("stats.export.usage"), None


def install_stats(
    dispatcher: Dispatcher,
    *,
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    clock: Clock,
    zone: ZoneInfo,
    operator_chat_id: int | None,
    staff: StaffCore | None = None,
) -> StatsDesk:
    """Build the analytics commands and register them (the composition root's one call);
    ``staff``: the staff core shared with the other desks."""
    desk = StatsDesk(
        bot=bot,
        sessionmaker=sessionmaker,
        catalog=catalog,
        clock=clock,
        zone=zone,
        operator_chat_id=operator_chat_id,
        staff=staff or StaffCore(sessionmaker=sessionmaker, clock=clock),
    )
    install_feature_edge(dispatcher)
    dispatcher[KEY] = desk

    async def is_ours(message: Message, bot: Bot) -> bool:
        me = await bot.me()
        return await desk.wants(message, me.username or "")

    dispatcher.message.register(
        desk.on_message, F.chat.type.in_(GROUP_CHATS), is_ours, flags={EVENT_FLAG: KEY}
    )
    return desk
