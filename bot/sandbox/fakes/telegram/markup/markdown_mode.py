"""parse_mode=MarkdownV2 and the legacy Markdown turned into text and entities."""

from __future__ import annotations

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.markup.text import WS, TextBuilder, normalize_url, utf8_offset
from bot.sandbox.fakes.telegram.records import entities_error

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

# What closes each open MarkdownV2 entity (italic only when not the start of "__").
_MDV2_CLOSERS = {
    "bold": "*",
    "italic": "_",
    "code": "`",
    "pre": "```",
    "text_link": "]",
    "underline": "__",
    "strikethrough": "~",
    "spoiler": "||",
}
# Single-character openers; "_", "|" and "`" need a look at what follows.
_MDV2_OPENERS = {"*": "bold", "~": "strikethrough", "[": "text_link"}


def _pre_language(text: str, i: int) -> tuple[str, int]:
    """After an opening ```: the language (if one is given) and where the code starts, past
    one line break."""
    n = len(text)
    language = ""
    lang_end = i
    while lang_end < n and text[lang_end] not in WS and text[lang_end] != "`":
        lang_end += 1
    if lang_end != i and lang_end < n and text[lang_end] != "`":
        language = text[i:lang_end]
        i = lang_end
    if i < n and text[i] in {"\n", "\r"}:
        following = text[i + 1] if i + 1 < n else ""
        i += 2 if following in {"\n", "\r"} and following != text[i] else 1
    return language, i


