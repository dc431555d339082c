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

``--errors tuning`` prints the misses of the tuning half (never tune on the held-out half).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from storage.classifier import Term, build
from storage.keyword_store import default_terms
from storage.media_text import Lexicon, lexicon, tone_of, topic_of

DATA = Path(__file__).parent / "data" / "media_headlines.jsonl"


@dataclass(frozen=True, slots=True)
class Headline:
    text: str
    topic: str
    tone: str


def load(path: Path = DATA) -> tuple[list[Headline], list[Headline]]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    headlines = [Headline(row["headline"], row["topic"], row["tone"]) for row in rows]
    return headlines[0::2], headlines[1::2]


def accuracy(
    rows: Sequence[Headline], label: Callable[[Headline], str], guess: Callable[[str], str]
) -> float:
    return sum(guess(row.text) == label(row) for row in rows) / len(rows)


def without_negation(text: str) -> str:
    """The tone with every negation word removed (what the negation handling is worth)."""
    plain = Lexicon(
        topics=lexicon().topics, positive=lexicon().positive, negative=lexicon().negative
    )
    kept = " ".join(
        word
        for word in text.split()
        if word.lower() not in {"не", "ні", "без", "немає", "нема", "бракує", "ані"}
    )
    return tone_of(kept, plain)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--errors", choices=["tuning"], default=None)
    args = parser.parse_args()
    tuning, held_out = load()
    topic_floor = Counter(row.topic for row in tuning).most_common(1)[0][0]
    tone_floor = Counter(row.tone for row in tuning).most_common(1)[0][0]
    residents_only = build(Term(category, phrase) for category, phrase in default_terms())
    print(f"{len(tuning)} tuning, {len(held_out)} held-out headlines")
    print(f"{'half':10} {'what':34} {'topic':>7} {'tone':>7}")
    for name, rows in (("tuning", tuning), ("held-out", held_out)):
        lines = [
            (
                "majority class",
                accuracy(rows, lambda r: r.topic, lambda _t: topic_floor),
                accuracy(rows, lambda r: r.tone, lambda _t: tone_floor),
            ),
            (
                "residents' lists / no negation",
                accuracy(rows, lambda r: r.topic, lambda t: residents_only.classify(t).best),
                accuracy(rows, lambda r: r.tone, without_negation),
            ),
            (
                "shipped",
                accuracy(rows, lambda r: r.topic, lambda t: topic_of(t)[0]),
                accuracy(rows, lambda r: r.tone, lambda t: tone_of(t)[0]),
            ),
        ]
        for what, topic, tone in lines:
            print(f"{name:10} {what:34} {topic:7.1%} {tone:7.1%}")
    if args.errors:
        for row in tuning:
            topic, topic_why = topic_of(row.text)
            tone, tone_why = tone_of(row.text)
            if topic != row.topic or tone != row.tone:
                print(f"{row.topic}->{topic} {row.tone}->{tone} {row.text} {topic_why} {tone_why}")


if __name__ == "__main__":
    main()
