"""The simulated people: users, groups, membership, blocking; their messages reach the bot."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.forum import ForumMethods
from bot.sandbox.fakes.telegram.records import SimUpdate
from bot.sandbox.fakes.telegram.state import Chat, User, snapshot, unix_now


class Residents(ForumMethods):
    """The simulated people: users, groups, membership, blocking; their messages reach the bot."""

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "uk",
        *,
        is_premium: bool = False,
        hide_forwards: bool = False,
    ) -> JSON:
        """Register (or update) a simulated user; returns the User object."""
        existing = self._users.get(user_id)
        if existing is None:
            existing = User(user_id, first_name)
            self._users[user_id] = existing
        existing.first_name = first_name
        existing.last_name = last_name
        existing.username = username
        existing.language_code = language_code
        existing.is_premium = is_premium
        existing.hide_forwards = hide_forwards
        return existing.as_dict()

    def add_group(
        self,
        chat_id: int,
        title: str,
        is_forum: bool = False,
        *,
        username: str | None = None,
        members: Iterable[int] = (),
        admins: Iterable[int] = (),
        bot_is_admin: bool = True,
    ) -> JSON:
        """Register a group the bot is in; ids like -100... (or forums) are supergroups."""
        supergroup = is_forum or str(chat_id).startswith("-100")
        chat = Chat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            is_forum=is_forum,
            next_message_id=self._message_floor + 1,
            bot_status="administrator" if bot_is_admin else "member",
        )
        chat.admins.update(admins)
        chat.members.update(members)
        chat.members.update(chat.admins)
        self._chats[chat_id] = chat
        return chat.as_dict()

    def add_group_member(self, chat_id: int, user_id: int, *, admin: bool = False) -> None:
        """Add a simulated user to a registered group (as an administrator if ``admin``)."""
        chat = self._chats.get(chat_id)
        if chat is None or chat.user is not None:
            raise ValueError(f"unknown group {chat_id}: call add_group() first")
        self._sim_user(user_id)
        chat.members.add(user_id)
        if admin:
            chat.admins.add(user_id)

    def open_private_chat(self, user_id: int) -> None:
        """The user started the bot some time ago: their private chat exists (empty here), so
        the bot may write to them, as to any subscriber it already knows."""
        self._sim_chat(self._sim_user(user_id), None)

    def deactivate(self, user_id: int) -> None:
        """The user deleted their account: sends to them fail with 403."""
        self._sim_user(user_id).deactivated = True

    def _sim_user(self, user_id: int) -> User:
        user = self._users.get(user_id)
        if user is None:
            self.user(user_id, first_name=f"User{user_id}")
            user = self._users[user_id]
        return user

    def _sim_chat(self, user: User, chat_id: int | None) -> Chat:
        if chat_id is None or chat_id == user.id:
            chat = self._chats.get(user.id)
            if chat is None:
                chat = Chat(
                    id=user.id, type="private", user=user, next_message_id=self._message_floor + 1
                )
                self._chats[user.id] = chat
            user.seen = True
            return chat
        chat = self._chats.get(chat_id)
        if chat is None or chat.user is not None:
            raise ValueError(f"unknown group {chat_id}: call add_group() first")
        chat.members.add(user.id)
        user.seen = True
        return chat

    def _member_update(self, chat: Chat, actor: User, old: str, new: str) -> JSON:
        def member(status: str) -> JSON:
            out: JSON = {"status": status, "user": self.bot_user}
            if status == "kicked":
                out["until_date"] = 0
            return out

        return {
            "my_chat_member": {
                "chat": chat.as_dict(),
                "from": actor.as_dict(),
                "date": unix_now(),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            }
        }

    async def block(self, user_id: int) -> SimUpdate:
        """The user blocks the bot: sends fail with 403 and my_chat_member "kicked" is emitted."""
        user = self._sim_user(user_id)
        if user.blocked:
            raise ValueError(f"user {user_id} has already blocked the bot")
        chat = self._sim_chat(user, None)
        user.blocked = True
        return await self._emit(self._member_update(chat, user, "member", "kicked"))

    async def unblock(self, user_id: int) -> SimUpdate:
        """The user unblocks (restarts) the bot: my_chat_member "member" is emitted."""
        user = self._sim_user(user_id)
        if not user.blocked:
            raise ValueError(f"user {user_id} has not blocked the bot")
        chat = self._sim_chat(user, None)
        user.blocked = False
        return await self._emit(self._member_update(chat, user, "kicked", "member"))

    async def kick_bot(self, chat_id: int, by_user_id: int) -> SimUpdate:
        """An admin removes the bot from a group: sends there fail with 403."""
        user = self._sim_user(by_user_id)
        chat = self._chats.get(chat_id)
        if chat is None or chat.user is not None:
            raise ValueError(f"unknown group {chat_id}")
        old = chat.bot_status
        chat.bot_status = "kicked"
        return await self._emit(self._member_update(chat, user, old, "kicked"))

    async def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: JSON,
        *,
        thread_id: int | None,
        reply_to: int | None,
    ) -> SimUpdate:
        user = self._sim_user(user_id)
        updates: list[SimUpdate] = []
        if chat_id in (None, user_id) and user.blocked:
            # Writing to a blocked bot ("Restart") unblocks it, as in real clients.
            updates.append(await self.unblock(user_id))
        chat = self._sim_chat(user, chat_id)
        if thread_id is not None and (not chat.is_forum or thread_id not in chat.topics):
            raise ValueError(f"no forum topic {thread_id} in chat {chat.id}")
        reply: JSON | None = None
        if reply_to is not None:
            stored = chat.messages.get(reply_to)
            if stored is None:
                raise ValueError(f"no message {reply_to} in chat {chat.id}")
            reply = snapshot(stored.data)
            thread_id = thread_id or stored.data.get("message_thread_id")
        message = self._new_message(
            chat, user.as_dict(), content, from_bot=False, thread_id=thread_id, reply_to=reply
        )
        if not self._bot_sees(chat, message, explicit_reply=reply):
            skipped = SimUpdate({"message": copy.deepcopy(message)})
            skipped.filtered = True
            return skipped
        return await self._emit({"message": copy.deepcopy(message)})

    def _bot_sees(self, chat: Chat, message: JSON, *, explicit_reply: JSON | None) -> bool:
        """Whether Telegram would deliver a group message to the bot at all.

        A bot removed from the group sees nothing; with privacy mode on (BotFather's
        default) a non-admin bot only gets commands, replies to its own messages and
        messages mentioning it.
        """
        if chat.user is not None:
            return True
        if chat.bot_status in {"kicked", "left"}:
            return False
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True
        text = str(message.get("text") or message.get("caption") or "")
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            return "@" not in command or command.split("@", 1)[1].lower() == (
                self.bot_username.lower()
            )
        if explicit_reply is not None and explicit_reply.get("from", {}).get("id") == self.bot_id:
            return True
        return f"@{self.bot_username}".lower() in text.lower()
