"""Finding chats, checking that the bot may write there, formatting text and storing messages."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from typing import Any

from bot.sandbox.fakes.limits import SlidingWindow
from bot.sandbox.fakes.telegram.constants import JSON, MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH
from bot.sandbox.fakes.telegram.core import TelegramCore
from bot.sandbox.fakes.telegram.limits import Bucket
from bot.sandbox.fakes.telegram.markup.autodetect import detect_entities, sort_entities, trim_text
from bot.sandbox.fakes.telegram.markup.html_mode import parse_html
from bot.sandbox.fakes.telegram.markup.markdown_mode import parse_markdown, parse_markdown_v2
from bot.sandbox.fakes.telegram.markup.text import utf16_len
from bot.sandbox.fakes.telegram.params import Params
from bot.sandbox.fakes.telegram.records import ApiError, bad_request, forbidden_error
from bot.sandbox.fakes.telegram.reply_markup import validate_reply_markup
from bot.sandbox.fakes.telegram.state import Chat, StoredMessage, snapshot, unix_now


class ChatAccess(TelegramCore):
    """Finding chats, checking the bot may write there, formatting text, storing messages."""

    # ---------------------------------------------------------------- chats and access

    def _chat_from_value(self, value: Any, name: str = "chat_id") -> Chat:
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)  # ids nested in JSON objects (scopes) may arrive as strings
        chat: Chat | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            chat = self._chats.get(value)
            user = self._users.get(value)
            if chat is None and user is not None and user.seen:
                raise forbidden_error("bot can't initiate conversation with a user")
        elif isinstance(value, str) and value.startswith("@"):
            wanted = value[1:].lower()
            for candidate in self._chats.values():
                if candidate.username and candidate.username.lower() == wanted:
                    chat = candidate
                    break
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _chat(self, p: Params, name: str = "chat_id") -> Chat:
        return self._chat_from_value(p.values.get(name), name)

    @staticmethod
    def _check_can_send(chat: Chat) -> None:
        if chat.user is not None:
            if chat.user.deactivated:
                raise forbidden_error("user is deactivated")
            if chat.user.blocked:
                raise forbidden_error("bot was blocked by the user")
        elif chat.bot_status in {"kicked", "left"}:
            where = "supergroup chat" if chat.type == "supergroup" else "group chat"
            if chat.bot_status == "kicked":
                raise forbidden_error(f"bot was kicked from the {where}")
            raise forbidden_error(f"bot is not a member of the {where}")

    def _thread(self, chat: Chat, p: Params) -> int | None:
        thread_id = p.opt_int("message_thread_id")
        if thread_id is None or not chat.is_forum:
            return None  # outside forum supergroups the parameter has no effect here
        if thread_id not in chat.topics:
            raise bad_request("message thread not found")
        return thread_id

    def _reply_target(self, chat: Chat, p: Params) -> JSON | None:
        params = p.opt_json("reply_parameters", "can't parse reply parameters JSON object")
        allow = p.opt_bool("allow_sending_without_reply")
        message_id: Any = p.opt_int("reply_to_message_id")
        target = chat
        if isinstance(params, dict):
            message_id = params.get("message_id")
            allow = bool(params.get("allow_sending_without_reply", allow))
            if params.get("chat_id") not in (None, chat.id):
                target = self._chat_from_value(params.get("chat_id"))
        elif params is not None:
            raise bad_request("can't parse reply parameters JSON object")
        if message_id is None:
            return None
        stored = target.messages.get(message_id) if isinstance(message_id, int) else None
        if stored is None:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return snapshot(stored.data)

    def _admit(self, chat: Chat, p: Params) -> None:
        """Apply the configured flood limits; raises 429 with retry_after when exceeded."""
        paid = p.opt_bool("allow_paid_broadcast")
        limits: list[Bucket | SlidingWindow] = []
        window = self._paid_window if paid else self._global_window
        if window is not None:
            limits.append(window)
        rate = self._group_rate if chat.type != "private" and self._group_rate else None
        rate = rate or self._per_chat_rate
        if rate:
            bucket = self._chat_buckets.get(chat.id)
            if bucket is None:
                bucket = Bucket(rate, self._per_chat_burst or 1.0)
                self._chat_buckets[chat.id] = bucket
            limits.append(bucket)
        wait = max((limit.wait_time() for limit in limits), default=0.0)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        for limit in limits:
            limit.take()
        if paid:
            self.paid_broadcast_count += 1

    # ---------------------------------------------------------------- text helpers

    def _format(
        self,
        text: str,
        parse_mode: str | None,
        explicit: Any,
        *,
        entities_name: str,
    ) -> tuple[str, list[JSON]]:
        """Apply parse_mode or explicit entities, trim, and add auto-detected entities."""
        mode = (parse_mode or "").strip()
        if mode and explicit is None:
            lowered = mode.lower()
            if lowered == "html":
                text, entities = parse_html(text, strict=self.strict_html)
            elif lowered == "markdownv2":
                text, entities = parse_markdown_v2(text)
            elif lowered == "markdown":
                text, entities = parse_markdown(text)
            else:
                raise bad_request("unsupported parse_mode")
        elif explicit is not None:
            if not isinstance(explicit, list) or not all(
                isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in explicit
            ):
                raise bad_request(f"can't parse {entities_name} JSON object")
            entities = [dict(e) for e in explicit if e["length"] > 0]
        else:
            entities = []
        text, entities = trim_text(text, entities)
        entities = entities + detect_entities(text, entities)
        return text, sort_entities(entities)

    def _text_content(self, p: Params) -> JSON:
        raw = p.opt_str("text") or ""
        text, entities = self._format(
            raw, p.opt_str("parse_mode"), p.opt_json("entities"), entities_name="entities"
        )
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        return content

    def _caption_content(self, p: Params) -> JSON:
        raw = p.opt_str("caption")
        if raw is None:
            return {}
        caption, entities = self._format(
            raw,
            p.opt_str("parse_mode"),
            p.opt_json("caption_entities"),
            entities_name="caption_entities",
        )
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        content: JSON = {}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    def _markup(self, p: Params, *, inline_only: bool = False) -> JSON | None:
        markup = p.opt_json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        markup = validate_reply_markup(markup)
        if inline_only and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        return markup

    # ---------------------------------------------------------------- storing messages

    def _new_message(
        self,
        chat: Chat,
        sender: JSON,
        content: JSON,
        *,
        from_bot: bool,
        thread_id: int | None = None,
        reply_to: JSON | None = None,
        markup: JSON | None = None,
        protect: bool = False,
        service: bool = False,
    ) -> JSON:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JSON = {
            "message_id": message_id,
            "from": sender,
            "chat": chat.as_dict(),
            "date": unix_now(),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            root = chat.messages.get(thread_id)
            if reply_to is None and root is not None and thread_id != message_id:
                # Real forum quirk: topic messages "reply" to the topic's service message.
                reply_to = snapshot(root.data)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(content)
        if protect:
            message["has_protected_content"] = True
        if markup is not None:
            if markup.get("inline_keyboard"):
                message["reply_markup"] = markup  # only inline keyboards live on a message
            elif "keyboard" in markup:
                chat.keyboard = markup
            elif "remove_keyboard" in markup:
                chat.keyboard = None
            elif "force_reply" in markup:
                chat.force_replies[message_id] = markup
        chat.messages[message_id] = StoredMessage(message, from_bot=from_bot, service=service)
        if from_bot and not service:
            self.sent_count += 1
        self._notify()
        return message

    async def _send(
        self, p: Params, build: Callable[[], JSON], *, allow_reply_markup: bool = True
    ) -> JSON:
        """Common path of every send* method: validate, rate-limit, store, return Message.
        ``build`` makes (and validates) the content only once the chat is known to exist and to
        accept messages, so those errors come first."""
        chat = self._chat(p)
        self._check_can_send(chat)
        content = build()
        markup = self._markup(p) if allow_reply_markup else None
        thread_id = self._thread(chat, p)
        reply_to = self._reply_target(chat, p)
        self._admit(chat, p)
        message = self._new_message(
            chat,
            self.bot_user,
            content,
            from_bot=True,
            thread_id=thread_id,
            reply_to=reply_to,
            markup=markup,
            protect=p.opt_bool("protect_content"),
        )
        return copy.deepcopy(message)
