"""The most frequent subjects of residents' tickets: words and two-word phrases.

Frequency is the number of tickets that use a word (not how often one ticket repeats it), so one
long or repeated message cannot dominate. Personal data is kept out: e-mail addresses, links,
phone numbers and other digits are removed before counting, the words of each ticket's own name
and address are skipped, and a term must come from at least ``min_tickets`` different tickets.
Ukrainian (and a few Russian and English) stop words are removed; words shorter than three
letters are ignored.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Function words, pronouns, auxiliaries and the filler of appeals ("прошу", "шановні", …).
_STOP_TEXT = """
    або але ані аніж адже аби би бо був була були було буде будуть будь бути вам вас ваш ваша
    ваше ваші вже від відтак вона вони воно все всі всю вся всього всіх втім де дуже для досі
    його їй їх їхній її з за зі знову зараз змогу й коли котрий кожен кожна кожне куди крім
    лише мене мені мій мною моя моє мої на над нам нас наш наша наше наші не нема немає нею ним
    ними них ні ніж ніхто ніщо нього неї однак оскільки от ось та так така таке такі також там
    тебе тепер тим тих то тобто того тоді той тому ту туди тут хоч хоча це цей ці цього цим цих
    цю ця через чи чого чому що щоб щодо як яка яке які який якщо якого якої яких є до по при
    про під поки після перед між серед навіть може можна треба потрібно будь-ласка будь-яка
    будь-який ласка прошу просимо просить шановні шановний шановна добрий день доброго дня
    вечір вечора ранку дякую дякуємо дякую! будьте ще тільки весь усе усі усіх всім усім свій
    своя своє свої свого своєї своїх собі себе сам сама само самі саме мабуть звісно взагалі
    більш більше менше майже зовсім просто навіщо який-небудь ми ви він я ти мы вы он она они
    это этот эта эти что как его ее их или когда если уже еще очень можно нужно пожалуйста
    здравствуйте спасибо the and for with this that from have are was were you your our
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())

MIN_LENGTH = 3
# Apostrophes inside Ukrainian words (під'їзд): ASCII, typographic and the modifier letter.
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'"})
_PERSONAL = re.compile(
    r"\S+@\S+"  # e-mail
    r"|(?:https?://|www\.)\S+"  # links
    r"|\+?\d[\d\s()\-]{5,}\d"  # phone numbers
    r"|\d+",  # any other digits (house and flat numbers, dates)
)
_WORD = re.compile(r"[a-zа-щьюяґєії]+(?:['\-][a-zа-щьюяґєії]+)*")


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    tickets: int


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` without personal data patterns (digits, e-mails, links)."""
    cleaned = _PERSONAL.sub(" ", text.lower().translate(_APOSTROPHES))
    return _WORD.findall(cleaned)


def _terms(text: str, private: frozenset[str]) -> tuple[set[str], set[str]]:
    """The ticket's distinct content words and two-word phrases (adjacent content words)."""
    singles: set[str] = set()
    pairs: set[str] = set()
    previous: str | None = None
    for word in words(text):
        if len(word) < MIN_LENGTH or word in STOP_WORDS or word in private:
            previous = None  # a phrase does not jump over a removed word
            continue
        singles.add(word)
        if previous is not None and previous != word:
            pairs.add(f"{previous} {word}")
        previous = word
    return singles, pairs


def frequent_terms(
    texts: Iterable[tuple[str, Sequence[str]]],
    *,
    limit: int = 10,
    min_tickets: int = 2,
) -> tuple[list[Term], list[Term]]:
    """The most frequent words and phrases over ``texts`` (each: a ticket's text and the
    personal strings of its author, whose words are never counted for that ticket).

    A term counts once per ticket and is listed only if at least ``min_tickets`` tickets use it;
    ties are broken alphabetically so the list is stable.
    """
    single_counts: Counter[str] = Counter()
    pair_counts: Counter[str] = Counter()
    for text, personal in texts:
        private = frozenset(w for part in personal for w in words(part))
        singles, pairs = _terms(text, private)
        single_counts.update(singles)
        pair_counts.update(pairs)

    def top(counts: Counter[str]) -> list[Term]:
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_tickets),
            key=lambda item: (-item[1], item[0]),
        )
        return [Term(text=t, tickets=n) for t, n in ranked[:limit]]

    return top(single_counts), top(pair_counts)
