"""Entities Telegram finds on its own (links, mentions, ...) and trimming of the final text."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.markup.text import WS, char_u16, utf16_len

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
        prefix.append(prefix[-1] + char_u16(ch))
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


def sort_entities(entities: list[JSON]) -> list[JSON]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def trim_text(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip leading/trailing whitespace like the server, shifting entities along."""
    stripped_left = text.lstrip(WS)
    lead = utf16_len(text[: len(text) - len(stripped_left)])
    result = stripped_left.rstrip(WS)
    total = utf16_len(result)
    fixed: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return result, fixed
