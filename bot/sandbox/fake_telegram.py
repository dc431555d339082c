"""A fake Telegram Bot API server for tests.

``FakeTelegram`` listens on 127.0.0.1 over real HTTP and answers the way
https://api.telegram.org does, so the bot under test talks to it through its
normal HTTP client (aiogram's ``AiohttpSession`` pointed at ``base_url``)
instead of through mocks.  The goal is fidelity to the documented Bot API:
the same envelopes, the same HTTP status codes, the same error descriptions
for the mistakes a bot realistically makes (bad HTML, too-long text, blocked
users, stale callback queries, rate limits, webhook/polling conflicts).

Besides the HTTP side it offers a simulation API (users writing to the bot,
pressing buttons, blocking it) and an inspection API (what the bot sent, what
it called), see ``FakeTelegram``.

Known, deliberate deviations from the real server (kept because tests run
offline on 127.0.0.1):

* webhooks may be plain ``http://`` on any port;
* photos sent by URL are not downloaded, a placeholder photo is recorded;
* a bare ``&`` that does not start an entity is rejected in HTML mode (the
  documentation says it must be escaped; the real server is lenient), unless
  ``strict_html=False`` is passed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import math
import mimetypes
import random
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import BodyPartReader, MultipartReader, web

__all__ = [
    "ApiErrorRecord",
    "Call",
    "FakeTelegram",
    "SimUpdate",
    "UploadedFile",
    "WebhookDelivery",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
]

JSON = dict[str, Any]

# Text limits from https://core.telegram.org/bots/api (counted after entity parsing).
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_TEXT = 200
MAX_GETFILE_SIZE = 20 * 1024 * 1024
MAX_UPLOAD_SIZE = 50 * 1024 * 1024
# Files Telegram downloads itself, given by URL: photos up to 5 MB, other files up to 20 MB.
MAX_URL_PHOTO = 5 * 1024 * 1024
MAX_URL_FILE = 20 * 1024 * 1024
_URL_FILE_PARAMS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendAudio": "audio",
    "sendVideo": "video",
    "sendAnimation": "animation",
    "sendVoice": "voice",
    "sendVideoNote": "video_note",
}

ALL_UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Telegram only sends these when they are explicitly listed in allowed_updates.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
FORUM_ICON_COLORS = frozenset({7322096, 16766590, 13338331, 9367192, 16749490, 16478047})
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CALLBACK_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------------------
# Errors and small value types
# --------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer; the HTTP status always equals ``error_code`` like on the real server."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        out: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def _bad(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def _forbidden(message: str) -> ApiError:
    return ApiError(403, f"Forbidden: {message}")


def _entities_error(message: str) -> ApiError:
    return _bad(f"can't parse entities: {message}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part received in a multipart request."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


class Call(NamedTuple):
    """One API call as the server saw it; params are decoded (ints, bools, JSON objects)."""

    method: str
    params: JSON


@dataclass(frozen=True)
class ApiErrorRecord:
    """An API call that was answered with an error."""

    method: str
    params: JSON
    error_code: int
    description: str


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to POST an update to the webhook; ``status`` 0 means no HTTP answer."""

    update_id: int
    status: int
    error: str | None
    attempt: int


class SimUpdate(dict[str, Any]):
    """The Update a simulation method produced, plus what happened to it.

    It is a plain dict (the Update exactly as Telegram would send it) with two
    extra attributes, so tests can both inspect the update and check delivery:

    * ``status``: HTTP status the webhook answered (0 when it could not be
      reached or timed out), ``None`` when no webhook was set (the update waits
      for getUpdates) or the update was filtered out.
    * ``filtered``: True when the bot's ``allowed_updates`` excludes this update
      type, so Telegram would never have sent it.
    """

    def __init__(self, update: Mapping[str, Any]) -> None:
        super().__init__(update)
        self.status: int | None = None
        self.filtered = False


class _Described(NamedTuple):
    """A successful result that also carries a ``description`` (setWebhook does this)."""

    result: Any
    description: str


# --------------------------------------------------------------------------------------
# Text: UTF-16 helpers, entity parsers, auto-detected entities
# --------------------------------------------------------------------------------------

# TDLib treats only these as whitespace when trimming and parsing tags.
_WS = " \t\r\n\x0b\x0c"


def utf16_len(text: str) -> int:
    """Entity offsets and text limits are measured in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _char_u16(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


class _TextBuilder:
    """Accumulates parsed text while tracking the UTF-16 offset entities need."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.u16 += utf16_len(chunk)

    def text(self) -> str:
        return "".join(self.parts)


def _byte_offset(text: str, pos: int) -> int:
    # Error messages of the real parser report UTF-8 byte offsets.
    return len(text[:pos].encode("utf-8"))


