"""Validation of reply_markup: inline and reply keyboards as the Bot API accepts them."""

from __future__ import annotations

from typing import Any

from bot.sandbox.fakes.telegram.constants import JSON, MAX_CALLBACK_DATA_BYTES
from bot.sandbox.fakes.telegram.markup.text import normalize_url
from bot.sandbox.fakes.telegram.records import bad_request

# --------------------------------------------------------------------------------------
# Reply markup validation
# --------------------------------------------------------------------------------------

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def validate_reply_markup(markup: Any) -> JSON:
    """Validate a reply_markup object and return it (the server rejects bad shapes with 400)."""
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup)
    elif "keyboard" in markup:
        _validate_reply_keyboard(markup)
    elif "remove_keyboard" in markup:
        if markup["remove_keyboard"] is not True:
            raise bad_request(
                'can\'t parse ReplyKeyboardRemove: field "remove_keyboard" must be true'
            )
    elif "force_reply" in markup:
        if markup["force_reply"] is not True:
            raise bad_request('can\'t parse ForceReply: field "force_reply" must be true')
    else:
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _rows(markup: JSON, field: str, owner: str, limit: int) -> list[list[Any]]:
    """The button rows of a keyboard: an Array of Arrays of at most ``limit`` buttons."""
    rows = markup[field]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'field "{field}" of the {owner} must be an Array of Arrays')
    if sum(len(row) for row in rows) > limit:
        raise bad_request("reply markup is too long")
    return rows


def _validate_inline_keyboard(markup: JSON) -> None:
    for row in _rows(markup, "inline_keyboard", "InlineKeyboardMarkup", 100):
        for button in row:
            _validate_inline_button(button)


def _validate_reply_keyboard(markup: JSON) -> None:
    for row in _rows(markup, "keyboard", "ReplyKeyboardMarkup", 300):
        for button in row:
            _validate_keyboard_button(button)
    placeholder = markup.get("input_field_placeholder")
    if placeholder is not None and (not isinstance(placeholder, str) or len(placeholder) > 64):
        raise bad_request("can't parse reply keyboard markup: invalid input_field_placeholder")


def _validate_keyboard_button(button: Any) -> None:
    text = button if isinstance(button, str) else None
    if isinstance(button, dict):
        text = button.get("text")
    if not isinstance(text, str):
        raise bad_request(
            "can't parse keyboard button: KeyboardButton must be a String or an Object"
        )
    if not text.strip():
        raise bad_request("can't parse keyboard button: Text must be non-empty")


def _validate_inline_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if not actions:
        raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(prefix + "InlineKeyboardButton must have exactly one optional field")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or normalize_url(url) is None:
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
