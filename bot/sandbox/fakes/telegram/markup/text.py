"""UTF-16 arithmetic, URL normalization and HTML entity decoding shared by the parsers."""

from __future__ import annotations

import re

# --------------------------------------------------------------------------------------
# Text: UTF-16 helpers, entity parsers, auto-detected entities
# --------------------------------------------------------------------------------------

# TDLib treats only these as whitespace when trimming and parsing tags.
WS = " \t\r\n\x0b\x0c"


def utf16_len(text: str) -> int:
    """Entity offsets and text limits are measured in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def char_u16(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


class TextBuilder:
    """Accumulates parsed text while tracking the UTF-16 offset entities need."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.u16 += utf16_len(chunk)

    def text(self) -> str:
        return "".join(self.parts)


def utf8_offset(text: str, pos: int) -> int:
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


HTML_TAG_TYPES = {
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


def decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
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