def normalize_url(url: str) -> str | None:
    """Roughly what the server's link check does: accept and canonicalize, or reject."""
    url = url.strip()
    if not url or any(ch in url for ch in " \t\r\n"):
        return None
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):(//)?(.*)$", url)
    if match and (match.group(2) or match.group(1).lower() in {"tg", "mailto"}):
        scheme = match.group(1).lower()
        if scheme not in {"http", "https", "ftp", "tg", "ton", "mailto"}:
            return None
        rest = match.group(3)
        if scheme in {"http", "https", "ftp"}:
            if not rest or rest[0] in "/?#":
                return None
            if "/" not in rest and "?" not in rest and "#" not in rest:
                rest += "/"
        return f"{scheme}:{match.group(2) or ''}{rest}"
    if re.match(r"^[\w-]+(\.[\w-]+)*\.[A-Za-z]{2,}(:\d+)?([/?#]\S*)?$", url):
        return "http://" + (url if re.search(r"[/?#]", url) else url + "/")
    return None


_HTML_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_HTML_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{0,9});")
# The Bot API documents only these named entities (numeric ones are all allowed).
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``pos``; returns (character, consumed length) or None."""
    match = _HTML_ENTITY_RE.match(text, pos)
    if match is None:
        return None
    body = match.group(1)
    if body.startswith("#"):
        code = int(body[2:], 16) if body[1:2] in {"x", "X"} else int(body[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), match.end() - pos
    named = _HTML_NAMED.get(body)
    return (named, match.end() - pos) if named is not None else None


def parse_html(text: str, *, strict: bool = True) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML subset into (plain text, entities).

    Mirrors TDLib's parser, including its error messages (which the Bot API
    prefixes with ``can't parse entities:``).  With ``strict`` a bare ``&`` is an
    error too, as the documentation demands it be escaped.
    """
    out = _TextBuilder()
    stack: list[tuple[str, str, int]] = []  # (tag, argument, utf-16 start)
    entities: list[JSON] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.add(decoded[0])
                i += decoded[1]
                continue
            if strict:
                raise _entities_error(
                    f'Character "&" must be escaped as "&amp;" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
            out.add(ch)
            i += 1
            continue
        if ch != "<":
            out.add(ch)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            if not stack:
                raise _entities_error(
                    f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            i += 1
            name_start = i
            while i < n and text[i] not in _WS and text[i] != ">":
                i += 1
            end_name = text[name_start:i].lower()
            while i < n and text[i] in _WS:
                i += 1
            if i >= n or text[i] != ">":
                raise _entities_error(
                    f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            i += 1
            tag, argument, start = stack.pop()
            if end_name and end_name != tag:
                raise _entities_error(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{tag}>", found "</{end_name}>"'
                )
            _close_html_entity(entities, tag, argument, start, out.u16)
            continue

        name_start = i
        while i < n and text[i] not in _WS and text[i] != ">":
            i += 1
        if i >= n:
            raise _entities_error(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        tag = text[name_start:i].lower()
        if tag not in _HTML_TAG_TYPES:
            raise _entities_error(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        argument = ""
        while True:
            while i < n and text[i] in _WS:
                i += 1
            if i >= n:
                raise _entities_error(
                    f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                )
            if text[i] == ">":
                break
            attr_start = i
            while i < n and text[i] not in _WS and text[i] not in "=>":
                i += 1
            attribute = text[attr_start:i].lower()
            if not attribute:
                raise _entities_error(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{_byte_offset(text, begin)}"
                )
            while i < n and text[i] in _WS:
                i += 1
            if i >= n or text[i] != "=":
                # <blockquote expandable> is the one value-less attribute Telegram knows.
                if tag == "blockquote" and attribute == "expandable" and i < n:
                    argument = "expandable"
                    continue
                raise _entities_error(
                    f"Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            i += 1
            while i < n and text[i] in _WS:
                i += 1
            if i >= n:
                raise _entities_error(
                    f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            if text[i] not in "'\"":
                value_start = i
                while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                    i += 1
                value = text[value_start:i].lower()
                if i >= n or (text[i] not in _WS and text[i] != ">"):
                    raise _entities_error(
                        f"Unexpected end of name token at byte offset "
                        f"{_byte_offset(text, value_start)}"
                    )
            else:
                quote = text[i]
                i += 1
                chunks: list[str] = []
                while i < n and text[i] != quote:
                    if text[i] == "&":
                        decoded = _decode_html_entity(text, i)
                        if decoded is not None:
                            chunks.append(decoded[0])
                            i += decoded[1]
                            continue
                    chunks.append(text[i])
                    i += 1
                if i >= n:
                    raise _entities_error(
                        f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                    )
                i += 1
                value = "".join(chunks)
            if tag == "a" and attribute == "href":
                argument = value
            elif tag == "code" and attribute == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
        i += 1  # the closing ">"
        if tag == "span" and argument != "spoiler":
            raise _entities_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        stack.append((tag, argument, out.u16))
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            # A language only means something on <pre><code class=...>, merged above.
            entity.pop("language", None)
    return out.text(), entities


def _close_html_entity(entities: list[JSON], tag: str, argument: str, start: int, end: int) -> None:
    length = end - start
    if length <= 0:
        return  # empty entities are dropped, as the real parser does
    entity: JSON = {"type": _HTML_TAG_TYPES[tag], "offset": start, "length": length}
    if tag == "a":
        url = normalize_url(argument) if argument else None
        if url is None:
            return  # an invalid or missing href leaves plain text, not an error
        entity["url"] = url
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == start
            and last["length"] == length
        ):
            entities.pop()
            if last.get("language"):
                entity["language"] = last["language"]
    elif tag == "code" and argument:
        entity["language"] = argument
    elif tag == "blockquote" and argument == "expandable":
        entity["type"] = "expandable_blockquote"
    entities.append(entity)


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 the way TDLib does (same reserved characters and errors)."""
    out = _TextBuilder()
    entities: list[JSON] = []
    # (type, argument, utf-16 start, byte offset, start index in out.parts)
    stack: list[tuple[str, str, int, int, int]] = []
    quote_start: int | None = None
    line_end_u16 = 0
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else ""

    i = 0
    line_start = True
    while i < n:
        ch = text[i]
        in_code = bool(stack) and stack[-1][0] in {"code", "pre"}
        if line_start and not in_code:
            line_start = False
            if ch == ">":
                if quote_start is None:
                    quote_start = out.u16
                i += 1
                continue
            if quote_start is not None:
                _add_entity(entities, "blockquote", quote_start, line_end_u16)
                quote_start = None
        if ch == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        reserved = "`" if in_code else _MDV2_RESERVED
        if ch not in reserved:
            if ch == "\n":
                line_end_u16 = out.u16
                line_start = True
            out.add(ch)
            i += 1
            continue
        closing = False
        if stack:
            top = stack[-1][0]
            closing = (
                (top == "bold" and ch == "*")
                or (top == "italic" and ch == "_" and at(i + 1) != "_")
                or (top == "code" and ch == "`")
                or (top == "pre" and text[i : i + 3] == "```")
                or (top == "text_link" and ch == "]")
                or (top == "underline" and text[i : i + 2] == "__")
                or (top == "strikethrough" and ch == "~")
                or (top == "spoiler" and text[i : i + 2] == "||")
            )
        if not closing:
            byte_offset = _byte_offset(text, i)
            argument = ""
            if ch == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif ch == "*":
                kind = "bold"
            elif ch == "~":
                kind = "strikethrough"
            elif ch == "|" and at(i + 1) == "|":
                kind = "spoiler"
                i += 1
            elif ch == "[":
                kind = "text_link"
            elif ch == "`":
                if text[i : i + 3] == "```":
                    kind = "pre"
                    i += 3
                    lang_end = i
                    while lang_end < n and text[lang_end] not in _WS and text[lang_end] != "`":
                        lang_end += 1
                    if lang_end != i and lang_end < n and text[lang_end] != "`":
                        argument = text[i:lang_end]
                        i = lang_end
                    if at(i) in {"\n", "\r"}:
                        i += 2 if at(i + 1) in {"\n", "\r"} and at(i + 1) != at(i) else 1
                    i -= 1
                else:
                    kind = "code"
            else:
                raise _entities_error(
                    f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
                )
            stack.append((kind, argument, out.u16, byte_offset, len(out.parts)))
            i += 1
            continue

        kind, argument, start, _byte, parts_index = stack.pop()
        skip = out.u16 == start
        if kind in {"underline", "spoiler"}:
            i += 1
        elif kind == "pre":
            i += 2
        elif kind == "text_link":
            if at(i + 1) != "(":
                url_text = "".join(out.parts[parts_index:])
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise _entities_error(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url_text = "".join(chars)
            url = normalize_url(url_text)
            if url is None:
                skip = True
            else:
                argument = url
        if not skip:
            entity: JSON = {"type": kind, "offset": start, "length": out.u16 - start}
            if kind == "text_link":
                entity["url"] = argument
            elif kind == "pre" and argument:
                entity["language"] = argument
            entities.append(entity)
        i += 1
    if stack:
        kind, _arg, _start, byte_offset, _idx = stack[-1]
        raise _entities_error(
            f"Can't find end of {_MDV2_TYPE_NAMES[kind]} entity at byte offset {byte_offset}"
        )
    if quote_start is not None:
        _add_entity(entities, "blockquote", quote_start, out.u16)
    return out.text(), entities


def _add_entity(entities: list[JSON], kind: str, start: int, end: int) -> None:
    if end > start:
        entities.append({"type": kind, "offset": start, "length": end - start})


def parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Parse legacy ``Markdown`` (only * _ ` ``` and [text](url)), as TDLib does."""
    out = _TextBuilder()
    entities: list[JSON] = []
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else ""

    i = 0
    while i < n:
        ch = text[i]
        if ch == "\\" and at(i + 1) in {"_", "*", "`", "["}:
            out.add(text[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        begin = i
        end_char = "]" if ch == "[" else ch
        is_pre = False
        language = ""
        i += 1
        if ch == "`" and text[i : i + 2] == "``":
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and text[lang_end] not in _WS and text[lang_end] != "`":
                lang_end += 1
            if lang_end != i and lang_end < n and text[lang_end] != "`":
                language = text[i:lang_end]
                i = lang_end
            if at(i) in {"\n", "\r"}:
                i += 2 if at(i + 1) in {"\n", "\r"} and at(i + 1) != at(i) else 1
        start = out.u16
        while i < n and (text[i] != end_char or (is_pre and text[i + 1 : i + 3] != "``")):
            out.add(text[i])
            i += 1
        if i >= n:
            raise _entities_error(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        length = out.u16 - start
        if ch == "[":
            if at(i + 1) == "(":
                i += 2
                url_start = i
                while i < n and text[i] != ")":
                    i += 1
                url_text = text[url_start:i]
            else:
                url_text = text[begin + 1 : i]
            url = normalize_url(url_text)
            if length and url is not None:
                entities.append(
                    {"type": "text_link", "offset": start, "length": length, "url": url}
                )
        elif length:
            kind = {"_": "italic", "*": "bold"}.get(ch, "pre" if is_pre else "code")
            entity: JSON = {"type": kind, "offset": start, "length": length}
            if language:
                entity["language"] = language
            entities.append(entity)
        if is_pre:
            i += 2
        i += 1
    return out.text(), entities


# Entities Telegram detects in any text on its own (what clients show as links).
_AUTO_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")),
    ("url", re.compile(r"(?<![\w@/])(?:https?://|www\.)[^\s<>\"]+")),
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)
# Auto-detected links never overlap these explicit entities.
_OPAQUE_ENTITIES = frozenset(
    {"code", "pre", "text_link", "text_mention", "url", "email", "mention", "bot_command"}
)


def detect_entities(text: str, existing: Iterable[JSON] = ()) -> list[JSON]:
    """Find url/email/mention/hashtag/bot_command entities like the server does."""
    prefix = [0]
    for ch in text:
        prefix.append(prefix[-1] + _char_u16(ch))
    taken = [
        (e["offset"], e["offset"] + e["length"]) for e in existing if e["type"] in _OPAQUE_ENTITIES
    ]
    found: list[JSON] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.start(), match.end()
            if kind == "url":
                while end > start and text[end - 1] in ".,;:!?)'\"":
                    end -= 1
            u_start, u_end = prefix[start], prefix[end]
            if u_end <= u_start or any(u_start < b and a < u_end for a, b in taken):
                continue
            taken.append((u_start, u_end))
            found.append({"type": kind, "offset": u_start, "length": u_end - u_start})
    return found


def _sort_entities(entities: list[JSON]) -> list[JSON]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip leading/trailing whitespace like the server, shifting entities along."""
    stripped_left = text.lstrip(_WS)
    lead = utf16_len(text[: len(text) - len(stripped_left)])
    result = stripped_left.rstrip(_WS)
    total = utf16_len(result)
    fixed: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return result, fixed


# --------------------------------------------------------------------------------------
# Files: PNG/JPEG/GIF size sniffing and a tiny PNG encoder for simulated photos
# --------------------------------------------------------------------------------------


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG/GIF/JPEG/WEBP/BMP image, or None when it is not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in {b"GIF87a", b"GIF89a"} and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(int(width)), abs(int(height))
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 512, 512  # good enough: only the format matters for acceptance
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                return None
            marker = data[pos + 1]
            if marker in {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE}:
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return int(width), int(height)
            (segment,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            pos += 2 + int(segment)
        return None
    return None


def make_png(width: int = 1, height: int = 1) -> bytes:
    """A valid grey PNG of the given size (for simulated photos and for tests)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    row = b"\x00" + b"\x80" * width
    raw = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


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


def _normalize_params(raw: Mapping[str, Any], files: Mapping[str, UploadedFile]) -> JSON:
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


class _Params:
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
            raise _bad(f"invalid {name} specified")
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
        raise _bad(f'field "{name}" must be of type Integer')

    def req_int(self, name: str, missing: str) -> int:
        value = self.opt_int(name)
        if value is None:
            raise _bad(missing)
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
        raise _bad(f'field "{name}" must be of type Boolean')

    def opt_json(self, name: str, error: str | None = None) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise _bad(error or f"can't parse {name} JSON object") from exc
        return value


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


def _validate_reply_markup(markup: Any) -> JSON:
    """Validate a reply_markup object and return it (the server rejects bad shapes with 400)."""
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        if sum(len(row) for row in rows) > 100:
            raise _bad("reply markup is too long")
        for row in rows:
            for button in row:
                _validate_inline_button(button)
        return markup
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
        if sum(len(row) for row in rows) > 300:
            raise _bad("reply markup is too long")
        for row in rows:
            for button in row:
                text = button if isinstance(button, str) else None
                if isinstance(button, dict):
                    text = button.get("text")
                if not isinstance(text, str):
                    raise _bad(
                        "can't parse keyboard button: KeyboardButton must be a String or an Object"
                    )
                if not text.strip():
                    raise _bad("can't parse keyboard button: Text must be non-empty")
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None and (not isinstance(placeholder, str) or len(placeholder) > 64):
            raise _bad("can't parse reply keyboard markup: invalid input_field_placeholder")
        return markup
    if "remove_keyboard" in markup:
        if markup["remove_keyboard"] is not True:
            raise _bad('can\'t parse ReplyKeyboardRemove: field "remove_keyboard" must be true')
        return markup
    if "force_reply" in markup:
        if markup["force_reply"] is not True:
            raise _bad('can\'t parse ForceReply: field "force_reply" must be true')
        return markup
    raise _bad("can't parse reply keyboard markup JSON object")


def _validate_inline_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise _bad(prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise _bad(prefix + 'Field "text" must be of type String')
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if not actions:
        raise _bad(prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _bad(prefix + "InlineKeyboardButton must have exactly one optional field")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise _bad("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or normalize_url(url) is None:
            raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


# --------------------------------------------------------------------------------------
# Rate limiting
# --------------------------------------------------------------------------------------


class _Bucket:
    """A token bucket: ``rate`` tokens per second up to ``capacity``."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class _Window:
    """At most ``limit`` admitted sends in any interval of ``window`` seconds — a true sliding
    window, as strict as Telegram's counting may be: a burst at the end of one second and the
    start of the next is refused (fixed one-second buckets would admit it), and so is any burst
    after a pause that would put more than ``limit`` sends into one second."""

    def __init__(self, limit: float, window: float = 1.0) -> None:
        self.limit = max(1, math.floor(limit))
        self.window = window
        self.times: deque[float] = deque()

    def wait_time(self) -> float:
        now = time.monotonic()
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        # Until the oldest admitted send leaves the window.
        return max(1e-6, self.times[0] + self.window - now)

    def take(self) -> None:
        self.times.append(time.monotonic())


# --------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------


@dataclass
class _User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    hide_forwards: bool = False
    blocked: bool = False
    deactivated: bool = False
    seen: bool = False  # the bot has seen this user somewhere (private or group)

    def as_dict(self) -> JSON:
        out: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            out["last_name"] = self.last_name
        if self.username:
            out["username"] = self.username
        if self.language_code:
            out["language_code"] = self.language_code
        if self.is_premium:
            out["is_premium"] = True
        return out

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class _Stored:
    data: JSON
    from_bot: bool
    service: bool = False


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    user: _User | None = None
    next_message_id: int = 1
    messages: dict[int, _Stored] = field(default_factory=dict)
    topics: dict[int, JSON] = field(default_factory=dict)
    closed_topics: set[int] = field(default_factory=set)
    keyboard: JSON | None = None
    bot_status: str = "member"
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)

    def as_dict(self) -> JSON:
        if self.user is not None:
            out: JSON = {"id": self.id, "first_name": self.user.first_name}
            if self.user.last_name:
                out["last_name"] = self.user.last_name
            if self.user.username:
                out["username"] = self.user.username
            out["type"] = "private"
            return out
        out = {"id": self.id, "title": self.title or "", "type": self.type}
        if self.username:
            out["username"] = self.username
        if self.is_forum:
            out["is_forum"] = True
        return out


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    path: str
    meta: JSON  # the API object (PhotoSize, Document, ...)
    photo_set: list[JSON] | None = None  # all sizes when this file is a photo


@dataclass(eq=False)  # identity semantics: the same update may be queued twice
class _Pending:
    update: JSON
    attempts: int = 0
    in_flight: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _CallbackQuery:
    created: float
    answered: bool = False


def _now() -> int:
    return int(time.time())


def _update_type(update: Mapping[str, Any]) -> str:
    for key in update:
        if key != "update_id":
            return key
    return ""


def _snapshot(message: JSON) -> JSON:
    # Telegram never nests reply_to_message more than one level deep.
    out = copy.deepcopy(message)
    out.pop("reply_to_message", None)
    return out


_Handler = Callable[[_Params], Awaitable[Any]]
_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
# Every Bot API method name (as of Bot API 9.x); those without a handler answer 501.
_REAL_METHOD_NAMES = """
    addStickerToSet answerCallbackQuery answerInlineQuery answerPreCheckoutQuery
    answerShippingQuery answerWebAppQuery approveChatJoinRequest approveSuggestedPost
    banChatMember banChatSenderChat close closeForumTopic closeGeneralForumTopic
    convertGiftToStars copyMessage copyMessages createChatInviteLink
    createChatSubscriptionInviteLink createForumTopic createInvoiceLink createNewStickerSet
    declineChatJoinRequest declineSuggestedPost deleteBusinessMessages deleteChatPhoto
    deleteChatStickerSet deleteForumTopic deleteMessage deleteMessages deleteMyCommands
    deleteStickerFromSet deleteStickerSet deleteStory deleteWebhook editChatInviteLink
    editChatSubscriptionInviteLink editForumTopic editGeneralForumTopic editMessageCaption
    editMessageChecklist editMessageLiveLocation editMessageMedia editMessageReplyMarkup
    editMessageText editStory editUserStarSubscription exportChatInviteLink forwardMessage
    forwardMessages getAvailableGifts getBusinessAccountGifts getBusinessAccountStarBalance
    getBusinessConnection getChat getChatAdministrators getChatGifts getChatMember
    getChatMemberCount getChatMenuButton getCustomEmojiStickers getFile
    getForumTopicIconStickers getGameHighScores getMe getMyCommands
    getMyDefaultAdministratorRights getMyDescription getMyName getMyShortDescription
    getMyStarBalance getStarTransactions getStickerSet getUpdates getUserChatBoosts
    getUserGifts getUserProfilePhotos getWebhookInfo giftPremiumSubscription
    hideGeneralForumTopic leaveChat logOut pinChatMessage postStory promoteChatMember
    readBusinessMessage refundStarPayment removeBusinessAccountProfilePhoto
    removeChatVerification removeUserVerification reopenForumTopic reopenGeneralForumTopic
    replaceStickerInSet repostStory restrictChatMember revokeChatInviteLink
    savePreparedInlineMessage sendAnimation sendAudio sendChatAction sendChecklist
    sendContact sendDice sendDocument sendGame sendGift sendInvoice sendLocation
    sendMediaGroup sendMessage sendMessageDraft sendPaidMedia sendPhoto sendPoll sendSticker
    sendVenue sendVideo sendVideoNote sendVoice setBusinessAccountBio
    setBusinessAccountGiftSettings setBusinessAccountName setBusinessAccountProfilePhoto
    setBusinessAccountUsername setChatAdministratorCustomTitle setChatDescription
    setChatMenuButton setChatPermissions setChatPhoto setChatStickerSet setChatTitle
    setCustomEmojiStickerSetThumbnail setGameScore setMessageReaction setMyCommands
    setMyDefaultAdministratorRights setMyDescription setMyName setMyShortDescription
    setPassportDataErrors setStickerEmojiList setStickerKeywords setStickerMaskPosition
    setStickerPositionInSet setStickerSetThumbnail setStickerSetTitle setUserEmojiStatus
    setWebhook stopMessageLiveLocation stopPoll transferBusinessAccountStars transferGift
    unbanChatMember unbanChatSenderChat unhideGeneralForumTopic unpinAllChatMessages
    unpinAllForumTopicMessages unpinAllGeneralForumTopicMessages unpinChatMessage
    upgradeGift uploadStickerFile verifyChat verifyUser
"""
_REAL_METHODS = frozenset(name.lower() for name in _REAL_METHOD_NAMES.split())
_TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


class FakeTelegram:
    """A fake Bot API server on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        token: str = "123456789:TEST-token_for_the_fake_api",
        *,
        bot_username: str = "citybot_test_bot",
        bot_first_name: str = "CityBot",
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        per_chat_burst: float | None = None,
        group_rate: float | None = None,
        paid_rate: float = 1000.0,
        latency: float = 0.0,
        jitter: float = 0.0,
        seed: int | None = None,
        callback_query_ttl: float = 15.0,
        webhook_timeout: float = 10.0,
        webhook_max_attempts: int = 5,
        webhook_retry_delay: float | None = None,
        max_poll_timeout: float = 60.0,
        close_cooldown: float = 600.0,
        strict_html: bool = True,
        privacy_mode: bool = True,
    ) -> None:
        match = _TOKEN_RE.match(token)
        if match is None:
            raise ValueError(f"not a bot token: {token!r}")
        self.token = token
        self.bot_id = int(match.group(1))
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        # A round trip of ``latency`` plus up to ``jitter`` (uniform, seeded), half of each on the
        # way in, before the call is counted against the limits, and half on the way back.
        self.latency = latency
        self.jitter = jitter
        self._random = random.Random(seed)
        self.callback_query_ttl = callback_query_ttl
        self.webhook_timeout = webhook_timeout
        self.webhook_max_attempts = max(1, webhook_max_attempts)
        self.webhook_retry_delay = webhook_retry_delay
        self.max_poll_timeout = max_poll_timeout
        self.close_cooldown = close_cooldown
        self.strict_html = strict_html
        self.privacy_mode = privacy_mode
        self.bot_settings: dict[str, JSON] = {}

        # Overall limits: sliding windows of one second (``global_rate`` sends, ``paid_rate`` with
        # allow_paid_broadcast). Per chat and per group: token buckets, as Telegram documents
        # them (about one message a second per chat, with a short burst).
        self._global_window = _Window(global_rate) if global_rate else None
        self._paid_window = _Window(paid_rate) if global_rate else None
        self._per_chat_rate = per_chat_rate
        self._per_chat_burst = per_chat_burst
        self._group_rate = group_rate
        self._chat_buckets: dict[int, _Bucket] = {}

        # Inspection state (public, documented in the report).
        self.calls: list[Call] = []
        self.errors: list[ApiErrorRecord] = []
        self.deliveries: list[WebhookDelivery] = []
        self.dropped_updates: list[JSON] = []
        self.callback_answers: dict[str, JSON] = {}
        self.sent_count = 0
        self.rate_limited_count = 0
        self.paid_broadcast_count = 0
        self.logged_out = False

        self._users: dict[int, _User] = {}
        self._chats: dict[int, _Chat] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_seq = 0
        self._callbacks: dict[str, _CallbackQuery] = {}
        self._callback_seq = 0
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._next_update_id = 100_000_001
        self._pending: list[_Pending] = []
        self._allowed_updates: list[str] | None = None
        self._webhook: _Webhook | None = None
        self._poll_generation = 0
        self._active_poll: int | None = None
        self._poll_killed: dict[int, str] = {}  # superseded long poll -> its 409 description
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        self._closing = False
        self._started_at = time.monotonic()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._port: int | None = None
        self._methods: dict[str, tuple[str, _Handler]] = {}
        for name, handler in self._handlers().items():
            self._methods[name.lower()] = (name, handler)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_UPLOAD_SIZE + 10 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle_http)
        # A short shutdown timeout: stop() wakes long polls first, so nothing should linger.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._client = aiohttp.ClientSession()
        self._closing = False
        self._started_at = time.monotonic()

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ---------------------------------------------------------------- HTTP layer

    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return await self._handle_file_download(path)
        match = re.fullmatch(r"/bot([^/]+)/([^/]+)", path)
        if match is None:
            return self._json_response(ApiError(404, "Not Found").body(), 404)
        if match.group(1) != self.token:
            return self._json_response(ApiError(401, "Unauthorized").body(), 401)
        try:
            raw, files = await self._read_request(request)
        except ApiError as exc:
            return self._json_response(exc.body(), exc.code)
        except web.HTTPRequestEntityTooLarge:
            return self._json_response(ApiError(413, "Request Entity Too Large").body(), 413)
        if self.latency > 0 or self.jitter > 0:
            await asyncio.sleep(self._leg())
        status, body = await self._invoke(match.group(2), raw, files)
        if self.latency > 0 or self.jitter > 0:
            await asyncio.sleep(self._leg())
        return self._json_response(body, status)

    def _leg(self) -> float:
        """One way of a round trip: half the latency plus up to half the jitter."""
        return self.latency / 2 + self._random.uniform(0.0, self.jitter / 2)

    @staticmethod
    def _json_response(body: JSON, status: int) -> web.Response:
        return web.Response(
            text=json.dumps(body, ensure_ascii=False),
            status=status,
            content_type="application/json",
        )

    async def _read_request(self, request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
        raw: JSON = dict(request.query)
        files: dict[str, UploadedFile] = {}
        mime = request.content_type.lower()
        if mime == "multipart/form-data":
            fields, files = await _read_multipart(await request.multipart())
            raw.update(fields)
        else:
            body = await request.read()
            raw.update(_parse_plain_body(mime, body))
        return raw, files

    async def _handle_file_download(self, path: str) -> web.StreamResponse:
        prefix = f"/file/bot{self.token}/"
        if not path.startswith(prefix):
            return self._json_response(ApiError(401, "Unauthorized").body(), 401)
        stored = self._files_by_path.get(path[len(prefix) :])
        if stored is None:
            return self._json_response(ApiError(404, "Not Found").body(), 404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _invoke(
        self, method: str, raw: Mapping[str, Any], files: Mapping[str, UploadedFile]
    ) -> tuple[int, JSON]:
        """Run one API method; returns (HTTP status, JSON body)."""
        params = _normalize_params(raw, files)
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        self.calls.append(Call(name, params))
        self._notify()
        try:
            if entry is None:
                if method.lower() in _REAL_METHODS:
                    # A real method this fake does not model: say so instead of pretending
                    # the method does not exist.
                    raise ApiError(501, f"Not Implemented: FakeTelegram does not simulate {method}")
                raise ApiError(404, "Not Found: method not found")
            fetched = await self._fetch_url_param(name, params)
            result = await entry[1](_Params(fetched))
        except ApiError as exc:
            self.errors.append(ApiErrorRecord(name, params, exc.code, exc.description))
            if exc.code == 429:
                self.rate_limited_count += 1
            self._notify()
            return exc.code, exc.body()
        except Exception as exc:  # a bug in the fake: answer like a server error, loudly
            description = f"Internal Server Error: FakeTelegram failed: {exc!r}"
            self.errors.append(ApiErrorRecord(name, params, 500, description))
            self._notify()
            return 500, {"ok": False, "error_code": 500, "description": description}
        if isinstance(result, _Described):
            return 200, {"ok": True, "result": result.result, "description": result.description}
        return 200, {"ok": True, "result": result}

    async def _fetch_url_param(self, method: str, params: JSON) -> JSON:
        """A file given by URL is downloaded by Telegram: a URL that does not answer 200 (an
        expired link, a missing file) is refused, as the real server refuses it, and one over
        Telegram's limit for URLs (5 MB for photos, 20 MB otherwise) too. Only loopback URLs
        are fetched (tests run offline); others still get a placeholder."""
        key = _URL_FILE_PARAMS.get(method)
        value = params.get(key) if key else None
        if key is None or not isinstance(value, str):
            return params
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or parts.hostname not in (
            "127.0.0.1",
            "localhost",
        ):
            return params
        limit = MAX_URL_PHOTO if key == "photo" else MAX_URL_FILE
        failed = _bad("failed to get HTTP URL content")
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.get(value) as response,
            ):
                if response.status != 200:
                    raise failed
                data = await response.content.read(limit + 1)
                content_type = response.content_type
        except (aiohttp.ClientError, TimeoutError):
            raise failed from None
        if len(data) > limit:
            raise failed
        name = parts.path.rsplit("/", 1)[-1] or key
        return {**params, key: UploadedFile(name, content_type, data)}

    def _handlers(self) -> dict[str, _Handler]:
        return {
            "getMe": self._m_get_me,
            "logOut": self._m_log_out,
            "close": self._m_close,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "sendMessage": self._m_send_message,
            "sendPhoto": self._m_send_photo,
            "sendDocument": self._m_send_document,
            "sendAudio": self._media_sender("audio"),
            "sendVideo": self._media_sender("video"),
            "sendAnimation": self._media_sender("animation"),
            "sendVoice": self._media_sender("voice"),
            "sendVideoNote": self._media_sender("video_note", caption=False),
            "sendSticker": self._media_sender("sticker", caption=False),
            "sendLocation": self._m_send_location,
            "sendContact": self._m_send_contact,
            "sendMediaGroup": self._m_send_media_group,
            "setMyDescription": self._setting_store("setMyDescription"),
            "setMyShortDescription": self._setting_store("setMyShortDescription"),
            "setMyName": self._setting_store("setMyName"),
            "setChatMenuButton": self._setting_store("setChatMenuButton"),
            "setMyDefaultAdministratorRights": self._setting_store(
                "setMyDefaultAdministratorRights"
            ),
            "leaveChat": self._m_leave_chat,
            "copyMessage": self._m_copy_message,
            "forwardMessage": self._m_forward_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "deleteMessages": self._m_delete_messages,
            "answerCallbackQuery": self._m_answer_callback_query,
            "sendChatAction": self._m_send_chat_action,
            "createForumTopic": self._m_create_forum_topic,
            "editForumTopic": self._m_edit_forum_topic,
            "closeForumTopic": self._m_close_forum_topic,
            "reopenForumTopic": self._m_reopen_forum_topic,
            "deleteForumTopic": self._m_delete_forum_topic,
            "getChat": self._m_get_chat,
            "getChatMember": self._m_get_chat_member,
            "getFile": self._m_get_file,
            "pinChatMessage": self._m_pin_chat_message,
            "unpinChatMessage": self._m_unpin_chat_message,
        }

    # ---------------------------------------------------------------- change notification

    def _notify(self) -> None:
        # Waiters hold the previous event; swapping before setting wakes exactly them.
        event = self._changed
        self._changed = asyncio.Event()
        event.set()
        for listener in self._listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (synchronously, cheaply) after every change of state."""
        self._listeners.append(listener)

    async def _wait_until(self, predicate: Callable[[], bool], seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return predicate()
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # ---------------------------------------------------------------- bot-level methods

    async def _m_get_me(self, p: _Params) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_log_out(self, p: _Params) -> Any:
        self.logged_out = True
        return True

    async def _m_close(self, p: _Params) -> Any:
        # Documented: "The method will return error 429 in the first 10 minutes after the
        # bot is launched."
        remaining = self.close_cooldown - (time.monotonic() - self._started_at)
        if remaining > 0:
            retry = max(1, math.ceil(remaining))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        return True

    # ---------------------------------------------------------------- updates

    def _allowed_set(self) -> frozenset[str]:
        allowed = self._allowed_updates
        if not allowed:
            return frozenset(t for t in ALL_UPDATE_TYPES if t not in OPT_IN_UPDATE_TYPES)
        return frozenset(allowed)

    def _set_allowed_updates(self, value: Any) -> None:
        if value is None:
            return  # "If not specified, the previous setting will be used."
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad("can't parse allowed_updates JSON array")
        self._allowed_updates = list(value)

    async def _m_get_updates(self, p: _Params) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.opt_int("offset")
        limit = min(max(p.opt_int("limit") or 100, 1), 100)
        timeout = min(max(p.opt_int("timeout") or 0, 0), self.max_poll_timeout)
        self._set_allowed_updates(p.opt_json("allowed_updates"))
        if offset is not None and offset != 0:
            self._confirm_updates(offset)

        # A newer getUpdates terminates the one still waiting (real server behaviour).
        self._poll_generation += 1
        mine = self._poll_generation
        if self._active_poll is not None:
            self._poll_killed[self._active_poll] = (
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running"
            )
        self._active_poll = mine
        self._notify()
        await self._wait_until(lambda: self._active_poll != mine or bool(self._pending), timeout)
        if self._active_poll != mine:
            raise ApiError(409, self._poll_killed.pop(mine, "Conflict: terminated"))
        self._active_poll = None
        return [copy.deepcopy(entry.update) for entry in self._pending[:limit]]

    def _confirm_updates(self, offset: int) -> None:
        if offset < 0:
            # "A negative offset can be specified to retrieve updates starting from -offset
            # update from the end of the updates queue. All previous updates will be forgotten."
            self._pending = self._pending[offset:]
        else:
            self._pending = [e for e in self._pending if e.update.get("update_id", 0) >= offset]

    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed (polling) or not yet accepted by the webhook."""
        return [copy.deepcopy(entry.update) for entry in self._pending]

    # ---------------------------------------------------------------- webhooks

    async def _m_set_webhook(self, p: _Params) -> Any:
        url = p.opt_str("url") or ""
        if not url:
            return await self._m_delete_webhook(p)
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.opt_str("secret_token")
        if secret is not None and secret != "" and not _SECRET_RE.match(secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = min(max(p.opt_int("max_connections") or 40, 1), 100)
        self._set_allowed_updates(p.opt_json("allowed_updates"))
        if p.opt_bool("drop_pending_updates"):
            self._pending.clear()
        previous = self._webhook
        self._webhook = _Webhook(
            url=url,
            secret_token=secret or None,
            max_connections=max_connections,
            ip_address=p.opt_str("ip_address") or "127.0.0.1",
        )
        if self._active_poll is not None:
            self._poll_killed[self._active_poll] = "Conflict: terminated by setWebhook request"
            self._active_poll = None
        self._notify()  # wake the long poll so it answers with its 409
        if self._pending:
            # Telegram starts pushing what is already queued as soon as the webhook is set.
            self._spawn(self._deliver_all())
        if previous is not None and previous.url == url:
            return _Described(True, "Webhook is already set")
        return _Described(True, "Webhook was set")

    async def _m_delete_webhook(self, p: _Params) -> Any:
        if p.opt_bool("drop_pending_updates"):
            self._pending.clear()
        if self._webhook is None:
            return _Described(True, "Webhook is already deleted")
        self._webhook = None
        self._notify()
        return _Described(True, "Webhook was deleted")

    async def _m_get_webhook_info(self, p: _Params) -> Any:
        return self.webhook_info

    @property
    def webhook_info(self) -> JSON:
        info: JSON = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        hook = self._webhook
        if hook is None:
            return info
        info["url"] = hook.url
        info["max_connections"] = hook.max_connections
        if hook.ip_address:
            info["ip_address"] = hook.ip_address
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        return info

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        # The coroutine itself becomes the task, so cancelling it before it ever ran
        # closes it cleanly (no "coroutine was never awaited" warning).
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_all(self) -> list[int]:
        statuses: list[int] = []
        for entry in list(self._pending):
            if self._webhook is None or self._closing:
                break
            if entry in self._pending and not entry.in_flight:
                statuses.append(await self._deliver(entry))
        return statuses

    async def redeliver(self) -> list[int]:
        """Try every pending update once more (in order); returns the HTTP statuses.

        Without a webhook this is a no-op returning [].
        """
        return await self._deliver_all()

    async def _deliver(self, entry: _Pending) -> int:
        """POST one update to the webhook, like Telegram does; returns the HTTP status."""
        hook = self._webhook
        client = self._client
        if hook is None or client is None:
            return 0
        entry.in_flight = True
        entry.attempts += 1
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        status = 0
        error: str | None = None
        reply: tuple[JSON, dict[str, UploadedFile]] | None = None
        try:
            async with client.post(
                hook.url,
                data=json.dumps(entry.update, ensure_ascii=False).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                status = resp.status
                if 200 <= status < 300:
                    reply = await _read_webhook_reply(resp)
                else:
                    error = f"Wrong response from the webhook: {status} {resp.reason or ''}".strip()
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except (aiohttp.ClientError, ApiError) as exc:
            error = f"Connection error: {exc}"
        finally:
            entry.in_flight = False
        update_id = int(entry.update.get("update_id", 0))
        self.deliveries.append(WebhookDelivery(update_id, status, error, entry.attempts))
        if 200 <= status < 300 and error is None:
            with contextlib.suppress(ValueError):
                self._pending.remove(entry)
            if reply is not None and reply[0].get("method"):
                # "You can perform a request to the Bot API while sending an answer to
                # the webhook" - the result is not reported back, errors are swallowed.
                fields, files = reply
                await self._invoke(str(fields.pop("method")), fields, files)
        else:
            hook.last_error_date = _now()
            hook.last_error_message = error
            if entry.attempts >= self.webhook_max_attempts:
                with contextlib.suppress(ValueError):
                    self._pending.remove(entry)
                self.dropped_updates.append(entry.update)
            elif self.webhook_retry_delay is not None and not self._closing:
                self._spawn(self._retry_later(entry))
        self._notify()
        return status

    async def _retry_later(self, entry: _Pending) -> None:
        delay = (self.webhook_retry_delay or 0.0) * (2 ** (entry.attempts - 1))
        await asyncio.sleep(delay)
        if entry in self._pending and not entry.in_flight and self._webhook is not None:
            await self._deliver(entry)

    async def _emit(self, update: JSON) -> SimUpdate:
        """Queue an update for the bot and, with a webhook, push it right away."""
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        result = SimUpdate(copy.deepcopy(update))
        if _update_type(update) not in self._allowed_set():
            result.filtered = True
            return result
        entry = _Pending(copy.deepcopy(update))
        self._pending.append(entry)
        self._notify()
        if self._webhook is not None:
            result.status = await self._deliver(entry)
        return result

    # ---------------------------------------------------------------- commands

    def _scope_key(self, scope: Any) -> str:
        if scope is None:
            return "default"
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _bad("can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
        if kind in {"chat", "chat_administrators", "chat_member"}:
            chat = self._chat_from_value(scope.get("chat_id"), "chat_id")
            if kind == "chat_member":
                user_id = scope.get("user_id")
                if not isinstance(user_id, int) or user_id not in self._users:
                    raise _bad("user not found")
                return f"chat_member:{chat.id}:{user_id}"
            return f"{kind}:{chat.id}"
        return kind

    @staticmethod
    def _language(p: _Params) -> str:
        code = p.opt_str("language_code") or ""
        if code and not re.fullmatch(r"[a-z]{2}", code):
            raise _bad("invalid language code specified")
        return code

    async def _m_set_my_commands(self, p: _Params) -> Any:
        commands = p.opt_json("commands")
        if commands is None:
            raise _bad('parameter "commands" is required')
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        clean: list[JSON] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand JSON object")
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        key = (self._scope_key(p.opt_json("scope")), self._language(p))
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    async def _m_get_my_commands(self, p: _Params) -> Any:
        key = (self._scope_key(p.opt_json("scope")), self._language(p))
        return copy.deepcopy(self._commands.get(key, []))

    async def _m_delete_my_commands(self, p: _Params) -> Any:
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

    # ---------------------------------------------------------------- chats and access

    def _chat_from_value(self, value: Any, name: str = "chat_id") -> _Chat:
        if value is None or value == "":
            raise _bad(f"{name} is empty")
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)  # ids nested in JSON objects (scopes) may arrive as strings
        chat: _Chat | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            chat = self._chats.get(value)
            user = self._users.get(value)
            if chat is None and user is not None and user.seen:
                raise _forbidden("bot can't initiate conversation with a user")
        elif isinstance(value, str) and value.startswith("@"):
            wanted = value[1:].lower()
            for candidate in self._chats.values():
                if candidate.username and candidate.username.lower() == wanted:
                    chat = candidate
                    break
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _chat(self, p: _Params, name: str = "chat_id") -> _Chat:
        return self._chat_from_value(p.values.get(name), name)

    @staticmethod
    def _check_can_send(chat: _Chat) -> None:
        if chat.user is not None:
            if chat.user.deactivated:
                raise _forbidden("user is deactivated")
            if chat.user.blocked:
                raise _forbidden("bot was blocked by the user")
        elif chat.bot_status in {"kicked", "left"}:
            where = "supergroup chat" if chat.type == "supergroup" else "group chat"
            if chat.bot_status == "kicked":
                raise _forbidden(f"bot was kicked from the {where}")
            raise _forbidden(f"bot is not a member of the {where}")

    def _thread(self, chat: _Chat, p: _Params) -> int | None:
        thread_id = p.opt_int("message_thread_id")
        if thread_id is None or not chat.is_forum:
            return None  # outside forum supergroups the parameter has no effect here
        if thread_id not in chat.topics:
            raise _bad("message thread not found")
        return thread_id

    def _reply_target(self, chat: _Chat, p: _Params) -> JSON | None:
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
            raise _bad("can't parse reply parameters JSON object")
        if message_id is None:
            return None
        stored = target.messages.get(message_id) if isinstance(message_id, int) else None
        if stored is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return _snapshot(stored.data)

    def _admit(self, chat: _Chat, p: _Params) -> None:
        """Apply the configured flood limits; raises 429 with retry_after when exceeded."""
        paid = p.opt_bool("allow_paid_broadcast")
        limits: list[_Bucket | _Window] = []
        window = self._paid_window if paid else self._global_window
        if window is not None:
            limits.append(window)
        rate = self._group_rate if chat.type != "private" and self._group_rate else None
        rate = rate or self._per_chat_rate
        if rate:
            bucket = self._chat_buckets.get(chat.id)
            if bucket is None:
                bucket = _Bucket(rate, self._per_chat_burst or 1.0)
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
                raise _bad("unsupported parse_mode")
        elif explicit is not None:
            if not isinstance(explicit, list) or not all(
                isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in explicit
            ):
                raise _bad(f"can't parse {entities_name} JSON object")
            entities = [dict(e) for e in explicit if e["length"] > 0]
        else:
            entities = []
        text, entities = _trim(text, entities)
        entities = entities + detect_entities(text, entities)
        return text, _sort_entities(entities)

    def _text_content(self, p: _Params) -> JSON:
        raw = p.opt_str("text") or ""
        text, entities = self._format(
            raw, p.opt_str("parse_mode"), p.opt_json("entities"), entities_name="entities"
        )
        if not text:
            raise _bad("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        return content

    def _caption_content(self, p: _Params) -> JSON:
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
            raise _bad("message caption is too long")
        content: JSON = {}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    def _markup(self, p: _Params, *, inline_only: bool = False) -> JSON | None:
        markup = p.opt_json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        markup = _validate_reply_markup(markup)
        if inline_only and "inline_keyboard" not in markup:
            raise _bad("inline keyboard expected")
        return markup

    # ---------------------------------------------------------------- storing messages

    def _new_message(
        self,
        chat: _Chat,
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
            "date": _now(),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            root = chat.messages.get(thread_id)
            if reply_to is None and root is not None and thread_id != message_id:
                # Real forum quirk: topic messages "reply" to the topic's service message.
                reply_to = _snapshot(root.data)
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
        chat.messages[message_id] = _Stored(message, from_bot=from_bot, service=service)
        if from_bot and not service:
            self.sent_count += 1
        self._notify()
        return message

    async def _send(
        self, p: _Params, build: Callable[[_Chat], JSON], *, allow_reply_markup: bool = True
    ) -> JSON:
        """Common path of every send* method: validate, rate-limit, store, return Message."""
        chat = self._chat(p)
        self._check_can_send(chat)
        content = build(chat)
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

    # ---------------------------------------------------------------- send methods

    async def _m_send_message(self, p: _Params) -> Any:
        return await self._send(p, lambda chat: self._text_content(p))

    async def _m_send_photo(self, p: _Params) -> Any:
        def build(chat: _Chat) -> JSON:
            photo = self._photo_from_param(p.values.get("photo"))
            return {"photo": photo, **self._caption_content(p)}

        return await self._send(p, build)

    async def _m_send_document(self, p: _Params) -> Any:
        def build(chat: _Chat) -> JSON:
            document = self._document_from_param(p.values.get("document"))
            return {"document": document, **self._caption_content(p)}

        return await self._send(p, build)

    def _media_from_param(self, kind: str, value: Any, p: _Params) -> JSON:
        """Resolve an upload, a known file_id or a URL for audio/video/voice/... sends."""
        if value is None or value == "":
            raise _bad(f"there is no {kind.replace('_', ' ')} in the request")
        if isinstance(value, str):
            stored = self._files.get(value)
            if stored is not None:
                if stored.kind != kind:
                    label = kind.replace("_", " ").title().replace(" ", "")
                    raise _bad(f"can't use file of type {stored.kind.title()} as {label}")
                return copy.deepcopy(stored.meta)
            if not re.match(r"^https?://", value):
                raise _bad("wrong file identifier/HTTP URL specified")
            upload = UploadedFile(urlsplit(value).path.rsplit("/", 1)[-1] or kind, "", b"")
        elif isinstance(value, UploadedFile):
            upload = value
        else:
            raise _bad("wrong file identifier/HTTP URL specified")
        if upload.size > MAX_UPLOAD_SIZE:
            raise ApiError(413, "Request Entity Too Large")
        duration = p.opt_int("duration") or 1
        meta: JSON
        if kind == "sticker":
            meta = {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
            emoji = p.opt_str("emoji")
            if emoji:
                meta["emoji"] = emoji
        elif kind == "video_note":
            meta = {"length": p.opt_int("length") or 240, "duration": duration}
        elif kind == "voice":
            meta = {"duration": duration, "mime_type": "audio/ogg"}
        else:
            mime = mimetypes.guess_type(upload.filename)[0]
            meta = {"duration": duration, "file_name": upload.filename}
            if kind in {"video", "animation"}:
                meta["width"] = p.opt_int("width") or 640
                meta["height"] = p.opt_int("height") or 360
            meta["mime_type"] = mime or ("audio/mpeg" if kind == "audio" else "video/mp4")
        extension = {"sticker": ".webp", "voice": ".oga", "audio": ".mp3"}.get(kind, ".mp4")
        return copy.deepcopy(self._register_file(kind, upload.data, extension, meta).meta)

    def _media_sender(self, kind: str, *, caption: bool = True) -> _Handler:
        async def handler(p: _Params) -> Any:
            def build(chat: _Chat) -> JSON:
                content: JSON = {kind: self._media_from_param(kind, p.values.get(kind), p)}
                if caption:
                    content.update(self._caption_content(p))
                return content

            return await self._send(p, build)

        return handler

    async def _m_send_location(self, p: _Params) -> Any:
        def build(chat: _Chat) -> JSON:
            location: JSON = {}
            for axis, bound in (("latitude", 90.0), ("longitude", 180.0)):
                value = p.values.get(axis)
                try:
                    number = float(value) if value is not None else math.nan
                except (TypeError, ValueError):
                    number = math.nan
                if not -bound <= number <= bound:
                    raise _bad("wrong location specified")
                location[axis] = number
            return {"location": location}

        return await self._send(p, build)

    async def _m_send_contact(self, p: _Params) -> Any:
        def build(chat: _Chat) -> JSON:
            phone, first = p.opt_str("phone_number"), p.opt_str("first_name")
            if not phone:
                raise _bad("phone number is empty")
            if not first:
                raise _bad("first name is empty")
            contact: JSON = {"phone_number": phone, "first_name": first}
            if p.present("last_name"):
                contact["last_name"] = p.opt_str("last_name")
            return {"contact": contact}

        return await self._send(p, build)

    async def _m_send_media_group(self, p: _Params) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        media = p.opt_json("media")
        if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
            raise _bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise _bad("wrong number of media specified: must be between 2 and 10")
        kinds = {str(item.get("type")) for item in media}
        if not kinds <= {"photo", "video", "document", "audio"}:
            raise _bad("unsupported media type in the media group")
        for alone in ("document", "audio"):
            if alone in kinds and kinds != {alone}:
                raise _bad(f"{alone} can't be mixed with other media types")
        contents: list[JSON] = []
        for item in media:
            ref = item.get("media")
            if isinstance(ref, str) and ref.startswith("attach://"):
                ref = p.values.get(ref[len("attach://") :])
                if not isinstance(ref, UploadedFile):
                    raise _bad("wrong file identifier/HTTP URL specified")
            item_params = _Params({**item, "media": ref})
            kind = str(item["type"])
            content: JSON
            if kind == "photo":
                content = {"photo": self._photo_from_param(ref)}
            elif kind == "document":
                content = {"document": self._document_from_param(ref)}
            else:
                content = {kind: self._media_from_param(kind, ref, item_params)}
            content.update(self._caption_content(item_params))
            contents.append(content)
        thread_id = self._thread(chat, p)
        reply_to = self._reply_target(chat, p)
        self._admit(chat, p)  # an album counts as one send for flood control
        group_id = str(10_000_000_000_000_000 + self._file_seq * 7919 + chat.next_message_id)
        sent = [
            self._new_message(
                chat,
                self.bot_user,
                {"media_group_id": group_id, **content},
                from_bot=True,
                thread_id=thread_id,
                reply_to=reply_to,
                protect=p.opt_bool("protect_content"),
            )
            for content in contents
        ]
        return copy.deepcopy(sent)

    def _setting_store(self, method: str) -> _Handler:
        # setMyDescription & co. only matter to clients; remember them for inspection.
        async def handler(p: _Params) -> Any:
            self.bot_settings[method] = dict(p.values)
            return True

        return handler

    async def _m_leave_chat(self, p: _Params) -> Any:
        chat = self._chat(p)
        if chat.user is not None:
            raise _bad("chat member status can't be changed in private chats")
        chat.bot_status = "left"
        return True

    def _source_message(self, p: _Params, action: str) -> tuple[_Chat, JSON]:
        source_chat = self._chat(p, "from_chat_id")
        message_id = p.req_int("message_id", "message identifier is not specified")
        stored = source_chat.messages.get(message_id)
        if stored is None or stored.service:
            raise _bad(f"message to {action} not found")
        if stored.data.get("has_protected_content"):
            raise _bad(f"message has protected content and can't be {action}ed")
        return source_chat, stored.data

    async def _m_forward_message(self, p: _Params) -> Any:
        _source_chat, original = self._source_message(p, "forward")

        def build(chat: _Chat) -> JSON:
            content = _message_content(original)
            content["forward_origin"] = original.get("forward_origin") or self._origin(original)
            return content

        return await self._send(p, build, allow_reply_markup=False)

    def _origin(self, message: JSON) -> JSON:
        sender = message.get("from") or {}
        user = self._users.get(int(sender.get("id", 0)))
        if user is not None and user.hide_forwards:
            return {
                "type": "hidden_user",
                "sender_user_name": user.full_name,
                "date": message["date"],
            }
        return {"type": "user", "sender_user": sender, "date": message["date"]}

    async def _m_copy_message(self, p: _Params) -> Any:
        _source_chat, original = self._source_message(p, "copy")

        def build(chat: _Chat) -> JSON:
            content = _message_content(original)
            if "text" not in content and p.values.get("caption") is not None:
                content.pop("caption", None)
                content.pop("caption_entities", None)
                content.update(self._caption_content(p))
            return content

        message = await self._send(p, build)
        return {"message_id": message["message_id"]}

    async def _m_send_chat_action(self, p: _Params) -> Any:
        chat = self._chat(p)
        self._check_can_send(chat)
        action = p.opt_str("action")
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._thread(chat, p)
        return True

    # ---------------------------------------------------------------- edits and deletes

    def _editable(self, p: _Params) -> tuple[_Chat, _Stored]:
        if p.present("inline_message_id"):
            raise _bad("message to edit not found")  # inline mode is not simulated
        chat = self._chat(p)
        message_id = p.req_int("message_id", "message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None or stored.service:
            raise _bad("message to edit not found")
        if not stored.from_bot:
            raise _bad("message can't be edited")
        return chat, stored

    def _apply_edit(
        self, stored: _Stored, keys: tuple[str, str], content: JSON, markup: JSON | None
    ) -> JSON:
        """Replace text (or caption) and markup; identical content is a 400 like on Telegram."""
        message = stored.data
        new_markup = markup if markup and markup.get("inline_keyboard") else None
        if (
            all(message.get(key) == content.get(key) for key in keys)
            and message.get("reply_markup") == new_markup
        ):
            raise _bad(NOT_MODIFIED)
        for key in keys:
            message.pop(key, None)
        message.update(content)
        if new_markup is None:
            message.pop("reply_markup", None)  # an edit without reply_markup drops the keyboard
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = _now()
        self._notify()
        return copy.deepcopy(message)

    async def _m_edit_message_text(self, p: _Params) -> Any:
        _chat, stored = self._editable(p)
        if "text" not in stored.data:
            raise _bad("there is no text in the message to edit")
        content = self._text_content(p)
        markup = self._markup(p, inline_only=True)
        return self._apply_edit(stored, ("text", "entities"), content, markup)

    async def _m_edit_message_caption(self, p: _Params) -> Any:
        _chat, stored = self._editable(p)
        if "text" in stored.data:
            raise _bad("there is no caption in the message to edit")
        content = self._caption_content(p)
        markup = self._markup(p, inline_only=True)
        return self._apply_edit(stored, ("caption", "caption_entities"), content, markup)

    async def _m_edit_message_reply_markup(self, p: _Params) -> Any:
        _chat, stored = self._editable(p)
        markup = self._markup(p, inline_only=True)
        new_markup = markup if markup and markup.get("inline_keyboard") else None
        if stored.data.get("reply_markup") == new_markup:
            raise _bad(NOT_MODIFIED)
        if new_markup is None:
            stored.data.pop("reply_markup", None)
        else:
            stored.data["reply_markup"] = new_markup
        stored.data["edit_date"] = _now()
        self._notify()
        return copy.deepcopy(stored.data)

    async def _m_delete_message(self, p: _Params) -> Any:
        chat = self._chat(p)
        message_id = p.req_int("message_id", "message identifier is not specified")
        if message_id not in chat.messages:
            raise _bad("message to delete not found")
        del chat.messages[message_id]
        self._notify()
        return True

    async def _m_delete_messages(self, p: _Params) -> Any:
        chat = self._chat(p)
        ids = p.opt_json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids is empty")
        for message_id in ids:
            if isinstance(message_id, int):
                chat.messages.pop(message_id, None)
        self._notify()
        return True

    async def _m_pin_chat_message(self, p: _Params) -> Any:
        chat = self._chat(p)
        message_id = p.req_int("message_id", "message identifier is not specified")
        if message_id not in chat.messages:
            raise _bad("message to pin not found")
        return True

    async def _m_unpin_chat_message(self, p: _Params) -> Any:
        self._chat(p)
        return True

    # ---------------------------------------------------------------- callback queries

    async def _m_answer_callback_query(self, p: _Params) -> Any:
        query_id = p.opt_str("callback_query_id") or ""
        record = self._callbacks.get(query_id)
        if (
            record is None
            or record.answered
            or time.monotonic() - record.created > self.callback_query_ttl
        ):
            raise _bad(CALLBACK_TOO_OLD)
        text = p.opt_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_TEXT:
            raise _bad("MESSAGE_TOO_LONG")
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

    # ---------------------------------------------------------------- forum topics

    def _forum(self, p: _Params) -> _Chat:
        chat = self._chat(p)
        if not chat.is_forum:
            raise _bad("the chat is not a forum")
        return chat

    def _topic(self, chat: _Chat, p: _Params) -> int:
        thread_id = p.req_int("message_thread_id", "message thread not found")
        if thread_id not in chat.topics:
            raise _bad("TOPIC_ID_INVALID")
        return thread_id

    async def _m_create_forum_topic(self, p: _Params) -> Any:
        chat = self._forum(p)
        name = (p.opt_str("name") or "").strip()
        if not name:
            raise _bad("TOPIC_TITLE_EMPTY")
        if len(name) > 128:
            raise _bad("TOPIC_TITLE_TOO_LONG")
        color = p.opt_int("icon_color")
        if color is None:
            color = 7322096
        elif color not in FORUM_ICON_COLORS:
            raise _bad("TOPIC_ICON_COLOR_INVALID")
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

    async def _m_edit_forum_topic(self, p: _Params) -> Any:
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
            raise _bad("TOPIC_NOT_MODIFIED")
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

    async def _m_close_forum_topic(self, p: _Params) -> Any:
        chat = self._forum(p)
        thread_id = self._topic(chat, p)
        if thread_id in chat.closed_topics:
            raise _bad("TOPIC_NOT_MODIFIED")
        chat.closed_topics.add(thread_id)
        self._new_message(
            chat,
            self.bot_user,
            {"forum_topic_closed": {}},
            from_bot=True,
            thread_id=thread_id,
            service=True,
        )
        return True

    async def _m_reopen_forum_topic(self, p: _Params) -> Any:
        chat = self._forum(p)
        thread_id = self._topic(chat, p)
        if thread_id not in chat.closed_topics:
            raise _bad("TOPIC_NOT_MODIFIED")
        chat.closed_topics.discard(thread_id)
        self._new_message(
            chat,
            self.bot_user,
            {"forum_topic_reopened": {}},
            from_bot=True,
            thread_id=thread_id,
            service=True,
        )
        return True

    async def _m_delete_forum_topic(self, p: _Params) -> Any:
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

    async def _m_get_chat(self, p: _Params) -> Any:
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

    async def _m_get_chat_member(self, p: _Params) -> Any:
        chat = self._chat(p)
        user_id = p.req_int("user_id", "user not found")
        if user_id == self.bot_id:
            if chat.user is None and chat.bot_status == "administrator":
                return _administrator(self.bot_user)
            return {"status": chat.bot_status, "user": self.bot_user}
        user = self._users.get(user_id)
        if user is None:
            raise _bad("user not found")
        if chat.user is not None:
            if chat.user.id != user_id:
                raise _bad("user not found")
            return {"status": "member", "user": user.as_dict()}
        if user_id in chat.admins:
            return _administrator(user.as_dict())
        if user_id in chat.members:
            return {"status": "member", "user": user.as_dict()}
        return {"status": "left", "user": user.as_dict()}

    # ---------------------------------------------------------------- files

    def _new_file_ids(self, kind: str) -> tuple[str, str]:
        self._file_seq += 1
        prefixes = {
            "photo": "AgACAgIAAxkBAAI",
            "document": "BQACAgIAAxkBAAI",
            "sticker": "CAACAgIAAxkBAAI",
            "voice": "AwACAgIAAxkBAAI",
            "video": "BAACAgIAAxkBAAI",
            "audio": "CQACAgIAAxkBAAI",
            "animation": "CgACAgIAAxkBAAI",
            "video_note": "DQACAgIAAxkBAAI",
        }
        token = base64.urlsafe_b64encode(
            self._file_seq.to_bytes(6, "big") + self.bot_id.to_bytes(8, "big")
        ).decode()
        unique = base64.urlsafe_b64encode(self._file_seq.to_bytes(6, "big")).decode()
        return prefixes.get(kind, "BQACAgIAAxkBAAI") + token.rstrip("="), "AQAD" + unique.rstrip(
            "="
        )

    def _register_file(self, kind: str, data: bytes, extension: str, meta: JSON) -> _StoredFile:
        file_id, unique_id = self._new_file_ids(kind)
        folder = {"photo": "photos", "document": "documents", "sticker": "stickers"}.get(kind, kind)
        path = f"{folder}/file_{self._file_seq}{extension}"
        meta = {"file_id": file_id, "file_unique_id": unique_id, **meta, "file_size": len(data)}
        stored = _StoredFile(file_id, unique_id, kind, data, path, meta)
        self._files[file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def _register_photo(self, data: bytes, width: int, height: int) -> list[JSON]:
        sizes: list[JSON] = []
        longest = max(width, height, 1)
        limits = [limit for limit in (90, 320, 800, 1280) if limit < longest] + [min(longest, 2560)]
        for limit in limits:
            scale = limit / longest
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            stored = self._register_file("photo", data, ".jpg", {"width": w, "height": h})
            # Smaller renditions are smaller files; the bytes served stay the original.
            stored.meta["file_size"] = max(1, round(len(data) * scale * scale))
            sizes.append(stored.meta)
        for size in sizes:
            self._files[size["file_id"]].photo_set = sizes
        return copy.deepcopy(sizes)

    def _photo_from_param(self, value: Any) -> list[JSON]:
        if value is None or value == "":
            raise _bad("there is no photo in the request")
        if isinstance(value, UploadedFile):
            if value.size > MAX_UPLOAD_SIZE:
                raise ApiError(413, "Request Entity Too Large")
            dims = _image_size(value.data)
            if dims is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            return self._register_photo(value.data, *dims)
        if isinstance(value, str):
            stored = self._files.get(value)
            if stored is not None:
                if stored.photo_set is None:
                    raise _bad(f"can't use file of type {stored.kind.title()} as Photo")
                return copy.deepcopy(stored.photo_set)
            if re.match(r"^https?://", value):
                # No network here: record a placeholder instead of downloading.
                return self._register_photo(make_png(1, 1), 800, 600)
        raise _bad("wrong file identifier/HTTP URL specified")

    def _document_from_param(self, value: Any) -> JSON:
        if value is None or value == "":
            raise _bad("there is no document in the request")
        if isinstance(value, UploadedFile):
            if value.size > MAX_UPLOAD_SIZE:
                raise ApiError(413, "Request Entity Too Large")
            return copy.deepcopy(self._register_document(value.data, value.filename, None))
        if isinstance(value, str):
            stored = self._files.get(value)
            if stored is not None:
                if stored.kind != "document":
                    raise _bad(f"can't use file of type {stored.kind.title()} as Document")
                return copy.deepcopy(stored.meta)
            if re.match(r"^https?://", value):
                name = urlsplit(value).path.rsplit("/", 1)[-1] or "file"
                return copy.deepcopy(self._register_document(b"", name, None))
        raise _bad("wrong file identifier/HTTP URL specified")

    def _register_document(self, data: bytes, file_name: str, mime_type: str | None) -> JSON:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        extension = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        stored = self._register_file(
            "document", data, extension, {"file_name": file_name, "mime_type": mime}
        )
        return stored.meta

    async def _m_get_file(self, p: _Params) -> Any:
        file_id = p.opt_str("file_id") or ""
        stored = self._files.get(file_id)
        if stored is None:
            raise _bad("invalid file_id")
        if len(stored.data) > MAX_GETFILE_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": int(stored.meta.get("file_size", len(stored.data))),
            "file_path": stored.path,
        }

    def file_content(self, file_id: str) -> bytes | None:
        """Bytes behind a file_id (uploaded by the bot or sent by a simulated user)."""
        stored = self._files.get(file_id)
        return stored.data if stored else None

    # ================================================================ simulation API

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
            existing = _User(user_id, first_name)
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
        chat = _Chat(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            is_forum=is_forum,
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

    def _sim_user(self, user_id: int) -> _User:
        user = self._users.get(user_id)
        if user is None:
            self.user(user_id, first_name=f"User{user_id}")
            user = self._users[user_id]
        return user

    def _sim_chat(self, user: _User, chat_id: int | None) -> _Chat:
        if chat_id is None or chat_id == user.id:
            chat = self._chats.get(user.id)
            if chat is None:
                chat = _Chat(id=user.id, type="private", user=user)
                self._chats[user.id] = chat
            user.seen = True
            return chat
        chat = self._chats.get(chat_id)
        if chat is None or chat.user is not None:
            raise ValueError(f"unknown group {chat_id}: call add_group() first")
        chat.members.add(user.id)
        user.seen = True
        return chat

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
            reply = _snapshot(stored.data)
            thread_id = thread_id or stored.data.get("message_thread_id")
        message = self._new_message(
            chat, user.as_dict(), content, from_bot=False, thread_id=thread_id, reply_to=reply
        )
        if not self._bot_sees(chat, message, explicit_reply=reply):
            skipped = SimUpdate({"message": copy.deepcopy(message)})
            skipped.filtered = True
            return skipped
        return await self._emit({"message": copy.deepcopy(message)})

    def _bot_sees(self, chat: _Chat, message: JSON, *, explicit_reply: JSON | None) -> bool:
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

    async def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> SimUpdate:
        """The user writes ``text`` (privately, or in group ``chat_id``)."""
        if not text.strip():
            raise ValueError("Telegram clients cannot send empty messages")
        content: JSON = {"text": text}
        entities = detect_entities(text)
        if entities:
            content["entities"] = _sort_entities(entities)
        return await self._user_message(
            user_id, chat_id, content, thread_id=thread_id, reply_to=reply_to
        )

    async def edit_text(
        self, user_id: int, message_id: int, text: str, chat_id: int | None = None
    ) -> SimUpdate:
        """The user edits an earlier text message: emits ``edited_message``."""
        user = self._sim_user(user_id)
        chat = self._sim_chat(user, chat_id)
        stored = chat.messages.get(message_id)
        if stored is None or stored.from_bot or stored.data.get("from", {}).get("id") != user_id:
            raise ValueError(f"user {user_id} has no message {message_id} in chat {chat.id}")
        stored.data["text"] = text
        stored.data.pop("entities", None)
        entities = detect_entities(text)
        if entities:
            stored.data["entities"] = _sort_entities(entities)
        stored.data["edit_date"] = _now()
        return await self._emit({"edited_message": copy.deepcopy(stored.data)})

    async def send_photo(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        caption: str | None = None,
        content: bytes | None = None,
        width: int = 640,
        height: int = 480,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> SimUpdate:
        """The user sends a photo (a generated PNG unless ``content`` is given)."""
        data = content if content is not None else make_png(width, height)
        dims = _image_size(data) or (width, height)
        body: JSON = {"photo": self._register_photo(data, *dims)}
        if caption:
            body["caption"] = caption
            entities = detect_entities(caption)
            if entities:
                body["caption_entities"] = _sort_entities(entities)
        return await self._user_message(
            user_id, chat_id, body, thread_id=thread_id, reply_to=reply_to
        )

    async def send_document(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        file_name: str = "document.pdf",
        content: bytes = b"%PDF-1.4\n%fake\n",
        mime_type: str | None = None,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> SimUpdate:
        """The user sends a file."""
        body: JSON = {
            "document": copy.deepcopy(self._register_document(content, file_name, mime_type))
        }
        if caption:
            body["caption"] = caption
        return await self._user_message(
            user_id, chat_id, body, thread_id=thread_id, reply_to=reply_to
        )

    async def send_video(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        file_name: str = "video.mp4",
        content: bytes = b"\x00\x00\x00\x18ftypmp42fake-video",
        duration: int = 5,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> SimUpdate:
        """The user sends a video (as a video, not as a file)."""
        meta: JSON = {
            "width": 640,
            "height": 360,
            "duration": duration,
            "file_name": file_name,
            "mime_type": "video/mp4",
        }
        body: JSON = {
            "video": copy.deepcopy(self._register_file("video", content, ".mp4", meta).meta)
        }
        if caption:
            body["caption"] = caption
        return await self._user_message(
            user_id, chat_id, body, thread_id=thread_id, reply_to=reply_to
        )

    async def send_contact(
        self,
        user_id: int,
        phone_number: str = "+380501234567",
        chat_id: int | None = None,
        *,
        own: bool = True,
        first_name: str | None = None,
        last_name: str | None = None,
        contact_user_id: int | None = None,
    ) -> SimUpdate:
        """The user shares a contact; ``own=True`` is the "share my phone" button case
        (contact.user_id is the sender's id)."""
        user = self._sim_user(user_id)
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": first_name or (user.first_name if own else "Contact"),
        }
        surname = last_name if last_name is not None else (user.last_name if own else None)
        if surname:
            contact["last_name"] = surname
        linked = user_id if own else contact_user_id
        if linked is not None:
            contact["user_id"] = linked
        return await self._user_message(
            user_id, chat_id, {"contact": contact}, thread_id=None, reply_to=None
        )

    async def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        chat_id: int | None = None,
        *,
        horizontal_accuracy: float | None = None,
    ) -> SimUpdate:
        """The user shares a location."""
        location: JSON = {"latitude": latitude, "longitude": longitude}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return await self._user_message(
            user_id, chat_id, {"location": location}, thread_id=None, reply_to=None
        )

    async def send_sticker(
        self, user_id: int, emoji: str = "👍", chat_id: int | None = None
    ) -> SimUpdate:
        """The user sends a (static) sticker."""
        stored = self._register_file(
            "sticker",
            b"RIFF\x00\x00\x00\x00WEBPVP8 ",
            ".webp",
            {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "set_name": "FakeStickers",
            },
        )
        return await self._user_message(
            user_id, chat_id, {"sticker": copy.deepcopy(stored.meta)}, thread_id=None, reply_to=None
        )

    async def send_voice(
        self,
        user_id: int,
        duration: int = 3,
        chat_id: int | None = None,
        *,
        content: bytes = b"OggS\x00fake-opus",
        caption: str | None = None,
        size: int | None = None,
    ) -> SimUpdate:
        """The user sends a voice message (recorded in the app: OGG/Opus, no file name).
        ``size`` overrides the reported ``file_size`` (a long recording without its bytes)."""
        meta: JSON = {"duration": duration, "mime_type": "audio/ogg"}
        return await self._user_file(
            user_id, chat_id, "voice", content, ".oga", meta, caption, size
        )

    async def send_audio(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        file_name: str = "song.mp3",
        content: bytes = b"ID3\x04\x00fake-mp3",
        duration: int = 95,
        performer: str | None = "Гурт",
        title: str | None = "Пісня",
        caption: str | None = None,
        size: int | None = None,
    ) -> SimUpdate:
        """The user sends a music file (Telegram shows it with a player: ``audio``)."""
        meta: JSON = {
            "duration": duration,
            "file_name": file_name,
            "mime_type": mimetypes.guess_type(file_name)[0] or "audio/mpeg",
        }
        if performer:
            meta["performer"] = performer
        if title:
            meta["title"] = title
        return await self._user_file(
            user_id, chat_id, "audio", content, ".mp3", meta, caption, size
        )

    async def send_video_note(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        content: bytes = b"\x00\x00\x00\x18ftypmp42round-video",
        duration: int = 7,
        length: int = 384,
        size: int | None = None,
    ) -> SimUpdate:
        """The user sends a round video message (no caption, no file name: Telegram's
        ``VideoNote`` has neither)."""
        meta: JSON = {"duration": duration, "length": length}
        return await self._user_file(
            user_id, chat_id, "video_note", content, ".mp4", meta, None, size
        )

    async def send_animation(
        self,
        user_id: int,
        chat_id: int | None = None,
        *,
        file_name: str = "funny.gif.mp4",
        content: bytes = b"\x00\x00\x00\x18ftypmp42gif-as-video",
        duration: int = 2,
        caption: str | None = None,
    ) -> SimUpdate:
        """The user sends a GIF. Telegram converts GIFs to MPEG-4 and, "for backward
        compatibility", sets ``document`` to the same file as ``animation``."""
        meta: JSON = {
            "width": 320,
            "height": 240,
            "duration": duration,
            "file_name": file_name,
            "mime_type": "video/mp4",
        }
        stored = self._register_file("animation", content, ".mp4", meta)
        document = {
            key: stored.meta[key]
            for key in ("file_id", "file_unique_id", "file_name", "mime_type", "file_size")
        }
        body: JSON = {"animation": copy.deepcopy(stored.meta), "document": document}
        if caption:
            body["caption"] = caption
        return await self._user_message(user_id, chat_id, body, thread_id=None, reply_to=None)

    async def send_dice(
        self, user_id: int, emoji: str = "🎲", chat_id: int | None = None
    ) -> SimUpdate:
        """The user throws a die (a message with ``dice`` only)."""
        value = random.randint(1, 6)
        return await self._user_message(
            user_id,
            chat_id,
            {"dice": {"emoji": emoji, "value": value}},
            thread_id=None,
            reply_to=None,
        )

    async def _user_file(
        self,
        user_id: int,
        chat_id: int | None,
        kind: str,
        content: bytes,
        extension: str,
        meta: JSON,
        caption: str | None,
        size: int | None,
    ) -> SimUpdate:
        stored = self._register_file(kind, content, extension, meta)
        if size is not None:
            # Telegram accepts files up to 2 GB (4 GB with Premium); the test need not hold them.
            stored.meta["file_size"] = size
        body: JSON = {kind: copy.deepcopy(stored.meta)}
        if caption:
            body["caption"] = caption
        return await self._user_message(user_id, chat_id, body, thread_id=None, reply_to=None)

    async def press_button(
        self,
        user_id: int,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        *,
        strict: bool = True,
    ) -> SimUpdate:
        """The user presses an inline button with ``callback_data == data``.

        With ``strict`` (default) the message must exist, be the bot's and carry
        such a button, since a real client cannot press anything else.
        """
        user = self._sim_user(user_id)
        chat = self._sim_chat(user, chat_id)
        stored = chat.messages.get(message_id)
        if strict:
            buttons = (
                [
                    button.get("callback_data")
                    for row in stored.data.get("reply_markup", {}).get("inline_keyboard", [])
                    for button in row
                ]
                if stored is not None
                else []
            )
            if data not in buttons:
                raise ValueError(f"message {message_id} in chat {chat.id} has no button {data!r}")
        self._callback_seq += 1
        query_id = str(self.bot_id * 1_000_000 + self._callback_seq * 7919)
        self._callbacks[query_id] = _CallbackQuery(created=time.monotonic())
        query: JSON = {
            "id": query_id,
            "from": user.as_dict(),
            "chat_instance": str((chat.id * 1_000_003 + self.bot_id) & 0x7FFFFFFFFFFFFFFF),
            "data": data,
        }
        if stored is not None:
            query["message"] = copy.deepcopy(stored.data)
        return await self._emit({"callback_query": query})

    def _member_update(self, chat: _Chat, actor: _User, old: str, new: str) -> JSON:
        def member(status: str) -> JSON:
            out: JSON = {"status": status, "user": self.bot_user}
            if status == "kicked":
                out["until_date"] = 0
            return out

        return {
            "my_chat_member": {
                "chat": chat.as_dict(),
                "from": actor.as_dict(),
                "date": _now(),
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

    async def push_update(self, update: Mapping[str, Any]) -> SimUpdate:
        """Inject a raw Update (an ``update_id`` is assigned when missing; duplicates allowed).

        Chat state is not touched: this only delivers what you pass.
        """
        return await self._emit(dict(update))

    # ================================================================ inspection API

    def _chat_or_none(self, chat_id: int) -> _Chat | None:
        return self._chats.get(chat_id)

    def messages(self, chat_id: int) -> list[JSON]:
        """Bot-sent messages currently in the chat (edits applied, deletions removed)."""
        chat = self._chat_or_none(chat_id)
        if chat is None:
            return []
        return [
            copy.deepcopy(stored.data)
            for _mid, stored in sorted(chat.messages.items())
            if stored.from_bot and not stored.service
        ]

    def last_message(self, chat_id: int) -> JSON | None:
        found = self.messages(chat_id)
        return found[-1] if found else None

    def history(self, chat_id: int) -> list[JSON]:
        """Every message in the chat: users', the bot's and service messages."""
        chat = self._chat_or_none(chat_id)
        if chat is None:
            return []
        return [copy.deepcopy(stored.data) for _mid, stored in sorted(chat.messages.items())]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        chat = self._chat_or_none(chat_id)
        stored = chat.messages.get(message_id) if chat else None
        return copy.deepcopy(stored.data) if stored else None

    def reply_keyboard(self, chat_id: int) -> JSON | None:
        """The ReplyKeyboardMarkup the user currently sees (None after ReplyKeyboardRemove)."""
        chat = self._chat_or_none(chat_id)
        return copy.deepcopy(chat.keyboard) if chat and chat.keyboard else None

    def topics(self, chat_id: int) -> list[JSON]:
        chat = self._chat_or_none(chat_id)
        return [copy.deepcopy(t) for t in chat.topics.values()] if chat else []

    def calls_to(self, method: str) -> list[JSON]:
        """Params of every call of ``method`` (case-insensitive)."""
        wanted = method.lower()
        return [call.params for call in self.calls if call.method.lower() == wanted]

    def is_blocked(self, user_id: int) -> bool:
        user = self._users.get(user_id)
        return bool(user and user.blocked)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a plain bounded wait is the API we want
    ) -> list[JSON]:
        """Wait until the chat has at least ``count`` bot messages; TimeoutError otherwise."""
        if not await self._wait_until(lambda: len(self.messages(chat_id)) >= count, timeout):
            have = len(self.messages(chat_id))
            raise TimeoutError(
                f"chat {chat_id}: {have} bot messages after {timeout}s, want {count}"
            )
        return self.messages(chat_id)

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a plain bounded wait is the API we want
    ) -> list[JSON]:
        """Wait until ``method`` was called at least ``count`` times; TimeoutError otherwise."""
        if not await self._wait_until(lambda: len(self.calls_to(method)) >= count, timeout):
            have = len(self.calls_to(method))
            raise TimeoutError(f"{method}: {have} calls after {timeout}s, want {count}")
        return self.calls_to(method)


_CONTENT_KEYS = (
    "text",
    "entities",
    "photo",
    "document",
    "sticker",
    "voice",
    "audio",
    "video",
    "animation",
    "video_note",
    "contact",
    "location",
    "venue",
    "poll",
    "dice",
    "caption",
    "caption_entities",
)


def _message_content(message: Mapping[str, Any]) -> JSON:
    """The part of a message that forwarding/copying carries over."""
    return {key: copy.deepcopy(message[key]) for key in _CONTENT_KEYS if key in message}


def _administrator(user: JSON) -> JSON:
    rights = dict.fromkeys(
        (
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_pin_messages",
            "can_manage_topics",
        ),
        True,
    )
    return {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_send_welcome_messages": False,
        **rights,
    }


async def _read_multipart(reader: MultipartReader) -> tuple[JSON, dict[str, UploadedFile]]:
    fields: JSON = {}
    files: dict[str, UploadedFile] = {}
    async for part in reader:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        data = await part.read(decode=True)
        if part.filename is not None:
            files[part.name] = UploadedFile(
                filename=part.filename,
                content_type=part.headers.get("Content-Type", "application/octet-stream"),
                data=bytes(data),
            )
        else:
            fields[part.name] = bytes(data).decode(part.get_charset("utf-8"))
    return fields, files


def _parse_plain_body(mime: str, body: bytes) -> JSON:
    if not body:
        return {}
    if mime == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise _bad("can't parse JSON object") from exc
        if not isinstance(decoded, dict):
            raise _bad("JSON object expected")
        return decoded
    if mime in {"application/x-www-form-urlencoded", ""}:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return {}


async def _read_webhook_reply(resp: aiohttp.ClientResponse) -> tuple[JSON, dict[str, UploadedFile]]:
    """Parse a webhook answer that may carry a Bot API method call."""
    mime = resp.content_type.lower()
    if mime == "multipart/form-data":
        return await _read_multipart(MultipartReader(resp.headers, resp.content))
    body = await resp.read()
    try:
        return _parse_plain_body(mime, body), {}
    except ApiError:
        return {}, {}
