"""A poll as an editor types it: the question on the first line, one option per line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.polls import OPTION_MAX, QUESTION_MAX
from messaging.i18n import N_
from storage import polls

_MARKER = re.compile(r"^\s*(?:[-•*–—]|\d{1,2}[.)])\s*")


@dataclass(frozen=True, slots=True)
class Draft:
    question: str
    options: tuple[str, ...]


def parse_poll(text: str) -> Draft | str:
    """The question (first line) and options (following lines, list markers like ``-``, ``•``,
    ``1.`` dropped), or the catalog key of what is wrong. Plain text: anything typed as HTML
    stays text (escaped when shown)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return N_("poll.compose.empty")
    question, options = lines[0], [_MARKER.sub("", line).strip() for line in lines[1:]]
    options = [option for option in options if option]
    if len(question) > QUESTION_MAX:
        return N_("poll.compose.question_long")
    if len(options) < polls.OPTIONS_MIN:
        return N_("poll.compose.few")
    if len(options) > polls.OPTIONS_MAX:
        return N_("poll.compose.many")
    if any(len(option) > OPTION_MAX for option in options):
        return N_("poll.compose.option_long")
    if len({option.casefold() for option in options}) != len(options):
        return N_("poll.compose.duplicate")
    return Draft(question=question, options=tuple(options))
