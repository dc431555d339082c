"""The category suggester: ranks the ticket categories for what a resident wrote, and says why.

Transparent on purpose: a category scores by the keywords and phrases of its list (data that
administrators edit with ``citybot keywords``) found in the text, and every suggestion carries
the terms that matched, so staff can see why the bot suggested what it did.

Word forms are handled by lemmatising both the lists and the message with pymorphy3's
Ukrainian dictionary (``ліхтарів`` → ``ліхтар``); a word the Ukrainian dictionary does not know
is tried in the Russian one (``фонари`` → ``фонарь``: many residents write in Russian). A word
neither knows (a typo, surzhyk: ``фанарі``, ``підїзд``) is compared with the lists' words by edit
distance, which is only worth its cost for such words. Nothing matched: "other" ranks first.

Use :func:`suggest` from a conversation (it reads the current lists from the database, cached,
and rebuilds when an administrator changed them); :class:`Classifier` is the pure part.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from storage import keyword_store
from storage.textfold import APOSTROPHES
from storage.vocabulary import CATEGORY_QUEUES

if TYPE_CHECKING:
    import pymorphy3

# Best first when scores tie, and the order of the ranked list: roughly how often residents of
# Kryvyi Rih write about each (housing and utilities most), "other" last.
CATEGORIES: tuple[str, ...] = (
    "housing",
    "improvement",
    "roads_transport",
    "social",
    "council_work",
    "other",
)
assert set(CATEGORIES) == set(CATEGORY_QUEUES)
OTHER = "other"
# "other" starts with this score, so it ranks first when nothing matched and last as soon as
# one whole keyword of another category did.
OTHER_PRIOR = 0.5
# A term found only through a fuzzy (typo) match counts this much of its weight.
FUZZY_FACTOR = 0.75
# Words of a phrase may stand this many words apart ("немає гарячої води" ~ "немає води").
PHRASE_GAP = 2
# Only this much of a very long message is read: what a resident is about is said early, and
# the cost per message stays bounded (a Telegram text is at most 4096 characters anyway).
TEXT_LIMIT = 6000
# Fuzzy matching applies to unknown words of at least this many letters.
FUZZY_MIN_LENGTH = 5
FUZZY_CACHE_SIZE = 50_000

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


@functools.cache
def analysers() -> tuple[pymorphy3.MorphAnalyzer, pymorphy3.MorphAnalyzer]:
    """The Ukrainian and Russian analysers: built once per process (about 0.2 s)."""
    import pymorphy3

    # It narrates each dictionary it loads at INFO (into the bot's log and the CLI's output).
    logging.getLogger("pymorphy3").setLevel(logging.WARNING)
    return pymorphy3.MorphAnalyzer(lang="uk"), pymorphy3.MorphAnalyzer(lang="ru")


def tokens(text: str) -> list[str]:
    """Lower-case words (letters and digits; apostrophes kept inside: ``під'їзд``)."""
    text = unicodedata.normalize("NFC", text[:TEXT_LIMIT]).lower().translate(APOSTROPHES)
    # Stress marks and other combining signs would split words.
    text = "".join(char for char in text if not unicodedata.combining(char) or char in "̆̈")
    return _TOKEN.findall(unicodedata.normalize("NFC", text))


Forms = Callable[[str], tuple[frozenset[str], bool]]


@functools.lru_cache(maxsize=200_000)
def word_forms(token: str) -> tuple[frozenset[str], bool]:
    """The word itself and its lemmas; and whether a dictionary knows it.

    Every parse's lemma is kept (``води`` → вода, водити): which one the resident meant is not
    knowable without context, and a keyword matches if it is any of them."""
    if token.isdigit():
        return frozenset({token}), True
    uk, ru = analysers()
    if uk.word_is_known(token):
        return frozenset({token, *(parse.normal_form for parse in uk.parse(token))}), True
    if ru.word_is_known(token):
        return frozenset({token, *(parse.normal_form for parse in ru.parse(token))}), True
    return frozenset({token}), False


@functools.lru_cache(maxsize=200_000)
def ukrainian_forms(token: str) -> tuple[frozenset[str], bool]:
    """As :func:`word_forms` with the Ukrainian dictionary only (measured in ``bench``)."""
    uk, _ru = analysers()
    if token.isdigit() or not uk.word_is_known(token):
        return frozenset({token}), token.isdigit()
    return frozenset({token, *(parse.normal_form for parse in uk.parse(token))}), True


def plain_forms(token: str) -> tuple[frozenset[str], bool]:
    """No lemmatisation: the word as written (the baseline measured in ``bench``)."""
    return frozenset({token}), True


def _within(word: str, other: str, limit: int) -> bool:
    """Levenshtein distance of the two at most ``limit`` (stops early)."""
    if abs(len(word) - len(other)) > limit:
        return False
    previous = list(range(len(other) + 1))
    for i, char in enumerate(word, 1):
        current = [i]
        for j, other_char in enumerate(other, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other_char))
            )
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


