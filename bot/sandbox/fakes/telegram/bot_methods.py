"""Bot-level methods: getMe, logOut, close and the command lists."""

from __future__ import annotations

import copy
import math
import re
import time
from typing import Any

from bot.sandbox.fakes.telegram.constants import JSON, SCOPE_TYPES
from bot.sandbox.fakes.telegram.params import Params
from bot.sandbox.fakes.telegram.records import ApiError, bad_request
from bot.sandbox.fakes.telegram.updates import UpdateDelivery


class BotMethods(UpdateDelivery):
    """Bot-level methods: getMe, logOut, close and the command lists."""

    # ---------------------------------------------------------------- bot-level methods

    async def _m_get_me(self, _p: Params) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_log_out(self, _p: Params) -> Any:
        self.logged_out = True
        return True

    async def _m_close(self, _p: Params) -> Any:
        # Documented: "The method will return error 429 in the first 10 minutes after the
        # bot is launched."
        remaining = self.close_cooldown - (time.monotonic() - self._started_at)
        if remaining > 0:
            retry = max(1, math.ceil(remaining))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        return True

    # ---------------------------------------------------------------- commands

    def _scope_key(self, scope: Any) -> str:
        if scope is None:
            return "default"
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
        if kind in {"chat", "chat_administrators", "chat_member"}:
            chat = self._chat_from_value(scope.get("chat_id"), "chat_id")
            if kind == "chat_member":
                user_id = scope.get("user_id")
                if not isinstance(user_id, int) or user_id not in self._users:
                    raise bad_request("user not found")
                return f"chat_member:{chat.id}:{user_id}"
            return f"{kind}:{chat.id}"
        return kind

    @staticmethod
    def _language(p: Params) -> str:
        code = p.opt_str("language_code") or ""
        if code and not re.fullmatch(r"[a-z]{2}", code):
            raise bad_request("invalid language code specified")
        return code

    async def _m_set_my_commands(self, p: Params) -> Any:
        commands = p.opt_json("commands")
        if commands is None:
            raise bad_request('parameter "commands" is required')
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        clean: list[JSON] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        key = (self._scope_key(p.opt_json("scope")), self._language(p))
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, p: Params) -> Any:
        key = (self._scope_key(p.opt_json("scope")), self._language(p))
        return copy.deepcopy(self._commands.get(key, []))

    async def _m_delete_my_commands(self, p: Params) -> Any:
        key = (self._scope_key(p.opt_json("scope")), self._language(p))
        self._commands.pop(key, None)
        return True

    @property
    def commands(self) -> dict[tuple[str, str], list[JSON]]:
        """Stored commands keyed by (scope key, language_code); see ``get_commands``."""
        return copy.deepcopy(self._commands)

    def get_commands(self, scope: str = "default", language_code: str = "") -> list[JSON]:
        """Commands stored for a scope key ("default", "all_private_chats", "chat:<id>",
        "chat_administrators:<id>", "chat_member:<chat>:<user>") and language."""
        return copy.deepcopy(self._commands.get((scope, language_code), []))
