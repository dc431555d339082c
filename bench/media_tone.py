"""Topic and tone of media headlines (``storage.media_text``) on a labelled set.

    python -m bench.media_tone [--errors tuning]

``bench/data/media_headlines.jsonl`` (headline, topic, tone): 215 headlines written as
Kryvyi Rih's local media write them, about evenly over the six topics (the ticket categories)
and the three tones. Lines with an even index (0, 2, …) are the tuning half, the others the
held-out half; the lexicon (``storage/data/media_lexicon.json``) was tuned by reading the
tuning half's errors only. Reports, per half, in the same run: accuracy of the topic and of
the tone against the majority class of the tuning half (the floor), the tone without its
negation handling, and the topic from the category suggester's resident lists alone (without
the media lexicon's phrases).

Then grouping (``storage.media_text.same_story``, threshold ``SAME_STORY`` chosen by hand
before this set existed): ``bench/data/media_same_story.jsonl`` holds 25 pairs of headlines of
one event as two outlets word it; reported are the pairs grouped (recall) and, among the 215
headlines above (215 different events), the pairs that would wrongly be grouped.

``--errors tuning`` prints the misses of the tuning half (never tune on the held-out half).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.classifier import Term, build
from storage.incident_text import cosine, vector
from storage.keyword_store import default_terms
from storage.media_text import SAME_STORY, tone_of, topic_of

DATA = Path(__file__).parent / "data" / "media_headlines.jsonl"
PAIRS = Path(__file__).parent / "data" / "media_same_story.jsonl"
NEGATIONS = frozenset({"не", "ні", "без", "немає", "нема", "бракує", "ані"})
Guess = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Headline:
    text: str
    topic: str
    tone: str


def load(path: Path = DATA) -> tuple[list[Headline], list[Headline]]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    headlines = [Headline(row["headline"], row["topic"], row["tone"]) for row in rows]
    return headlines[0::2], headlines[1::2]


def accuracy(rows: Sequence[Headline], label: Callable[[Headline], str], guess: Guess) -> float:
    return sum(guess(row.text) == label(row) for row in rows) / len(rows)


def without_negation(text: str) -> str:
    """The tone with every negation word removed (what the negation handling is worth)."""
    return tone_of(" ".join(w for w in text.split() if w.lower() not in NEGATIONS))[0]


def grouping(headlines: Sequence[Headline]) -> None:
    pairs = [json.loads(line) for line in PAIRS.read_text("utf-8").splitlines() if line.strip()]
    scores = [cosine(vector(pair["one"]), vector(pair["other"])) for pair in pairs]
    grouped = sum(score >= SAME_STORY for score in scores)
    vectors = [vector(row.text) for row in headlines]
    wrong = sum(
        cosine(one, other) >= SAME_STORY for one, other in itertools.combinations(vectors, 2)
    )
    total = len(vectors) * (len(vectors) - 1) // 2
    print(
        f"grouping at {SAME_STORY}: {grouped}/{len(pairs)} same-story pairs grouped "
        f"(lowest score {min(scores):.2f}); {wrong} of {total} pairs of different events "
        "grouped"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--errors", choices=["tuning"], default=None)
    args = parser.parse_args()
    tuning, held_out = load()
    topic_floor = Counter(row.topic for row in tuning).most_common(1)[0][0]
    tone_floor = Counter(row.tone for row in tuning).most_common(1)[0][0]
    residents_only = build(Term(category, phrase) for category, phrase in default_terms())
    variants: list[tuple[str, Guess, Guess]] = [
        ("majority class", lambda _t: topic_floor, lambda _t: tone_floor),
        (
            "residents' lists / no negation",
            lambda t: residents_only.classify(t).best,
            without_negation,
        ),
        ("shipped", lambda t: topic_of(t)[0], lambda t: tone_of(t)[0]),
    ]
    print(f"{len(tuning)} tuning, {len(held_out)} held-out headlines")
    print(f"{'half':10} {'what':34} {'topic':>7} {'tone':>7}")
    for name, rows in (("tuning", tuning), ("held-out", held_out)):
        for what, topic, tone in variants:
            topic_share = accuracy(rows, lambda r: r.topic, topic)
            tone_share = accuracy(rows, lambda r: r.tone, tone)
            print(f"{name:10} {what:34} {topic_share:7.1%} {tone_share:7.1%}")
    grouping([*tuning, *held_out])
    if args.errors:
        for row in tuning:
            topic, topic_why = topic_of(row.text)
            tone, tone_why = tone_of(row.text)
            if topic != row.topic or tone != row.tone:
                print(f"{row.topic}->{topic} {row.tone}->{tone} {row.text} {topic_why} {tone_why}")


if __name__ == "__main__":
    main()
