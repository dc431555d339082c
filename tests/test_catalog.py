"""Message catalogs: complete in both languages, same placeholders, values escaped."""

from __future__ import annotations

import string

from handlers import actions
from handlers.screens import MENU_ITEMS
from messaging.i18n import Catalog, Markup
from storage.vocabulary import Digest, District, Topic


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogs_have_the_same_keys_and_placeholders() -> None:
    catalog = Catalog.load()
    assert catalog.keys("uk") == catalog.keys("en")
    for key in catalog.keys("uk"):
        assert _placeholders(catalog.raw("uk", key)) == _placeholders(catalog.raw("en", key)), key
        assert catalog.raw("uk", key).strip(), key


def test_every_vocabulary_item_has_a_label() -> None:
    catalog = Catalog.load()
    needed = {f"topic.{t.value}" for t in Topic} | {f"district.{d.value}" for d in District}
    needed |= {f"digest.{d.value}" for d in Digest} | {key for key, _ in MENU_ITEMS}
    needed |= {key for _, key in actions.PUBLIC_COMMANDS}
    assert needed <= catalog.keys("uk")


def test_interpolated_values_are_escaped_but_markup_is_not() -> None:
    catalog = Catalog.load()
    text = catalog.text("uk", "settings.title", summary="<script>&")
    assert "&lt;script&gt;&amp;" in text
    trusted = catalog.text("uk", "settings.title", summary=Markup("<b>ok</b>"))
    assert "<b>ok</b>" in trusted


def test_unknown_language_falls_back_to_default() -> None:
    catalog = Catalog.load()
    assert catalog.text("de", "menu.help") == catalog.text("uk", "menu.help")


def test_actions_fit_telegram_callback_data() -> None:
    longest_argument = max(len(v.value) for v in (*Topic, *District, *Digest))
    for verb in (actions.TOPIC_TOGGLE, actions.DISTRICT, actions.DIGEST, actions.LANGUAGE):
        assert len(f"{verb}:".encode()) + longest_argument <= 64
