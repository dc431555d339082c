"""parse_mode=MarkdownV2 and the legacy Markdown turned into text and entities."""

from __future__ import annotations

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.markup.html_mode import _MDV2_RESERVED, _MDV2_TYPE_NAMES
from bot.sandbox.fakes.telegram.markup.text import _WS, _byte_offset, _TextBuilder, normalize_url
from bot.sandbox.fakes.telegram.records import _entities_error


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Parse MarkdownV2 the way TDLib does (same reserved characters and errors)."""
    out = _TextBuilder()
    entities: list[JSON] = []
    # (type, argument, utf-16 start, byte offset, start index in out.parts)
    stack: list[tuple[str, str, int, int, int]] = []
    quote_start: int | None = None
    line_end_u16 = 0
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else ""

    i = 0
    line_start = True
    while i < n:
        ch = text[i]
        in_code = bool(stack) and stack[-1][0] in {"code", "pre"}
        if line_start and not in_code:
            line_start = False
            if ch == ">":
                if quote_start is None:
                    quote_start = out.u16
                i += 1
                continue
            if quote_start is not None:
                _add_entity(entities, "blockquote", quote_start, line_end_u16)
                quote_start = None
        if ch == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        reserved = "`" if in_code else _MDV2_RESERVED
        if ch not in reserved:
            if ch == "\n":
                line_end_u16 = out.u16
                line_start = True
            out.add(ch)
            i += 1
            continue
        closing = False
        if stack:
            top = stack[-1][0]
            closing = (
                (top == "bold" and ch == "*")
                or (top == "italic" and ch == "_" and at(i + 1) != "_")
                or (top == "code" and ch == "`")
                or (top == "pre" and text[i : i + 3] == "```")
                or (top == "text_link" and ch == "]")
                or (top == "underline" and text[i : i + 2] == "__")
                or (top == "strikethrough" and ch == "~")
                or (top == "spoiler" and text[i : i + 2] == "||")
            )
        if not closing:
            byte_offset = _byte_offset(text, i)
            argument = ""
            if ch == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif ch == "*":
                kind = "bold"
            elif ch == "~":
                kind = "strikethrough"
            elif ch == "|" and at(i + 1) == "|":
                kind = "spoiler"
                i += 1
            elif ch == "[":
                kind = "text_link"
            elif ch == "`":
                if text[i : i + 3] == "```":
                    kind = "pre"
                    i += 3
                    lang_end = i
                    while lang_end < n and text[lang_end] not in _WS and text[lang_end] != "`":
                        lang_end += 1
                    if lang_end != i and lang_end < n and text[lang_end] != "`":
                        argument = text[i:lang_end]
                        i = lang_end
                    if at(i) in {"\n", "\r"}:
                        i += 2 if at(i + 1) in {"\n", "\r"} and at(i + 1) != at(i) else 1
                    i -= 1
                else:
                    kind = "code"
            else:
                raise _entities_error(
                    f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
                )
            stack.append((kind, argument, out.u16, byte_offset, len(out.parts)))
            i += 1
            continue

        kind, argument, start, _byte, parts_index = stack.pop()
        skip = out.u16 == start
        if kind in {"underline", "spoiler"}:
            i += 1
        elif kind == "pre":
            i += 2
        elif kind == "text_link":
            if at(i + 1) != "(":
                url_text = "".join(out.parts[parts_index:])
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise _entities_error(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url_text = "".join(chars)
            url = normalize_url(url_text)
            if url is None:
                skip = True
            else:
                argument = url
        if not skip:
            entity: JSON = {"type": kind, "offset": start, "length": out.u16 - start}
            if kind == "text_link":
                entity["url"] = argument
            elif kind == "pre" and argument:
                entity["language"] = argument
            entities.append(entity)
        i += 1
    if stack:
        kind, _arg, _start, byte_offset, _idx = stack[-1]
        raise _entities_error(
            f"Can't find end of {_MDV2_TYPE_NAMES[kind]} entity at byte offset {byte_offset}"
        )
    if quote_start is not None:
        _add_entity(entities, "blockquote", quote_start, out.u16)
    return out.text(), entities


def _add_entity(entities: list[JSON], kind: str, start: int, end: int) -> None:
    if end > start:
        entities.append({"type": kind, "offset": start, "length": end - start})


def parse_markdown(text: str) -> tuple[str, list[JSON]]:
    """Parse legacy ``Markdown`` (only * _ ` ``` and [text](url)), as TDLib does."""
    out = _TextBuilder()
    entities: list[JSON] = []
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else ""

    i = 0
    while i < n:
        ch = text[i]
        if ch == "\\" and at(i + 1) in {"_", "*", "`", "["}:
            out.add(text[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        begin = i
        end_char = "]" if ch == "[" else ch
        is_pre = False
        language = ""
        i += 1
        if ch == "`" and text[i : i + 2] == "``":
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and text[lang_end] not in _WS and text[lang_end] != "`":
                lang_end += 1
            if lang_end != i and lang_end < n and text[lang_end] != "`":
                language = text[i:lang_end]
                i = lang_end
            if at(i) in {"\n", "\r"}:
                i += 2 if at(i + 1) in {"\n", "\r"} and at(i + 1) != at(i) else 1
        start = out.u16
        while i < n and (text[i] != end_char or (is_pre and text[i + 1 : i + 3] != "``")):
            out.add(text[i])
            i += 1
        if i >= n:
            raise _entities_error(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        length = out.u16 - start
        if ch == "[":
            if at(i + 1) == "(":
                i += 2
                url_start = i
                while i < n and text[i] != ")":
                    i += 1
                url_text = text[url_start:i]
            else:
                url_text = text[begin + 1 : i]
            url = normalize_url(url_text)
            if length and url is not None:
                entities.append(
                    {"type": "text_link", "offset": start, "length": length, "url": url}
                )
        elif length:
            kind = {"_": "italic", "*": "bold"}.get(ch, "pre" if is_pre else "code")
            entity: JSON = {"type": kind, "offset": start, "length": length}
            if language:
                entity["language"] = language
            entities.append(entity)
        if is_pre:
            i += 2
        i += 1
    return out.text(), entities
