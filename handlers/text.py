"""Text helpers shared by the adapters: message splitting and markup-to-plain conversion."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"</?(?:b|i|u|s|code|pre)>")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: most emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into parts no longer than ``limit`` (UTF-16 units), preferring paragraph,
    then line, then word boundaries; never returns an empty part for non-empty text."""
    if utf16_len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        cut = _cut_point(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            parts.append(head)
    if rest:
        parts.append(rest)
    return parts


def _cut_point(text: str, limit: int) -> int:
    # The longest prefix that fits, found by UTF-16 length.
    fit = 0
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            break
        fit = index + 1
    window = text[:fit]
    for separator in ("\n\n", "\n", " "):
        position = window.rfind(separator)
        if position > fit // 2:
            return position + len(separator)
    return max(fit, 1)


def markup_to_plain(markup: str) -> str:
    """Catalog markup (<b>, <i>, escaped entities) as plain text, for messengers without HTML."""
    return html.unescape(_TAG.sub("", markup))
