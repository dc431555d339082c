"""Message catalogs: every text a resident or staff member reads, Ukrainian first, then English.

The catalogs are gettext files managed with Babel: ``locales/<lang>/LC_MESSAGES/citybot.po``.
Their msgids are symbolic keys (``staff.ticket.usage``), and the texts are the msgstr in *both*
languages, Ukrainian included. We chose keys over "the Ukrainian text is the msgid" because the
council's staff reword Ukrainian texts often: with text msgids every rewording would be a code
change and would turn every English translation fuzzy; one Ukrainian phrase also means different
things in different places (a button, a heading), which keys already tell apart; and keys let
``tests/test_catalog_coverage.py`` prove both catalogs complete against the code.

Message contexts: a button label carries ``msgctxt "button"`` (``context_of``), so translators see
which texts must stay short; the context follows from the key, so call sites never pass it.
Translator comments (``#.``) describe each placeholder (``messaging/extract.py`` writes them).

At start each ``.po`` is parsed with Babel, compiled in memory and read through Python's
``gettext.GNUTranslations``: plurals follow each catalog's ``Plural-Forms`` header (three forms in
Ukrainian, two in English) and no compiled ``.mo`` has to be built or shipped.

The API the code uses: ``text(language, key, **params)``; ``plural(language, key, count,
**params)`` (a plural message also takes its form from ``count=`` in ``text``, so a generic
renderer such as a form error's need not know); ``decimal(language, value)`` for numbers with
decimals (``4,3 з 5``). Keys are literals or come from the tables in ``messaging/labels.py``.

Catalog texts are trusted markup (a little HTML: <b>, <i>) with ``str.format`` placeholders
(``{count}``), which read better to translators than ``%(count)s``; values interpolated into
them come from people and are escaped here, so a resident who types ``<b>`` sees ``<b>``.
"""

from __future__ import annotations

import gettext
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

# The key tables and the ``N_`` marker, re-exported: a module that renders texts reaches them
# through the same import as the catalog.
from messaging import labels as labels
from messaging.labels import N_ as N_

LANGUAGES = ("uk", "en")
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "citybot"
BUTTON_CONTEXT = "button"
# Key segments that mark a button label (``btn.back``, ``news.btn.edit``, ``kind.button.appeal``);
# reply-keyboard menu items (``menu.*``) are buttons too.
_BUTTON_SEGMENTS = frozenset({"btn", "button"})


def context_of(key: str) -> str | None:
    """The msgctxt of a key: ``button`` for button labels, none otherwise."""
    parts = key.split(".")
    if parts[0] == "menu" or _BUTTON_SEGMENTS.intersection(parts):
        return BUTTON_CONTEXT
    return None


def po_path(language: str, directory: Path = LOCALES_DIR) -> Path:
    return directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str, directory: Path = LOCALES_DIR) -> PoCatalog:
    with po_path(language, directory).open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


