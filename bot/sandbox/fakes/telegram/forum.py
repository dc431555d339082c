"""Forum topics and chat information (getChat, getChatMember)."""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.fakes.telegram.constants import FORUM_ICON_COLORS, JSON
from bot.sandbox.fakes.telegram.editing import EditMethods
from bot.sandbox.fakes.telegram.params import Params
from bot.sandbox.fakes.telegram.records import bad_request
from bot.sandbox.fakes.telegram.state import Chat, as_administrator


class ForumMethods(EditMethods):
    """Forum topics and chat information (getChat, getChatMember)."""

    # ---------------------------------------------------------------- forum topics

    def _forum(self, p: Params) -> Chat:
        chat = self._chat(p)
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        return chat

    def _topic(self, chat: Chat, p: Params) -> int:
        thread_id = p.req_int("message_thread_id", "message thread not found")
        if thread_id not in chat.topics:
            raise bad_request("TOPIC_ID_INVALID")
        return thread_id

    async def _m_create_forum_topic(self, p: Params) -> Any:
        chat = self._forum(p)
        name = (p.opt_str("name") or "").strip()
        if not name:
            raise bad_request("TOPIC_TITLE_EMPTY")
        if len(name) > 128:
            raise bad_request("TOPIC_TITLE_TOO_LONG")
        color = p.opt_int("icon_color")
        if color is None:
            color = 7322096
        elif color not in FORUM_ICON_COLORS:
            raise bad_request("TOPIC_ICON_COLOR_INVALID")
        created: JSON = {"name": name, "icon_color": color}
        emoji = p.opt_str("icon_custom_emoji_id")
        if emoji:
            created["icon_custom_emoji_id"] = emoji
        # The topic id is the id of its "forum_topic_created" service message.
        thread_id = chat.next_message_id
        topic = {"message_thread_id": thread_id, **created}
        chat.topics[thread_id] = topic
        self._new_message(
            chat,
            self.bot_user,
            {"forum_topic_created": created},
            from_bot=True,
            thread_id=thread_id,
            service=True,
        )
        return copy.deepcopy(topic)

    async def _m_edit_forum_topic(self, p: Params) -> Any:
        chat = self._forum(p)
        thread_id = self._topic(chat, p)
        topic = chat.topics[thread_id]
        edited: JSON = {}
        name = p.opt_str("name")
        if name is not None and name.strip() and name.strip() != topic["name"]:
            edited["name"] = name.strip()
        emoji = p.opt_str("icon_custom_emoji_id")
        if emoji is not None and emoji != topic.get("icon_custom_emoji_id", ""):
            edited["icon_custom_emoji_id"] = emoji
        if not edited:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.update(edited)
        self._new_message(
            chat,
            self.bot_user,
            {"forum_topic_edited": edited},
            from_bot=True,
            thread_id=thread_id,
            service=True,
        )
        return True

    async def _m_close_forum_topic(self, p: Params) -> Any:
        return self._set_topic_closed(p, closed=True)

    async def _m_reopen_forum_topic(self, p: Params) -> Any:
        return self._set_topic_closed(p, closed=False)

    def _set_topic_closed(self, p: Params, *, closed: bool) -> bool:
        chat = self._forum(p)
        thread_id = self._topic(chat, p)
        if (thread_id in chat.closed_topics) == closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        if closed:
            chat.closed_topics.add(thread_id)
        else:
            chat.closed_topics.discard(thread_id)
        self._new_message(
            chat,
            self.bot_user,
            {"forum_topic_closed" if closed else "forum_topic_reopened": {}},
            from_bot=True,
            thread_id=thread_id,
            service=True,
        )
        return True

    async def _m_delete_forum_topic(self, p: Params) -> Any:
        chat = self._forum(p)
        thread_id = self._topic(chat, p)
        del chat.topics[thread_id]
        chat.closed_topics.discard(thread_id)
        for message_id in [
            mid
            for mid, stored in chat.messages.items()
            if stored.data.get("message_thread_id") == thread_id
        ]:
            del chat.messages[message_id]
        self._notify()
        return True

    # ---------------------------------------------------------------- chat info

    async def _m_get_chat(self, p: Params) -> Any:
        chat = self._chat(p)
        info = chat.as_dict()
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    async def _m_get_chat_member(self, p: Params) -> Any:
        chat = self._chat(p)
        user_id = p.req_int("user_id", "user not found")
        if user_id == self.bot_id:
            if chat.user is None and chat.bot_status == "administrator":
                return as_administrator(self.bot_user)
            return {"status": chat.bot_status, "user": self.bot_user}
        user = self._users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        if chat.user is not None:
            if chat.user.id != user_id:
                raise bad_request("user not found")
            return {"status": "member", "user": user.as_dict()}
        if user_id in chat.admins:
            return as_administrator(user.as_dict())
        if user_id in chat.members:
            return {"status": "member", "user": user.as_dict()}
        return {"status": "left", "user": user.as_dict()}
