"""Edits, deletions, pins and answers to callback queries."""

from __future__ import annotations

import copy
import time
from typing import Any

from bot.sandbox.fakes.telegram.constants import (
    CALLBACK_TOO_OLD,
    JSON,
    MAX_CALLBACK_ANSWER_TEXT,
    NOT_MODIFIED,
)
from bot.sandbox.fakes.telegram.params import Params
from bot.sandbox.fakes.telegram.records import bad_request
from bot.sandbox.fakes.telegram.sending import SendMethods
from bot.sandbox.fakes.telegram.state import Chat, StoredMessage, unix_now


class EditMethods(SendMethods):
    """Edits, deletions, pins and answers to callback queries."""

    # ---------------------------------------------------------------- edits and deletes

    def _editable(self, p: Params) -> tuple[Chat, StoredMessage]:
        if p.present("inline_message_id"):
            raise bad_request("message to edit not found")  # inline mode is not simulated
        chat = self._chat(p)
        message_id = p.req_int("message_id", "message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None or stored.service:
            raise bad_request("message to edit not found")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return chat, stored

    def _apply_edit(
        self, stored: StoredMessage, keys: tuple[str, str], content: JSON, markup: JSON | None
    ) -> JSON:
        """Replace text (or caption) and markup; identical content is a 400 like on Telegram."""
        message = stored.data
        new_markup = markup if markup and markup.get("inline_keyboard") else None
        if (
            all(message.get(key) == content.get(key) for key in keys)
            and message.get("reply_markup") == new_markup
        ):
            raise bad_request(NOT_MODIFIED)
        for key in keys:
            message.pop(key, None)
        message.update(content)
        if new_markup is None:
            message.pop("reply_markup", None)  # an edit without reply_markup drops the keyboard
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = unix_now()
        self._notify()
        return copy.deepcopy(message)

    async def _m_edit_message_text(self, p: Params) -> Any:
        _chat, stored = self._editable(p)
        if "text" not in stored.data:
            raise bad_request("there is no text in the message to edit")
        content = self._text_content(p)
        markup = self._markup(p, inline_only=True)
        return self._apply_edit(stored, ("text", "entities"), content, markup)

    async def _m_edit_message_caption(self, p: Params) -> Any:
        _chat, stored = self._editable(p)
        if "text" in stored.data:
            raise bad_request("there is no caption in the message to edit")
        content = self._caption_content(p)
        markup = self._markup(p, inline_only=True)
        return self._apply_edit(stored, ("caption", "caption_entities"), content, markup)

    async def _m_edit_message_reply_markup(self, p: Params) -> Any:
        _chat, stored = self._editable(p)
        markup = self._markup(p, inline_only=True)
        new_markup = markup if markup and markup.get("inline_keyboard") else None
        if stored.data.get("reply_markup") == new_markup:
            raise bad_request(NOT_MODIFIED)
        if new_markup is None:
            stored.data.pop("reply_markup", None)
        else:
            stored.data["reply_markup"] = new_markup
        stored.data["edit_date"] = unix_now()
        self._notify()
        return copy.deepcopy(stored.data)

    async def _m_delete_message(self, p: Params) -> Any:
        chat = self._chat(p)
        message_id = p.req_int("message_id", "message identifier is not specified")
        if message_id not in chat.messages:
            raise bad_request("message to delete not found")
        del chat.messages[message_id]
        self._notify()
        return True

    async def _m_delete_messages(self, p: Params) -> Any:
        chat = self._chat(p)
        ids = p.opt_json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids is empty")
        for message_id in ids:
            if isinstance(message_id, int):
                chat.messages.pop(message_id, None)
        self._notify()
        return True

    async def _m_pin_chat_message(self, p: Params) -> Any:
        chat = self._chat(p)
        message_id = p.req_int("message_id", "message identifier is not specified")
        if message_id not in chat.messages:
            raise bad_request("message to pin not found")
        return True

    async def _m_unpin_chat_message(self, p: Params) -> Any:
        self._chat(p)
        return True

    # ---------------------------------------------------------------- callback queries

    async def _m_answer_callback_query(self, p: Params) -> Any:
        query_id = p.opt_str("callback_query_id") or ""
        record = self._callbacks.get(query_id)
        if (
            record is None
            or record.answered
            or time.monotonic() - record.created > self.callback_query_ttl
        ):
            raise bad_request(CALLBACK_TOO_OLD)
        text = p.opt_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answered = True
        answer: JSON = {"show_alert": p.opt_bool("show_alert")}
        if text is not None:
            answer["text"] = text
        if p.present("url"):
            answer["url"] = p.opt_str("url")
        if p.present("cache_time"):
            answer["cache_time"] = p.opt_int("cache_time")
        self.callback_answers[query_id] = answer
        self._notify()
        return True
