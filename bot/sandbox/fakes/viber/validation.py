"""Validation of message bodies and keyboards as the Viber API checks them."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable
from typing import Any

from bot.sandbox.fakes.viber.protocol import (
    BAD_DATA,
    BUTTON_ACTION_TYPES,
    FORBIDDEN_FILE_EXTENSIONS,
    MAX_BUTTON_TEXT,
    MAX_SENDER_NAME,
    MAX_TEXT,
    MAX_TRACKING_DATA,
    MESSAGE_TYPES,
    MISSING_DATA,
    JSONDict,
    ViberApiError,
)


def is_int(value: Any) -> bool:
    # bool is an int subclass, but JSON true is not a number to Viber.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urllib.parse.urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _require(obj: JSONDict, key: str, where: str) -> Any:
    value = obj.get(key)
    if value is None or value == "":
        raise ViberApiError(MISSING_DATA, f"{where}{key} is missing")
    return value


def _check_str(value: Any, what: str, max_len: int | None = None) -> str:
    if not isinstance(value, str):
        raise ViberApiError(BAD_DATA, f"{what} must be a string")
    if max_len is not None and len(value) > max_len:
        raise ViberApiError(BAD_DATA, f"{what} longer than {max_len} characters")
    return value


def _check_int_range(obj: JSONDict, key: str, lo: int, hi: int, where: str) -> None:
    if key in obj and not (is_int(obj[key]) and lo <= obj[key] <= hi):
        raise ViberApiError(BAD_DATA, f"{where}{key} must be an integer {lo}..{hi}")


def _check_choice(obj: JSONDict, key: str, choices: frozenset[str], where: str) -> None:
    if key in obj and obj[key] not in choices:
        raise ViberApiError(BAD_DATA, f"{where}{key} must be one of {sorted(choices)}")


def _check_media(body: JSONDict, key: str = "media", max_len: int = 2000) -> None:
    media = _require(body, key, "")
    _check_str(media, key, max_len)
    if not _is_http_url(media):
        raise ViberApiError(BAD_DATA, f"{key} must be an http(s) URL")


def _validate_buttons(buttons: Any, where: str, max_rows: int) -> None:
    if not isinstance(buttons, list) or not buttons:
        raise ViberApiError(BAD_DATA, f"{where}Buttons must be a non-empty list")
    for index, button in enumerate(buttons):
        at = f"{where}Buttons[{index}]."
        if not isinstance(button, dict):
            raise ViberApiError(BAD_DATA, f"{at[:-1]} must be an object")
        if "ActionBody" not in button or button["ActionBody"] is None:
            raise ViberApiError(BAD_DATA, f"{at}ActionBody is required")
        _check_str(button["ActionBody"], f"{at}ActionBody")
        _check_choice(button, "ActionType", BUTTON_ACTION_TYPES, at)
        _check_int_range(button, "Columns", 1, 6, at)
        _check_int_range(button, "Rows", 1, max_rows, at)
        if "Text" in button:
            _check_str(button["Text"], f"{at}Text", MAX_BUTTON_TEXT)
        _check_choice(button, "TextSize", frozenset({"small", "regular", "large"}), at)
        _check_choice(button, "TextVAlign", frozenset({"top", "middle", "bottom"}), at)
        _check_choice(button, "TextHAlign", frozenset({"left", "center", "right"}), at)
        _check_int_range(button, "TextOpacity", 0, 100, at)
        if "Silent" in button and not isinstance(button["Silent"], bool):
            raise ViberApiError(BAD_DATA, f"{at}Silent must be a boolean")


def validate_keyboard(keyboard: Any) -> None:
    """Raise ViberApiError(3) if the keyboard object breaks Viber's keyboard schema."""
    if not isinstance(keyboard, dict):
        raise ViberApiError(BAD_DATA, "keyboard must be an object")
    # The keyboards guide's own examples omit "Type", so only a wrong value is an error.
    if "Type" in keyboard and keyboard["Type"] != "keyboard":
        raise ViberApiError(BAD_DATA, 'keyboard.Type must be "keyboard"')
    _validate_buttons(keyboard.get("Buttons"), "keyboard.", max_rows=2)
    if "DefaultHeight" in keyboard and not isinstance(keyboard["DefaultHeight"], bool):
        raise ViberApiError(BAD_DATA, "keyboard.DefaultHeight must be a boolean")
    _check_int_range(keyboard, "CustomDefaultHeight", 40, 70, "keyboard.")
    _check_int_range(keyboard, "HeightScale", 20, 100, "keyboard.")
    _check_int_range(keyboard, "ButtonsGroupColumns", 1, 6, "keyboard.")
    _check_int_range(keyboard, "ButtonsGroupRows", 1, 7, "keyboard.")
    _check_choice(
        keyboard, "InputFieldState", frozenset({"regular", "minimized", "hidden"}), "keyboard."
    )


