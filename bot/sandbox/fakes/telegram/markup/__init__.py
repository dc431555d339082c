"""Telegram's text formatting: parse modes into (text, entities), and auto-detected links."""

from bot.sandbox.fakes.telegram.markup.autodetect import detect_entities
from bot.sandbox.fakes.telegram.markup.html_mode import parse_html
from bot.sandbox.fakes.telegram.markup.markdown_mode import parse_markdown, parse_markdown_v2
from bot.sandbox.fakes.telegram.markup.text import utf16_len

__all__ = ["detect_entities", "parse_html", "parse_markdown", "parse_markdown_v2", "utf16_len"]
