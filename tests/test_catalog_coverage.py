"""Both catalogs hold exactly the message ids the code uses; plurals and numbers are Ukrainian.

The ids come from ``messaging/extract.py``, the walk ``pybabel extract`` makes (babel.cfg): the
first string-literal argument of every catalog call form, plus the ``N_`` entries of the tables
in ``messaging/labels.py``.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest

from messaging.extract import dynamic_in_source, dynamic_keys, uses, uses_in_source
from messaging.i18n import LANGUAGES, Catalog, context_of, read_catalog
from messaging.placeholders import PLACEHOLDERS

ROOT = Path(__file__).resolve().parent.parent
CATALOG = Catalog.load()
USES = uses(ROOT)
USED = {use.key for use in USES}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_id_the_code_uses_is_in_the_catalog(language: str) -> None:
    missing = sorted(
        f"{use.path}:{use.line}: {use.key}" for use in USES if use.key not in CATALOG.keys(language)
    )
    assert not missing, f"not in the {language} catalog:\n" + "\n".join(missing)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalog_has_no_id_the_code_does_not_use(language: str) -> None:
    unused = sorted(CATALOG.keys(language) - USED)
    assert not unused, f"in the {language} catalog but used nowhere: {unused}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language: str) -> None:
    # The loader leaves fuzzy and empty messages out (they fall back to Ukrainian), so the
    # .po file itself is read here.
    bad = sorted(
        str(message.id)
        for message in read_catalog(language)
        if message.id and (message.fuzzy or not all(_forms(message.string)))
    )
    assert not bad, f"fuzzy or untranslated in {language}: {bad}"


def _forms(string_: object) -> tuple[object, ...]:
    return tuple(string_) if isinstance(string_, (list, tuple)) else (string_,)


def test_no_key_is_built_at_run_time() -> None:
    built = [f"{use.path}:{use.line}: {use.key}" for use in dynamic_keys(ROOT)]
    assert not built, "keys built from strings (use a table in messaging/labels.py):\n" + "\n".join(
        built
    )


def test_the_walk_sees_literals_tables_and_built_keys() -> None:
    """The extractor itself: what counts as a use, and what as a key built at run time."""
    source = (
        'catalog.text(lang, "a.b", n=1)\n'
        'self._t(turn, "c.d" if x else "e.f")\n'
        'TABLE = {"x": N_("g.h")}\n'
        'key = "i.j"\n'
        'text("SELECT 1")\n'
        'catalog.plural(lang, "k.l", 3)\n'
        'self.t(f"m.{code}")\n'
    )
    found = {(use.key, use.plural) for use in uses_in_source(source)}
    assert found == {
        ("a.b", False),
        ("c.d", False),
        ("e.f", False),
        ("g.h", False),
        ("i.j", False),
        ("k.l", True),
    }
    assert [use.key for use in dynamic_in_source(source)] == ["f'm.{code}'"]


def test_plural_calls_name_plural_messages() -> None:
    wrong = sorted({use.key for use in USES if use.plural and not CATALOG.is_plural(use.key)})
    assert not wrong, f"catalog.plural() on messages that are not plural: {wrong}"


@pytest.mark.parametrize(("language", "nplurals"), [("uk", 3), ("en", 2)])
def test_plural_messages_have_every_form_with_the_same_placeholders(
    language: str, nplurals: int
) -> None:
    assert CATALOG.plurals(language) == CATALOG.plurals("uk")
    for key in CATALOG.plurals(language):
        forms = CATALOG.forms(language, key)
        assert len(forms) == nplurals, key
        assert "count" in _placeholders(forms[0]), key
        names = {frozenset(_placeholders(form)) for form in forms}
        assert len(names) == 1, key


def test_both_catalogs_have_the_same_placeholders_in_every_form() -> None:
    for key in CATALOG.keys("uk"):
        uk = set().union(*(_placeholders(form) for form in CATALOG.forms("uk", key)))
        en = set().union(*(_placeholders(form) for form in CATALOG.forms("en", key)))
        assert uk == en, key


def test_every_placeholder_is_described_for_translators() -> None:
    names = {
        name
        for key in CATALOG.keys("uk")
        for form in CATALOG.forms("uk", key)
        for name in _placeholders(form)
    }
    assert sorted(names - PLACEHOLDERS.keys()) == [], "describe in messaging/placeholders.py"
    assert sorted(PLACEHOLDERS.keys() - names) == [], "described but used by no message"


def test_button_labels_carry_the_button_context() -> None:
    for message in read_catalog("uk"):
        if message.id:
            key = message.id if isinstance(message.id, str) else message.id[0]
            assert message.context == context_of(key), key
    assert context_of("btn.back") == "button" and context_of("news.btn.edit") == "button"
    assert context_of("menu.help") == "button" and context_of("news.sending") is None


@pytest.mark.parametrize(
    ("count", "stats", "days"),
    [
        (1, "1 адресат", "1 день"),
        (2, "2 адресати", "2 дні"),
        (5, "5 адресатів", "5 днів"),
        (11, "11 адресатів", "11 днів"),
        (21, "21 адресат", "21 день"),
        (22, "22 адресати", "22 дні"),
        (25, "25 адресатів", "25 днів"),
        (111, "111 адресатів", "111 днів"),
        (71, "71 адресат", "71 день"),
        (3, "3 адресати", "3 дні"),
    ],
)
def test_ukrainian_has_three_plural_forms(count: int, stats: str, days: str) -> None:
    line = CATALOG.text(
        "uk",
        "stats.broadcast.line",
        id=7,
        title="Вода",
        started="05.12",
        count=count,
        sent=0,
        blocked=0,
        failed=0,
        pending=0,
    )
    assert f": {stats}," in line
    assert CATALOG.text("uk", "stats.duration.days", count=count, hours=2) == f"{days} 2 год"


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "1 звернення"), (2, "2 звернення"), (5, "5 звернень"), (21, "21 звернення")],
)
def test_tickets_are_counted_the_ukrainian_way(count: int, expected: str) -> None:
    assert f"надіслали {expected} за добу" in CATALOG.text("uk", "file.flood_day", count=count)


@pytest.mark.parametrize(("count", "expected"), [(1, "(1 ticket)"), (2, "(2 tickets)")])
def test_english_has_two_plural_forms(count: int, expected: str) -> None:
    assert expected in CATALOG.text("en", "forget.done", count=count)
    confirm = CATALOG.plural("en", "news.confirm.send", count)
    assert confirm.endswith(f"{count} resident?" if count == 1 else f"{count} residents?")


def test_plural_gives_the_count_its_thousands_apart() -> None:
    assert CATALOG.plural("uk", "news.confirm.send", 3412) == "❓ Надіслати 3\u00a0412 мешканцям?"


def test_a_plural_message_needs_its_count() -> None:
    with pytest.raises(TypeError):
        CATALOG.text("uk", "file.flood_day")


def test_decimals_use_the_languages_separator() -> None:
    assert CATALOG.decimal("uk", 4.333) == "4,3"
    assert CATALOG.decimal("en", 4.333) == "4.3"
    assert CATALOG.decimal("uk", 2.0, digits=2, trim=True) == "2"
    assert CATALOG.decimal("uk", 2.5, digits=2, trim=True) == "2,5"
    average = CATALOG.decimal("uk", 4.3)
    line = CATALOG.text("uk", "stats.ratings", average=average, count=12, scores="")
    assert "4,3 з 5" in line