def _is_escape(text: str, i: int) -> bool:
    return i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 the way TDLib does (same reserved characters and errors)."""
    return _MarkdownV2Parser(text).parse()


class _MarkdownV2Parser:
    """One pass over the text with a cursor; each method reads one construct."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.i = 0
        self.out = TextBuilder()
        self.entities: list[JSON] = []
        # (type, argument, utf-16 start, byte offset, start index in out.parts)
        self.stack: list[tuple[str, str, int, int, int]] = []
        self.quote_start: int | None = None
        self.line_end_u16 = 0
        self.line_start = True

    def at(self, k: int) -> str:
        return self.text[k] if k < self.n else ""

    def parse(self) -> tuple[str, list[JSON]]:
        while self.i < self.n:
            self._step()
        if self.stack:
            kind, _arg, _start, byte_offset, _idx = self.stack[-1]
            raise entities_error(
                f"Can't find end of {_MDV2_TYPE_NAMES[kind]} entity at byte offset {byte_offset}"
            )
        if self.quote_start is not None:
            _add_entity(self.entities, "blockquote", self.quote_start, self.out.u16)
        return self.out.text(), self.entities

    def _step(self) -> None:
        ch = self.text[self.i]
        in_code = bool(self.stack) and self.stack[-1][0] in {"code", "pre"}
        if self.line_start and not in_code and self._line_start(ch):
            return
        if ch == "\\" and _is_escape(self.text, self.i):
            self.out.add(self.text[self.i + 1])
            self.i += 2
            return
        reserved = "`" if in_code else _MDV2_RESERVED
        if ch not in reserved:
            if ch == "\n":
                self.line_end_u16 = self.out.u16
                self.line_start = True
            self.out.add(ch)
            self.i += 1
        elif self.stack and self._closes(self.stack[-1][0]):
            self._close()
        else:
            self._open(ch)

    def _line_start(self, ch: str) -> bool:
        """At the start of a line: a ">" continues or opens a quote; anything else ends one.
        True when the ">" was consumed."""
        self.line_start = False
        if ch == ">":
            if self.quote_start is None:
                self.quote_start = self.out.u16
            self.i += 1
            return True
        if self.quote_start is not None:
            _add_entity(self.entities, "blockquote", self.quote_start, self.line_end_u16)
            self.quote_start = None
        return False

    def _closes(self, top: str) -> bool:
        if not self.text.startswith(_MDV2_CLOSERS[top], self.i):
            return False
        return not (top == "italic" and self.at(self.i + 1) == "_")

    def _open(self, ch: str) -> None:
        byte_offset = utf8_offset(self.text, self.i)
        argument = ""
        nxt = self.at(self.i + 1)
        if ch in _MDV2_OPENERS:
            kind = _MDV2_OPENERS[ch]
        elif ch == "_":
            kind = "underline" if nxt == "_" else "italic"
            self.i += kind == "underline"
        elif ch == "|" and nxt == "|":
            kind = "spoiler"
            self.i += 1
        elif ch == "`" and self.text.startswith("```", self.i):
            kind = "pre"
            argument, self.i = _pre_language(self.text, self.i + 3)
            self.i -= 1
        elif ch == "`":
            kind = "code"
        else:
            raise entities_error(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        self.stack.append((kind, argument, self.out.u16, byte_offset, len(self.out.parts)))
        self.i += 1

    def _close(self) -> None:
        kind, argument, start, _byte, parts_index = self.stack.pop()
        skip = self.out.u16 == start
        if kind in {"underline", "spoiler"}:
            self.i += 1
        elif kind == "pre":
            self.i += 2
        elif kind == "text_link":
            url = normalize_url(self._link_target(parts_index))
            if url is None:
                skip = True
            else:
                argument = url
        if not skip:
            entity: JSON = {"type": kind, "offset": start, "length": self.out.u16 - start}
            if kind == "text_link":
                entity["url"] = argument
            elif kind == "pre" and argument:
                entity["language"] = argument
            self.entities.append(entity)
        self.i += 1

    def _link_target(self, parts_index: int) -> str:
        """At the "]" of a link: the URL in "(...)" after it, or else the link's own text."""
        if self.at(self.i + 1) != "(":
            return "".join(self.out.parts[parts_index:])
        text, n = self.text, self.n
        self.i += 2
        url_begin = self.i
        chars: list[str] = []
        while self.i < n and text[self.i] != ")":
            if text[self.i] == "\\" and _is_escape(text, self.i):
                chars.append(text[self.i + 1])
                self.i += 2
                continue
            chars.append(text[self.i])
            self.i += 1
        if self.i >= n:
            raise entities_error(
                f"Can't find end of a URL at byte offset {utf8_offset(text, url_begin)}"
            )
        return "".join(chars)


def _add_entity(entities: list[JSON], kind: str, start: int, end: int) -> None:
    if end > start:
        entities.append({"type": kind, "offset": start, "length": end - start})


def parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Parse legacy ``Markdown`` (only * _ ` ``` and [text](url)), as TDLib does."""
    out = TextBuilder()
    entities: list[JSON] = []
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in {"_", "*", "`", "["}:
            out.add(text[i + 1])
            i += 2
        elif ch not in "_*`[":
            out.add(ch)
            i += 1
        else:
            i = _legacy_entity(text, i, out, entities)
    return out.text(), entities


def _legacy_entity(text: str, begin: int, out: TextBuilder, entities: list[JSON]) -> int:
    """One legacy Markdown entity starting at ``begin``; returns where parsing goes on."""
    n = len(text)
    ch = text[begin]
    end_char = "]" if ch == "[" else ch
    language = ""
    i = begin + 1
    is_pre = ch == "`" and text[i : i + 2] == "``"
    if is_pre:
        language, i = _pre_language(text, i + 2)
    start = out.u16
    while i < n and (text[i] != end_char or (is_pre and text[i + 1 : i + 3] != "``")):
        out.add(text[i])
        i += 1
    if i >= n:
        raise entities_error(
            f"Can't find end of the entity starting at byte offset {utf8_offset(text, begin)}"
        )
    length = out.u16 - start
    if ch == "[":
        i = _legacy_link(text, begin, i, start, length, entities)
    elif length:
        kind = {"_": "italic", "*": "bold"}.get(ch, "pre" if is_pre else "code")
        entity: JSON = {"type": kind, "offset": start, "length": length}
        if language:
            entity["language"] = language
        entities.append(entity)
    return i + (3 if is_pre else 1)


def _legacy_link(
    text: str, begin: int, i: int, start: int, length: int, entities: list[JSON]
) -> int:
    """At the "]" of a legacy link: read its "(url)" if any; returns the index of the last
    character read."""
    n = len(text)
    if i + 1 < n and text[i + 1] == "(":
        i += 2
        url_start = i
        while i < n and text[i] != ")":
            i += 1
        url_text = text[url_start:i]
    else:
        url_text = text[begin + 1 : i]
    url = normalize_url(url_text)
    if length and url is not None:
        entities.append({"type": "text_link", "offset": start, "length": length, "url": url})
    return i