def tolerance(length: int) -> int:
    return 0 if length < FUZZY_MIN_LENGTH else (1 if length < 9 else 2)


def fuzzy_equal(token: str, word: str) -> bool:
    """A typo of ``word`` (``пидїзд`` ~ ``під'їзд``), or ``word`` with a short ending of its own
    that no dictionary knows (surzhyk ``фанарі`` ~ ``фонар``)."""
    # Residents often leave the apostrophe out ("підїзд", "мясо"): it costs nothing here.
    token, word = token.replace("'", ""), word.replace("'", "")
    limit = tolerance(len(word))
    if limit == 0 or len(token) < FUZZY_MIN_LENGTH:
        return False
    if _within(token, word, limit):
        return True
    return 0 < len(token) - len(word) <= 3 and _within(token[: len(word)], word, limit)


@dataclass(frozen=True, slots=True)
class Term:
    """One keyword or phrase of a category's list, as stored."""

    category: str
    phrase: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class _Compiled:
    term: Term
    # Per word of the phrase: its forms (the word and its lemmas).
    words: tuple[frozenset[str], ...]

    @property
    def score(self) -> float:
        # A phrase of several words says more than one word.
        return self.term.weight * len(self.words)


@dataclass(frozen=True, slots=True)
class Match:
    """A term found in the text: the list's phrase and the resident's words that matched it."""

    phrase: str
    found: str
    fuzzy: bool = False


