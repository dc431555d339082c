"""Text helpers shared by the adapters: cleaning what people send, message splitting and
markup-to-plain conversion."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

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


def clean_text(text: str) -> str:
    """``text`` as it may be stored on either database, the same every time it is given.

    - NUL is removed: PostgreSQL's text types cannot hold it (``invalid byte sequence``), and
      nobody means it;
    - a lone surrogate (JSON may carry ``"\\ud800"``) becomes U+FFFD: it cannot be encoded in
      UTF-8, and a pair split in two code points is joined into the character it stands for;
    - NFC: the same words typed on different keyboards (``й`` as one code point or as ``и`` and
      a combining breve) are stored, counted against limits and searched alike. Not NFKC, which
      changes what was written (superscripts, ligatures, full-width forms).
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def clip_file_name(name: str, limit: int) -> str:
    """``name`` no longer than ``limit`` characters, keeping its extension where it can."""
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) < limit // 2:
        return stem[: limit - len(extension) - 1] + "." + extension
    return name[:limit]


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as staff and residents read it: council time, ``05.12.2026 14:30``."""
    return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M")


def format_when(moment: datetime | None, zone: ZoneInfo, *, exact: bool = False) -> str:
    """A deadline as the council reads it: the local date (a legal term ends at the end of its
    last day), or date and time for the exact 48-hour term."""
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    return local.strftime("%d.%m.%Y %H:%M" if exact else "%d.%m.%Y")