class Markup(str):
    """Text that is already safe markup and must not be escaped again."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class _Language:
    translations: gettext.GNUTranslations
    # msgid → its forms (one for a plain message, ``nplurals`` for a plural one).
    forms: Mapping[str, tuple[str, ...]]
    plurals: frozenset[str]
    locale: Locale


def _compile(po: PoCatalog) -> _Language:
    forms: dict[str, tuple[str, ...]] = {}
    plurals: set[str] = set()
    for message in po:
        if not message.id:
            continue  # the header
        key = _msgid(message.id)
        expected = context_of(key)
        if message.context != expected:
            raise ValueError(f"{po.locale}: {key!r} must have msgctxt {expected!r}")
        if message.pluralizable:
            plurals.add(key)
        strings = _strings(message.string)
        # A fuzzy or untranslated message is left out, as gettext leaves it out of the .mo:
        # the text falls back to the default language.
        if not message.fuzzy and all(strings):
            forms[key] = strings
    buffer = io.BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    assert po.locale is not None
    return _Language(gettext.GNUTranslations(buffer), forms, frozenset(plurals), po.locale)


def _strings(string: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if string is None:
        return ("",)
    return (string,) if isinstance(string, str) else tuple(string)


def _msgid(message_id: str | tuple[str, ...] | list[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


class Catalog:
    def __init__(self, languages: Mapping[str, _Language], *, default: str = "uk") -> None:
        if default not in languages:
            raise ValueError(f"no catalog for default language {default!r}")
        self._languages = languages
        self.default = default

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR, *, default: str = "uk") -> Catalog:
        return cls(
            {language: _compile(read_catalog(language, directory)) for language in LANGUAGES},
            default=default,
        )

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._languages)

    def keys(self, language: str) -> frozenset[str]:
        return frozenset(self._languages[language].forms)

    def raw(self, language: str, key: str) -> str:
        """The catalog string itself (the first form of a plural), for tests and checks."""
        return self._languages[language].forms[key][0]

    def forms(self, language: str, key: str) -> tuple[str, ...]:
        """Every form of a message: one, or ``nplurals`` for a plural message."""
        return self._languages[language].forms[key]

    def is_plural(self, key: str) -> bool:
        return key in self._languages[self.default].plurals

    def plurals(self, language: str) -> frozenset[str]:
        return self._languages[language].plurals

    def _language(self, language: str, key: str) -> _Language:
        found = self._languages.get(language)
        # A missing translation falls back to the default language rather than failing a
        # resident's conversation; the catalog tests keep both complete.
        if found is None or key not in found.forms:
            found = self._languages[self.default]
            if key not in found.forms:
                raise KeyError(key)
        return found

    def text(self, language: str, key: str, /, **params: Any) -> Markup:
        """The text of ``key`` with ``params`` filled in. A plural message takes its form from
        ``count``, so code that renders any key it is handed (a form error with its
        parameters) need not know which messages are plural."""
        found = self._language(language, key)
        if key in found.plurals:
            count = params.get("count")
            if not isinstance(count, int):
                raise TypeError(f"{key!r} is a plural message: give its count as count=")
            return _format(found.translations.ngettext(key, key, abs(count)), params)
        context = context_of(key)
        if context is None:
            template = found.translations.gettext(key)
        else:
            template = found.translations.pgettext(context, key)
        return _format(template, params)

    def plural(self, language: str, key: str, count: int, /, **params: Any) -> Markup:
        """The form of ``key`` for ``count`` by the catalog's ``Plural-Forms`` (Ukrainian: 1, 21
        → first; 2-4, 22-24 → second; 0, 5-20, 25 → third), with ``count`` given as ``{count}``
        and its thousands apart."""
        found = self._language(language, key)
        template = found.translations.ngettext(key, key, abs(count))
        return _format(template, {"count": grouped(count), **params})

    def decimal(self, language: str, value: float, *, digits: int = 1, trim: bool = False) -> str:
        """``4.3`` as the language writes it: ``4,3`` in Ukrainian, ``4.3`` in English, with
        ``digits`` decimals (at most that many, without trailing zeros, when ``trim``)."""
        found = self._languages.get(language) or self._languages[self.default]
        pattern = "0." + ("#" if trim else "0") * digits if digits else "0"
        return format_decimal(value, format=pattern, locale=found.locale)

    def all_labels(self, key: str) -> set[str]:
        """The label in every language (a reply-keyboard press arrives as its label)."""
        return {
            self.text(language, key)
            for language, found in self._languages.items()
            if key in found.forms
        }


def _format(template: str, params: Mapping[str, Any]) -> Markup:
    safe = {
        name: value if isinstance(value, Markup) else html.escape(str(value), quote=False)
        for name, value in params.items()
    }
    return Markup(template.format(**safe) if safe else template)


def grouped(count: int) -> str:
    """``3412`` as ``3 412`` (thousands apart by a no-break space, as Ukrainian writes them)."""
    return f"{count:,}".replace(",", "\u00a0")