@dataclass(frozen=True, slots=True)
class Ranked:
    category: str
    score: float
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Every category, best first, with its score and the terms that made it."""

    ranked: tuple[Ranked, ...]

    @property
    def best(self) -> str:
        return self.ranked[0].category

    @property
    def matched(self) -> bool:
        """Whether any term matched at all (else the suggestion is "other" by default)."""
        return any(item.matches for item in self.ranked)

    def top(self, count: int = 2) -> list[str]:
        return [item.category for item in self.ranked[:count]]

    def explain(self) -> str:
        """One line per category that scored: ``housing 3.0: ліфт (ліфта), гаряча вода (…)``."""
        lines = []
        for item in self.ranked:
            if not item.matches and item.category != OTHER:
                continue
            found = ", ".join(
                f"{m.phrase} ({m.found}{', ~' if m.fuzzy else ''})" for m in item.matches
            )
            lines.append(f"{item.category} {item.score:.2f}" + (f": {found}" if found else ""))
        return "\n".join(lines)


@dataclass
class Classifier:
    """The lists compiled for matching. Building lemmatises every term (milliseconds for a few
    hundred); :meth:`classify` then costs a dictionary look-up per new word."""

    terms: Sequence[Term]
    # How a word's forms are found, and which words get fuzzy matching: "unknown" (words no
    # dictionary knows), "unmatched" (also known words that matched no keyword: surzhyk that
    # happens to be a dictionary word), or "off". The defaults are what ``bench/classify.py``
    # measured best.
    forms: Forms = word_forms
    fuzzy: str = "unknown"
    _by_first: dict[str, list[_Compiled]] = field(init=False, default_factory=dict)
    _by_letter: dict[str, set[str]] = field(init=False, default_factory=dict)
    _vocabulary: set[str] = field(init=False, default_factory=set)
    # Unknown words seen before and the lists' words they fuzzily match (bounded).
    _fuzzy_seen: dict[str, frozenset[str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for term in self.terms:
            words = tuple(
                _keyword_forms(self.forms(token)[0], token) for token in tokens(term.phrase)
            )
            if not words:
                continue
            compiled = _Compiled(term, words)
            for form in words[0]:
                self._by_first.setdefault(form, []).append(compiled)
            for forms in words:
                self._vocabulary.update(forms)
                for form in forms:
                    if len(form) >= FUZZY_MIN_LENGTH:
                        self._by_letter.setdefault(form[0], set()).add(form)

    def _fuzzy_forms(self, token: str) -> frozenset[str]:
        """The lists' words that an unknown word may be a typo or a surzhyk form of. Compared
        with the words of the same first letter only: typos rarely hit the first letter, and
        this keeps the cost at a few dozen comparisons (once per word: remembered)."""
        found = self._fuzzy_seen.get(token)
        if found is None:
            found = frozenset(
                word for word in self._by_letter.get(token[0], ()) if fuzzy_equal(token, word)
            )
            if len(self._fuzzy_seen) < FUZZY_CACHE_SIZE:
                self._fuzzy_seen[token] = found
        return found

    def _wants_fuzzy(self, token: str, forms: frozenset[str], known: bool) -> bool:
        if self.fuzzy == "off" or len(token) < FUZZY_MIN_LENGTH:
            return False
        if not known:
            return True
        return self.fuzzy == "unmatched" and not any(form in self._vocabulary for form in forms)

    def classify(self, text: str) -> Suggestion:
        found = tokens(text)
        forms: list[frozenset[str]] = []
        fuzzy: list[frozenset[str]] = []
        for token in found:
            known_forms, known = self.forms(token)
            extra: frozenset[str] = frozenset()
            if self._wants_fuzzy(token, known_forms, known):
                extra = self._fuzzy_forms(token)
            forms.append(known_forms | extra)
            fuzzy.append(extra - known_forms)
        matched: dict[str, dict[str, Match]] = {}
        scores = dict.fromkeys(CATEGORIES, 0.0)
        scores[OTHER] = OTHER_PRIOR
        for start, start_forms in enumerate(forms):
            candidates = {id(c): c for form in start_forms for c in self._by_first.get(form, ())}
            for compiled in candidates.values():
                term = compiled.term
                if term.phrase in matched.get(term.category, {}):
                    continue
                positions = _find(compiled.words, forms, start)
                if positions is None:
                    continue
                is_fuzzy = any(
                    not (compiled.words[k] & (forms[p] - fuzzy[p])) for k, p in enumerate(positions)
                )
                words = " ".join(found[positions[0] : positions[-1] + 1])
                matched.setdefault(term.category, {})[term.phrase] = Match(
                    term.phrase, words, is_fuzzy
                )
                score = compiled.score * (FUZZY_FACTOR if is_fuzzy else 1.0)
                scores[term.category] = scores.get(term.category, 0.0) + score
        order = {category: index for index, category in enumerate(CATEGORIES)}
        ranked = sorted(
            scores.items(), key=lambda item: (-item[1], order.get(item[0], len(order)), item[0])
        )
        return Suggestion(
            tuple(
                Ranked(category, round(score, 3), tuple(matched.get(category, {}).values()))
                for category, score in ranked
            )
        )


def _keyword_forms(forms: frozenset[str], token: str) -> frozenset[str]:
    """A list's word written in its dictionary form stands for that word only: ``міст``
    (bridge) is also a form of ``місто`` (city), and a resident's "місто" must not match it.
    A word written in another form (``ями``) stands for all its lemmas."""
    return frozenset({token}) if token in forms and _is_lemma(token, forms) else forms


def _is_lemma(token: str, forms: frozenset[str]) -> bool:
    # The word is among its own lemmas (word_forms adds the word itself, so look at the rest):
    # either a dictionary lemma, or unknown (then it has no other forms).
    return len(forms) == 1 or token in _lemmas_only(token)


@functools.lru_cache(maxsize=20_000)
def _lemmas_only(token: str) -> frozenset[str]:
    uk, ru = analysers()
    for analyser in (uk, ru):
        if analyser.word_is_known(token):
            return frozenset(parse.normal_form for parse in analyser.parse(token))
    return frozenset()


def _find(
    words: Sequence[frozenset[str]], forms: Sequence[frozenset[str]], start: int
) -> list[int] | None:
    """Positions of the phrase's words from ``start`` on, in order, each at most PHRASE_GAP
    words after the previous one; None when the phrase is not there."""
    positions = [start]
    for word in words[1:]:
        last = positions[-1]
        for position in range(last + 1, min(len(forms), last + 2 + PHRASE_GAP)):
            if word & forms[position]:
                positions.append(position)
                break
        else:
            return None
    return positions


def build(terms: Iterable[Term]) -> Classifier:
    return Classifier(list(terms))


# -- the lists in the database, cached per process ----------------------------------------------

_cached: dict[str, Classifier] = {}


async def current(session: AsyncSession) -> Classifier:
    """The classifier for the lists now in the database. The lists carry a revision (a new one
    at every change, from any process: the CLI edits them in another process), so a cached
    classifier is reused until an administrator changed something."""
    revision = await keyword_store.revision(session)
    if revision is None:
        revision = await keyword_store.ensure_seeded(session)
    found = _cached.get(revision)
    if found is None:
        rows = await keyword_store.list_terms(session)
        terms = [Term(row.category, row.phrase, row.weight) for row in rows]
        # Lemmatising the lists (and, the first time, loading the dictionaries) is CPU work:
        # off the event loop.
        found = await asyncio.to_thread(build, terms)
        _cached.clear()  # one set of lists is current; older revisions are not needed again
        _cached[revision] = found
    return found


async def suggest(session: AsyncSession, text: str) -> Suggestion:
    """Rank the six ticket categories for ``text``, best first, with the terms that matched.

    ``session`` is the caller's (its transaction is used to read the lists, and on the very
    first use to copy the default lists into the database). Never raises for odd text: empty,
    emoji-only or very long text gives a ranking too ("other" first when nothing matched)."""
    classifier = await current(session)
    return classifier.classify(text)