def validate_message(body: JSONDict, *, check_keyboard: bool = True) -> None:
    """Validate the message part of send_message/broadcast_message/post/welcome bodies.

    Missing mandatory data -> status 4, present-but-wrong data -> status 3 (Viber's
    "missingData" vs "badData").  Receiver fields are checked by the caller.
    """
    _check_envelope(body)
    keyboard = body.get("keyboard")
    if keyboard is not None and check_keyboard:
        validate_keyboard(keyboard)

    mtype = body.get("type")
    if mtype is None:
        # "The keyboard can be attached to any message type or sent on its own."
        if keyboard is not None:
            return
        raise ViberApiError(MISSING_DATA, "type is missing")
    if mtype not in MESSAGE_TYPES:
        raise ViberApiError(BAD_DATA, f"unknown message type {mtype!r}")
    check = _TYPE_CHECKS.get(mtype)
    if check is not None:
        check(body)


def _check_envelope(body: JSONDict) -> None:
    """The fields every message has: sender, tracking data, minimal API version."""
    sender = body.get("sender")
    if sender is None:
        raise ViberApiError(MISSING_DATA, "sender is missing")
    if not isinstance(sender, dict):
        raise ViberApiError(BAD_DATA, "sender must be an object")
    _check_str(_require(sender, "name", "sender."), "sender.name", MAX_SENDER_NAME)
    if sender.get("avatar") is not None:
        _check_str(sender["avatar"], "sender.avatar")
    if body.get("tracking_data") is not None:
        _check_str(body["tracking_data"], "tracking_data", MAX_TRACKING_DATA)
    if "min_api_version" in body and not (
        is_int(body["min_api_version"]) and body["min_api_version"] >= 1
    ):
        raise ViberApiError(BAD_DATA, "min_api_version must be a positive integer")


def _check_text(body: JSONDict) -> None:
    _check_str(_require(body, "text", ""), "text", MAX_TEXT)


def _check_picture(body: JSONDict) -> None:
    _check_media(body)
    if body.get("text") is not None:
        _check_str(body["text"], "text", 768)
    if body.get("thumbnail") is not None:
        _check_str(body["thumbnail"], "thumbnail")


def _check_video(body: JSONDict) -> None:
    _check_media(body)
    if not is_int(_require(body, "size", "")):
        raise ViberApiError(BAD_DATA, "size must be an integer")
    _check_int_range(body, "duration", 0, 180, "")


def _check_file(body: JSONDict) -> None:
    _check_media(body)
    size = _require(body, "size", "")
    if not (is_int(size) and 0 <= size <= 50 * 1024 * 1024):
        raise ViberApiError(BAD_DATA, "size must be an integer up to 50 MB")
    name = _check_str(_require(body, "file_name", ""), "file_name", 256)
    if name.rsplit(".", 1)[-1].lower() in FORBIDDEN_FILE_EXTENSIONS and "." in name:
        raise ViberApiError(BAD_DATA, "forbidden file type")


def _check_contact(body: JSONDict) -> None:
    contact = _require(body, "contact", "")
    if not isinstance(contact, dict):
        raise ViberApiError(BAD_DATA, "contact must be an object")
    _check_str(_require(contact, "name", "contact."), "contact.name", 28)
    _check_str(_require(contact, "phone_number", "contact."), "contact.phone_number", 18)


def _check_location(body: JSONDict) -> None:
    location = _require(body, "location", "")
    if not isinstance(location, dict):
        raise ViberApiError(BAD_DATA, "location must be an object")
    lat = location.get("lat")
    lon = location.get("lon")
    if lat is None or lon is None:
        raise ViberApiError(MISSING_DATA, "location.lat/lon are missing")
    if not (_is_number(lat) and _is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ViberApiError(BAD_DATA, "location.lat/lon out of range")


def _check_url(body: JSONDict) -> None:
    _check_media(body, max_len=2000)


def _check_sticker(body: JSONDict) -> None:
    if not is_int(_require(body, "sticker_id", "")):
        raise ViberApiError(BAD_DATA, "sticker_id must be an integer")


def _check_rich_media(body: JSONDict) -> None:
    rich = _require(body, "rich_media", "")
    if not isinstance(rich, dict):
        raise ViberApiError(BAD_DATA, "rich_media must be an object")
    _validate_buttons(rich.get("Buttons"), "rich_media.", max_rows=7)
    _check_int_range(rich, "ButtonsGroupColumns", 1, 6, "rich_media.")
    _check_int_range(rich, "ButtonsGroupRows", 1, 7, "rich_media.")


# What each message type must carry, beyond the envelope.
_TYPE_CHECKS: dict[str, Callable[[JSONDict], None]] = {
    "text": _check_text,
    "picture": _check_picture,
    "video": _check_video,
    "file": _check_file,
    "contact": _check_contact,
    "location": _check_location,
    "url": _check_url,
    "sticker": _check_sticker,
    "rich_media": _check_rich_media,
}


def substitute(value: Any, replacements: list[tuple[str, str]]) -> Any:
    """Replace broadcast place holders in every string of a JSON value."""
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [substitute(item, replacements) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, replacements) for key, item in value.items()}
    return value
