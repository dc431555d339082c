"""News text typed in a browser, as the markup residents get (the web desk's composer).

The stored markup is the subset both messengers show: bold, italic, underline, strikethrough,
code and pre (Telegram renders them; Viber's adapter strips exactly these, ``markup_to_plain``).
An editor writes them as HTML tags (``<b>``, ``<strong>``, ``<i>``, ``<em>``, ``<u>``, ``<s>``,
``<del>``, ``<code>``, ``<pre>``) and a link as ``<a href="https://…">text</a>``, which becomes
``text (url)`` as in the Telegram composer (a link whose text is its address stays the address).
Everything else that looks like a tag is refused with what it was, so nothing is sent differently
from what was meant; ``&lt;`` types a literal ``<``. All text is escaped again on the way out.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final

from messaging.text import clean_text

# Telegram's limit for a message text; the stored markup is held to it (news is one message).
TEXT_MAX: Final = 4096
# Accepted spellings of the kept tags.
TAGS: Final = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
}
# Line breaks a pasted text may carry.
BREAKS: Final = frozenset({"br"})
SCHEMES: Final = ("https://", "http://", "tg://", "viber://", "mailto:", "tel:")


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a text: ``empty``, ``too_long`` (``size``), ``tag`` (``detail``: the
    tag), ``link`` (``detail``: the address), ``unclosed`` (``detail``: the tag)."""

    kind: str
    detail: str = ""
    size: int = 0


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.link: tuple[str, int] | None = None  # the address, where its text starts
        self.problem: Problem | None = None

    def _fail(self, problem: Problem) -> None:
        if self.problem is None:
            self.problem = problem

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BREAKS:
            self.out.append("\n")
        elif tag == "a" and self.link is None:
            href = (dict(attrs).get("href") or "").strip()
            if not href.lower().startswith(SCHEMES) or any(c.isspace() for c in href):
                self._fail(Problem("link", href[:80]))
            self.link = (href, len(self.out))
        elif tag in TAGS and not attrs:
            self.open.append(TAGS[tag])
            self.out.append(f"<{TAGS[tag]}>")
        else:
            self._fail(Problem("tag", f"<{tag}>"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        if tag in BREAKS:
            self.out.append("\n")
        else:
            self._fail(Problem("tag", f"<{tag}/>"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.link is not None:
            href, start = self.link
            self.link = None
            shown = html.unescape("".join(self.out[start:]))
            if shown.strip() and shown.strip() != href:
                self.out.append(f" ({html.escape(href, quote=False)})")
            elif not shown.strip():
                self.out.append(html.escape(href, quote=False))
        elif tag in TAGS and self.open and self.open[-1] == TAGS[tag]:
            self.open.pop()
            self.out.append(f"</{TAGS[tag]}>")
        elif tag not in BREAKS:
            self._fail(Problem("tag", f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def handle_comment(self, data: str) -> None:  # noqa: ARG002 - HTMLParser's signature
        self._fail(Problem("tag", "<!-- -->"))

    def handle_decl(self, decl: str) -> None:
        self._fail(Problem("tag", f"<!{decl[:20]}>"))

    def handle_pi(self, data: str) -> None:
        self._fail(Problem("tag", f"<?{data[:20]}>"))

    def unknown_decl(self, data: str) -> None:
        self._fail(Problem("tag", f"<![{data[:20]}]>"))


def news_markup(text: str) -> str | Problem:
    """The editor's text as the markup residents get, or what is wrong with it."""
    typed = clean_text(text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not typed:
        return Problem("empty")
    parser = _Parser()
    parser.feed(typed)
    parser.close()
    if parser.problem is not None:
        return parser.problem
    if parser.open:
        return Problem("unclosed", f"<{parser.open[-1]}>")
    if parser.link is not None:
        return Problem("unclosed", "<a>")
    markup = "".join(parser.out).strip()
    if not markup or not html.unescape(_strip_tags(markup)).strip():
        return Problem("empty")
    if len(markup) > TEXT_MAX:
        return Problem("too_long", size=len(markup))
    return markup


def _strip_tags(markup: str) -> str:
    for tag in set(TAGS.values()):
        markup = markup.replace(f"<{tag}>", "").replace(f"</{tag}>", "")
    return markup


def editable(markup: str) -> str:
    """Stored markup as the composer's text box shows it again (the same subset: it parses
    back to the same markup)."""
    return markup
