"""Splitting long texts at the messengers' limits, and markup to plain text."""

from __future__ import annotations

from messaging.text import markup_to_plain, split_text, utf16_len


def test_short_text_is_one_part() -> None:
    assert split_text("привіт", 4096) == ["привіт"]


def test_split_respects_the_limit_in_utf16_units() -> None:
    text = "🙂" * 5000  # 10,000 UTF-16 units
    parts = split_text(text, 4096)
    assert all(utf16_len(part) <= 4096 for part in parts)
    assert "".join(parts) == text


def test_split_prefers_paragraphs_and_keeps_every_word() -> None:
    text = "\n\n".join(f"Абзац {i} " + "слово " * 300 for i in range(10))
    parts = split_text(text, 4096)
    assert len(parts) > 1
    assert all(utf16_len(part) <= 4096 for part in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())
    assert all(part.startswith("Абзац") for part in parts)


def test_markup_to_plain() -> None:
    assert markup_to_plain("<b>Увага</b> &lt;script&gt; &amp; ok") == "Увага <script> & ok"
