"""Greetings, thanks and lone emoji: answered kindly, never offered as a ticket.

A message is small talk only when every word in it is a word of greeting or thanks (so
"Доброго дня! У нас не світять ліхтарі" is a problem, not a greeting), or when it has no letters
or digits at all and is short (a 👍, a 🙏, "🙂🙂"). The words are data: Ukrainian first, with the
Russian and English forms residents also write.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Final


class SmallTalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    EMOJI = "emoji"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GREETING_WORDS: Final = _words(
    """
    привіт привітик привітання вітаю вітання здрастуйте здрастуй здоровенькі були доброго добрий
    добра добре доброї день дня дні вечір вечора вечері ранок ранку ранечку ніч ночі добридень
    добрий-день добраніч на добраніч шановні шановний шановна пані пане слава україні героям
    здравствуйте здравствуй привет добрый доброе утро вечер hello hi hey good morning afternoon
    evening
    """
)
_THANKS_WORDS: Final = _words(
    """
    дякую дякуємо дяки дяк спасибі спасибо спс дуже щиро велике величезне красно вам тобі
    всім усім вельми благодарю thanks thank you much ok ок окей okay зрозуміло зрозумів
    зрозуміла добре гаразд чудово супер клас
    """
)
# A lone emoji (or a few): letters and digits absent, and short.
_EMOJI_MAX: Final = 12
_WORD: Final = re.compile(r"[^\W\d_]+(?:['’ʼ`\-][^\W\d_]+)*")


def classify(text: str) -> SmallTalk | None:
    """What kind of small talk ``text`` is, or None when it says something more."""
    stripped = text.strip()
    if not stripped:
        return None
    if not any(ch.isalnum() for ch in stripped):
        compact = "".join(stripped.split())
        if len(compact) <= _EMOJI_MAX and any(_is_symbol(ch) for ch in compact):
            return SmallTalk.EMOJI
        return None
    found = _WORD.findall(stripped.casefold())
    words = [word.replace("’", "'").replace("ʼ", "'") for word in found]
    if not words or sum(len(word) for word in words) < _letters(stripped) or len(words) > 8:
        # Digits or other words beside the greeting: a message with content.
        return None
    if any(word in _THANKS_WORDS for word in words) and all(
        word in _THANKS_WORDS or word in _GREETING_WORDS for word in words
    ):
        return SmallTalk.THANKS
    if all(word in _GREETING_WORDS for word in words):
        return SmallTalk.GREETING
    return None


def _letters(text: str) -> int:
    """Letters and digits in ``text`` (a digit anywhere means it is not small talk)."""
    return sum(1 for ch in text if ch.isalnum())


def _is_symbol(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk", "Sm") or ch in "\u2764\u263a"
