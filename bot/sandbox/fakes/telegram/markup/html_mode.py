"""parse_mode=HTML: Telegram's subset of HTML turned into text and entities."""

from __future__ import annotations

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.markup.text import (
    HTML_TAG_TYPES,
    WS,
    TextBuilder,
    decode_html_entity,
    normalize_url,
    utf8_offset,
)
from bot.sandbox.fakes.telegram.records import entities_error


def parse_html(text: str, *, strict: bool = True) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML subset into (plain text, entities).

    Mirrors TDLib's parser, including its error messages (which the Bot API
    prefixes with ``can't parse entities:``).  With ``strict`` a bare ``&`` is an
    error too, as the documentation demands it be escaped.
    """
    return _HtmlParser(text, strict=strict).parse()


class _HtmlParser:
    """One pass over the text with a cursor; each method reads one construct."""

    def __init__(self, text: str, *, strict: bool) -> None:
        self.text = text
        self.strict = strict
        self.n = len(text)
        self.i = 0
        self.out = TextBuilder()
        self.stack: list[tuple[str, str, int]] = []  # (tag, argument, utf-16 start)
        self.entities: list[JSON] = []

    def parse(self) -> tuple[str, list[JSON]]:
        while self.i < self.n:
            ch = self.text[self.i]
            if ch == "&":
                self._ampersand()
            elif ch != "<":
                self.out.add(ch)
                self.i += 1
            elif self.i + 1 < self.n and self.text[self.i + 1] == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self.stack:
            raise entities_error(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"'
            )
        for entity in self.entities:
            if entity["type"] == "code":
                # A language only means something on <pre><code class=...>, merged above.
                entity.pop("language", None)
        return self.out.text(), self.entities

    # ---------------------------------------------------------------- cursor helpers

    def _at_end(self) -> bool:
        return self.i >= self.n

    def _skip_ws(self) -> None:
        while self.i < self.n and self.text[self.i] in WS:
            self.i += 1

    def _read_name(self, stop: str) -> str:
        """Up to whitespace or one of ``stop``, lower-cased."""
        start = self.i
        while self.i < self.n and self.text[self.i] not in WS and self.text[self.i] not in stop:
            self.i += 1
        return self.text[start : self.i].lower()

    def _error(self, message: str, pos: int) -> Exception:
        return entities_error(f"{message} at byte offset {utf8_offset(self.text, pos)}")

    # ---------------------------------------------------------------- constructs

    def _ampersand(self) -> None:
        decoded = decode_html_entity(self.text, self.i)
        if decoded is not None:
            self.out.add(decoded[0])
            self.i += decoded[1]
            return
        if self.strict:
            raise entities_error(
                f'Character "&" must be escaped as "&amp;" at byte offset '
                f"{utf8_offset(self.text, self.i)}"
            )
        self.out.add("&")
        self.i += 1

    def _end_tag(self) -> None:
        begin = self.i
        if not self.stack:
            raise self._error("Unexpected end tag", begin)
        self.i += 2
        end_name = self._read_name(">")
        self._skip_ws()
        if self._at_end() or self.text[self.i] != ">":
            raise self._error("Unclosed end tag", begin)
        self.i += 1
        tag, argument, start = self.stack.pop()
        if end_name and end_name != tag:
            raise entities_error(
                f"Unmatched end tag at byte offset {utf8_offset(self.text, begin)}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        _close_html_entity(self.entities, tag, argument, start, self.out.u16)

    def _start_tag(self) -> None:
        begin = self.i
        self.i += 1
        tag = self._read_name(">")
        if self._at_end():
            raise self._error("Unclosed start tag", begin)
        if tag not in HTML_TAG_TYPES:
            raise self._error(f'Unsupported start tag "{tag}"', begin)
        argument = ""
        while True:
            self._skip_ws()
            if self._at_end():
                raise self._error("Unclosed start tag", begin)
            if self.text[self.i] == ">":
                break
            argument = self._attribute(tag, argument, begin)
        self.i += 1  # the closing ">"
        if tag == "span" and argument != "spoiler":
            raise self._error('Tag "span" must have class "tg-spoiler"', begin)
        self.stack.append((tag, argument, self.out.u16))

    def _attribute(self, tag: str, argument: str, begin: int) -> str:
        """Read one attribute; returns the tag's argument as it stands after it."""
        attribute = self._read_name("=>")
        if not attribute:
            raise self._error(f'Empty attribute name in the tag "{tag}"', begin)
        self._skip_ws()
        if self._at_end() or self.text[self.i] != "=":
            # <blockquote expandable> is the one value-less attribute Telegram knows.
            if tag == "blockquote" and attribute == "expandable" and not self._at_end():
                return "expandable"
            raise self._error(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}"', begin
            )
        self.i += 1
        self._skip_ws()
        if self._at_end():
            raise self._error(f'Unclosed start tag "{tag}"', begin)
        quoted = self.text[self.i] in "'\""
        value = self._quoted_value(begin) if quoted else self._unquoted_value()
        given = _tag_argument(tag, attribute, value)
        return argument if given is None else given

    def _unquoted_value(self) -> str:
        text, n = self.text, self.n
        start = self.i
        while self.i < n and (
            (text[self.i].isascii() and text[self.i].isalnum()) or text[self.i] in ".-"
        ):
            self.i += 1
        if self.i >= n or (text[self.i] not in WS and text[self.i] != ">"):
            raise self._error("Unexpected end of name token", start)
        return text[start : self.i].lower()

    def _quoted_value(self, begin: int) -> str:
        quote = self.text[self.i]
        self.i += 1
        chunks: list[str] = []
        while self.i < self.n and self.text[self.i] != quote:
            if self.text[self.i] == "&":
                decoded = decode_html_entity(self.text, self.i)
                if decoded is not None:
                    chunks.append(decoded[0])
                    self.i += decoded[1]
                    continue
            chunks.append(self.text[self.i])
            self.i += 1
        if self._at_end():
            raise self._error("Unclosed start tag", begin)
        self.i += 1
        return "".join(chunks)


def _tag_argument(tag: str, attribute: str, value: str) -> str | None:
    """The argument an attribute gives its tag (None: the attribute means nothing here)."""
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value[len("language-") :]
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value[len("tg-") :]
    return None


def _close_html_entity(entities: list[JSON], tag: str, argument: str, start: int, end: int) -> None:
    length = end - start
    if length <= 0:
        return  # empty entities are dropped, as the real parser does
    entity: JSON = {"type": HTML_TAG_TYPES[tag], "offset": start, "length": length}
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
