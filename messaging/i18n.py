"""Message catalogs: every text a resident or staff member reads, Ukrainian first, then English.

Catalog texts are trusted markup (a little HTML: <b>, <i>); values interpolated into them come
from people and are escaped here, so a resident who types ``<b>`` sees ``<b>``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LANGUAGES = ("uk", "en")
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


class Markup(str):
    """Text that is already safe markup and must not be escaped again."""

    __slots__ = ()


class Catalog:
    def __init__(self, messages: Mapping[str, Mapping[str, str]], *, default: str = "uk") -> None:
        if default not in messages:
            raise ValueError(f"no catalog for default language {default!r}")
        self._messages = messages
        self.default = default

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR, *, default: str = "uk") -> Catalog:
        """``uk.json`` plus every ``<part>.uk.json`` (and the same for each language); a key
        defined twice is an error, so parts written by different people cannot collide."""
        messages: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            merged: dict[str, str] = {}
            files = [directory / f"{language}.json", *sorted(directory.glob(f"*.{language}.json"))]
            for path in files:
                part = json.loads(path.read_text(encoding="utf-8"))
                clash = merged.keys() & part.keys()
                if clash:
                    raise ValueError(f"{path.name}: keys defined twice: {sorted(clash)}")
                merged.update(part)
            messages[language] = merged
        return cls(messages, default=default)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._messages)

    def keys(self, language: str) -> frozenset[str]:
        return frozenset(self._messages[language])

    def raw(self, language: str, key: str) -> str:
        """The catalog string itself (for tests and for checking placeholders)."""
        return self._messages[language][key]

    def text(self, language: str, key: str, /, **params: Any) -> Markup:
        catalog = self._messages.get(language) or self._messages[self.default]
        template = catalog.get(key)
        if template is None:
            # A missing translation falls back to the default language rather than failing a
            # resident's conversation; the catalog test keeps both complete.
            template = self._messages[self.default][key]
        safe = {
            name: value if isinstance(value, Markup) else html.escape(str(value), quote=False)
            for name, value in params.items()
        }
        return Markup(template.format(**safe) if safe else template)

    def plural(self, language: str, key: str, count: int, /, **params: Any) -> Markup:
        """``<key>.one|few|many`` for ``count`` (``plural_form``), given ``count`` as ``{count}``
        with its thousands apart."""
        form = plural_form(language if language in self._messages else self.default, count)
        return self.text(language, f"{key}.{form}", count=grouped(count), **params)

    def all_labels(self, key: str) -> set[str]:
        """The label in every language (a reply-keyboard press arrives as its label)."""
        return {catalog[key] for catalog in self._messages.values() if key in catalog}


def plural_form(language: str, count: int) -> str:
    """The plural category of ``count``: ``one``, ``few`` or ``many`` (Ukrainian: 1, 21 → one;
    2-4, 22-24 → few; 0, 5-20, 25 → many); English has ``one`` and ``many``."""
    n = abs(count)
    if language != "uk":
        return "one" if n == 1 else "many"
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def grouped(count: int) -> str:
    """``3412`` as ``3 412`` (thousands apart by a no-break space, as Ukrainian writes them)."""
    return f"{count:,}".replace(",", "\u00a0")
