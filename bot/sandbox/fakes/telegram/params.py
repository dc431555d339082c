"""Request parameters: form and JSON values normalized to the types the Bot API documents."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.records import UploadedFile, bad_request

# --------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------

_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "max_connections",
        "cache_time",
        "icon_color",
        "reply_to_message_id",
        "until_date",
        "duration",
        "width",
        "height",
        "live_period",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_paid_broadcast",
        "show_caption_above_media",
        "disable_content_type_detection",
        "has_spoiler",
        "only_if_banned",
    }
)
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "reply_parameters",
        "link_preview_options",
        "media",
        "message_ids",
    }
)


def normalize_params(raw: Mapping[str, Any], files: Mapping[str, UploadedFile]) -> JSON:
    """Turn wire values (all strings in forms) into the types the API declares.

    Values that do not convert are left as they are so the method handler can
    report the error the real server would.
    """
    params: JSON = {}
    attached: set[str] = set()
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _INT_FIELDS and re.fullmatch(r"-?\d+", value.strip()):
                value = int(value)
            elif key in _BOOL_FIELDS and value.lower() in {"true", "false", "1", "0"}:
                value = value.lower() in {"true", "1"}
            elif key in _JSON_FIELDS:
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            elif value.startswith("attach://") and value[len("attach://") :] in files:
                name = value[len("attach://") :]
                attached.add(name)
                value = files[name]
        params[key] = value
    for name, upload in files.items():
        if name not in attached and name not in params:
            params[name] = upload
    return params


class Params:
    """Typed access to normalized parameters, raising the server's 400 errors."""

    def __init__(self, values: JSON) -> None:
        self.values = values

    def present(self, name: str) -> bool:
        value = self.values.get(name)
        return value is not None and value != ""

    def opt_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list, UploadedFile)):
            raise bad_request(f"invalid {name} specified")
        return str(value)

    def opt_int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise bad_request(f'field "{name}" must be of type Integer')

    def req_int(self, name: str, missing: str) -> int:
        value = self.opt_int(name)
        if value is None:
            raise bad_request(missing)
        return value

    def opt_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
            return value.lower() in {"true", "1"}
        raise bad_request(f'field "{name}" must be of type Boolean')

    def opt_json(self, name: str, error: str | None = None) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise bad_request(error or f"can't parse {name} JSON object") from exc
        return value


Handler = Callable[[Params], Awaitable[Any]]
