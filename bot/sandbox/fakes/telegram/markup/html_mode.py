"""parse_mode=HTML: Telegram's subset of HTML turned into text and entities."""

from __future__ import annotations

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.markup.text import (
    _HTML_TAG_TYPES,
    _WS,
    _byte_offset,
    _decode_html_entity,
    _TextBuilder,
    normalize_url,
)
from bot.sandbox.fakes.telegram.records import _entities_error


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
