"""Reading a media item: which watch terms it mentions, its topic and its tone, and whether two
titles tell the same story. Transparent on purpose, like the category suggester it reuses:

- watch terms are matched by :class:`storage.classifier.Classifier` (the same lemmatiser, word
  forms, phrase gaps and typo tolerance as the category suggestion: "міського голови" matches
  the term "міський голова", "Вілкула" the name "Вілкул"); an open incident or public
  consultation, whose title is a sentence rather than a name, matches an item whose words are
  close to its title and description by the incident matcher's cosine of weighted lemmas
  (:mod:`storage.incident_text`);
- the topic is a ticket category (so the digest can set media beside residents' tickets):
  the category suggester's keyword lists as shipped (``citybot keywords`` edits tune the
  residents' suggestion, not this) plus the media lexicon's topic phrases
  (``storage/data/media_lexicon.json``), best score first, "other" when nothing matched;
- the tone counts the lexicon's positive and negative lemmas; a negation ("не", "ні", "без",
  "немає") turns the polarity of the next sentiment word within two words ("не відремонтували"
  is negative, "без аварій" positive), and "без"/"немає" before no sentiment word is negative
  by itself ("без світла"). More positive than negative: positive, and so on; a tie is
  neutral;
- two titles tell the same story when the cosine of their weighted lemma vectors (the
  incident matcher's, :mod:`storage.incident_text`) is at least ``SAME_STORY`` (chosen by
  hand; ``bench/media_tone.py`` measures it: 24 of 25 same-story pairs grouped, 1 of 23,005
  pairs of different events).

Every result carries the words that decided it, so staff can see why.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

from storage.classifier import Classifier, Term, build, tokens, word_forms
from storage.incident_text import Vector, cosine, vector
from storage.keyword_store import default_terms

POSITIVE: Final = "positive"
NEUTRAL: Final = "neutral"
NEGATIVE: Final = "negative"
TONES: Final = (POSITIVE, NEUTRAL, NEGATIVE)
# Watch term kinds (``citybot media term add --kind``).
KINDS: Final = (
    "council",
    "mayor",
    "official",
    "department",
    "district",
    "incident",
    "consultation",
)
# Two titles at least this close (cosine of weighted lemmas) tell the same story.
SAME_STORY: Final = 0.5
# An item at least this close to an open incident's (or consultation's) title and description
# mentions it.
INCIDENT_MIN: Final = 0.45
# Words after a negation that it may turn.
NEGATION_REACH: Final = 2
# Negations, and how much each weighs on its own when no sentiment word follows.
_NEGATIONS: Final[Mapping[str, int]] = {
    "не": -1,
    "ні": 0,
    "ані": 0,
    "без": -1,
    "немає": -1,
    "нема": -1,
    "бракує": -1,
}


@dataclass(frozen=True, slots=True)
class Watch:
    """A watch term: what kind of name it is, and the word or phrase."""

    kind: str
    term: str

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.term}"


@dataclass(frozen=True, slots=True)
class Lexicon:
    topics: Mapping[str, tuple[str, ...]]
    positive: frozenset[str]
    negative: frozenset[str]


@functools.cache
def lexicon() -> Lexicon:
    raw = resources.files("storage").joinpath("data/media_lexicon.json").read_text("utf-8")
    data = json.loads(raw)
    return Lexicon(
        topics={str(k): tuple(v) for k, v in data["topics"].items()},
        positive=frozenset(data["positive"]),
        negative=frozenset(data["negative"]),
    )


@functools.cache
def topic_classifier() -> Classifier:
    """The category suggester's default lists and the media lexicon's topic phrases."""
    terms = [Term(category, phrase) for category, phrase in default_terms()]
    terms += [
        Term(category, phrase)
        for category, phrases in lexicon().topics.items()
        for phrase in phrases
    ]
    return build(terms)


@dataclass(frozen=True, slots=True)
class Tagged:
    topic: str
    tone: str
    # The words that decided them, e.g. ("ремонт", "-аварія").
    why: tuple[str, ...] = ()


def topic_of(text: str) -> tuple[str, tuple[str, ...]]:
    suggestion = topic_classifier().classify(text)
    best = suggestion.ranked[0]
    return best.category, tuple(match.phrase for match in best.matches)


def tone_of(text: str, words: Lexicon | None = None) -> tuple[str, tuple[str, ...]]:
    """The tone and the sentiment words found (a turned one with a leading "¬")."""
    found = words or lexicon()
    score = 0
    why: list[str] = []
    pending: int | None = None  # the weight of a negation waiting for its word
    reach = 0
    for token in tokens(text):
        if token in _NEGATIONS:
            if pending is not None:
                score += pending
            pending, reach = _NEGATIONS[token], NEGATION_REACH
            continue
        forms, _known = word_forms(token)
        polarity = (1 if forms & found.positive else 0) - (1 if forms & found.negative else 0)
        if polarity and pending is not None:
            polarity, pending = -polarity, None
            why.append("¬" + token)
        elif polarity:
            why.append(token)
        score += polarity
        if pending is not None:
            reach -= 1
            if reach <= 0:
                score += pending
                pending = None
    if pending is not None:
        score += pending
    tone = POSITIVE if score > 0 else NEGATIVE if score < 0 else NEUTRAL
    return tone, tuple(why)


def tag(text: str) -> Tagged:
    topic, topic_why = topic_of(text)
    tone, tone_why = tone_of(text)
    return Tagged(topic, tone, topic_why + tone_why)


class Watcher:
    """The watch terms compiled once per fetch run."""

    def __init__(
        self,
        terms: Iterable[Watch],
        incidents: Iterable[str] = (),
        consultations: Iterable[str] = (),
    ) -> None:
        """``incidents``, ``consultations``: the open ones' title and description, a line apart."""
        self.terms = tuple(dict.fromkeys(terms))
        # Each term is a "category" of its own (its index), so a match names it.
        self._classifier = build(
            Term(str(index), watch.term) for index, watch in enumerate(self.terms)
        )
        self._subjects = [
            (Watch(kind, text.split("\n", 1)[0][:100]).label, vector(text))
            for kind, texts in (("incident", incidents), ("consultation", consultations))
            for text in texts
            if text.strip()
        ]

    def matches(self, text: str) -> list[str]:
        """The labels ("kind:term") of the terms ``text`` mentions, in the terms' order."""
        ranked = self._classifier.classify(text).ranked
        hits = sorted(int(r.category) for r in ranked if r.matches and r.category.isdigit())
        labels = [self.terms[index].label for index in hits]
        if self._subjects:
            found = vector(text)
            labels += [
                label for label, subject in self._subjects if cosine(found, subject) >= INCIDENT_MIN
            ]
        return labels


def same_story(title: str, others: Sequence[tuple[int, Vector]]) -> tuple[int | None, Vector]:
    """The story (of ``others``: id and title vector) closest to ``title`` if close enough,
    and the title's vector."""
    mine = vector(title)
    best: tuple[float, int] | None = None
    for story_id, other in others:
        score = cosine(mine, other)
        if score >= SAME_STORY and (best is None or score > best[0]):
            best = (score, story_id)
    return (best[1] if best else None), mine


def lemmas_of(term: str) -> str:
    """The dictionary forms a term's words match by, for the administrator to see."""
    shown: list[str] = []
    for token in tokens(term):
        forms, known = word_forms(token)
        lemmas = sorted(forms - {token}) if known else []
        shown.append("|".join(lemmas) if lemmas else token)
    return " ".join(shown)
