"""The category suggester (``storage.classifier``) on a labelled set of resident messages.

    python -m bench.classify [--errors dev] [--repeat 5]

``bench/data/resident_messages.csv`` (text, category, split): messages written as residents of
Kryvyi Rih write them (Ukrainian, surzhyk, typos, Russian, one word to a long paragraph), in
rough proportion to what a city council gets. The keyword lists were tuned on the ``dev`` half
only; ``test`` is held out; ``fresh`` was written after the lists were frozen and never tuned
on. Reports, per split: top-1 and top-2 accuracy, the confusion matrix, and time per message,
for the shipped lists with these variants in the same run:

- ``frequent``: always the most frequent category of the dev half (the floor);
- ``plain``: the same lists, words matched as written (no lemmatiser, no fuzzy matching);
- ``uk only``: Ukrainian dictionary only (Russian words as written) with fuzzy matching;
- ``no fuzzy``: both dictionaries, no typo matching;
- ``fuzzy unmatched``: fuzzy matching also for dictionary words that matched no keyword;
- ``shipped``: what ``storage.classifier.suggest`` uses.

``--errors dev`` prints the shipped classifier's misses on the dev half (for tuning the lists;
never tune on the others). Last, ``storage.classifier.suggest`` as the bot calls it: the lists
in a SQLite database (one query for their revision per message), per message.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.migrate import upgrade_to_head
from storage.classifier import (
    CATEGORIES,
    Classifier,
    Suggestion,
    Term,
    analysers,
    plain_forms,
    suggest,
    ukrainian_forms,
    word_forms,
)
from storage.db import create_engine, create_sessionmaker
from storage.keyword_store import default_terms

DATA = Path(__file__).parent / "data" / "resident_messages.csv"
SPLITS = ("dev", "test", "fresh")
SHORT = {
    "housing": "hous",
    "improvement": "impr",
    "roads_transport": "road",
    "social": "soc",
    "council_work": "counc",
    "other": "other",
}


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    category: str
    split: str


def load() -> list[Example]:
    with DATA.open(encoding="utf-8", newline="") as handle:
        return [
            Example(row["text"], row["category"], row["split"]) for row in csv.DictReader(handle)
        ]


@dataclass
class Result:
    name: str
    top1: float
    top2: float
    per_message_us: float
    confusion: Counter[tuple[str, str]]
    misses: list[tuple[Example, Suggestion | None]]


def evaluate(
    name: str, rank: Callable[[str], Suggestion | list[str]], examples: list[Example]
) -> Result:
    top1 = top2 = 0
    confusion: Counter[tuple[str, str]] = Counter()
    misses: list[tuple[Example, Suggestion | None]] = []
    started = time.perf_counter()
    for example in examples:
        ranked = rank(example.text)
        order = ranked.top(2) if isinstance(ranked, Suggestion) else ranked[:2]
        confusion[(example.category, order[0])] += 1
        if order[0] == example.category:
            top1 += 1
        else:
            misses.append((example, ranked if isinstance(ranked, Suggestion) else None))
        if example.category in order:
            top2 += 1
    elapsed = time.perf_counter() - started
    count = len(examples)
    return Result(name, top1 / count, top2 / count, elapsed / count * 1e6, confusion, misses)


def timed(classifier: Classifier, examples: list[Example], repeat: int) -> float:
    """Median over ``repeat`` passes of the time per message, caches warm (the steady state
    of a running bot: a word seen once is looked up in the cache)."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for example in examples:
            classifier.classify(example.text)
        runs.append((time.perf_counter() - started) / len(examples) * 1e6)
    return statistics.median(runs)


def print_confusion(result: Result) -> None:
    header = "true \\ top-1 | " + " | ".join(SHORT[c] for c in CATEGORIES)
    print(f"| {header} |")
    print("| --- " * (len(CATEGORIES) + 1) + "|")
    for truth in CATEGORIES:
        cells = " | ".join(str(result.confusion.get((truth, guess), 0)) for guess in CATEGORIES)
        print(f"| {SHORT[truth]} | {cells} |")


async def through_the_database(examples: list[Example], repeat: int) -> None:
    """``suggest(session, text)`` as a conversation calls it, lists in a SQLite file."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{folder}/bench.db")
        try:
            await upgrade_to_head(engine)
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session, session.begin():
                started = time.perf_counter()
                await suggest(session, "перше повідомлення")
                first = time.perf_counter() - started
            runs = []
            for _ in range(repeat):
                async with sessionmaker() as session:
                    started = time.perf_counter()
                    for example in examples:
                        await suggest(session, example.text)
                    runs.append((time.perf_counter() - started) / len(examples) * 1e6)
        finally:
            await engine.dispose()
    print(
        f"\nsuggest() through SQLite: first call (copies the defaults in, compiles the lists) "
        f"{first * 1000:.0f} ms; then {statistics.median(runs):.0f} µs/message"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--errors", choices=SPLITS, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    examples = load()
    halves = {split: [e for e in examples if e.split == split] for split in SPLITS}
    print(
        f"{len(examples)} messages: "
        + ", ".join(f"{c} {sum(e.category == c for e in examples)}" for c in CATEGORIES)
        + "; "
        + ", ".join(f"{split} {len(half)}" for split, half in halves.items())
    )

    started = time.perf_counter()
    analysers()
    print(f"analysers built: {time.perf_counter() - started:.2f} s")
    terms = [Term(category, phrase) for category, phrase in default_terms()]
    started = time.perf_counter()
    shipped = Classifier(terms)
    print(f"{len(terms)} terms compiled: {(time.perf_counter() - started) * 1000:.0f} ms")

    frequent = Counter(e.category for e in halves["dev"]).most_common(1)[0][0]
    by_frequency = [frequent, *(c for c in CATEGORIES if c != frequent)]
    variants: list[tuple[str, Callable[[str], Suggestion | list[str]], Classifier | None]] = [
        ("frequent", lambda _text: by_frequency, None),
    ]
    for name, classifier in (
        ("plain", Classifier(terms, forms=plain_forms, fuzzy="off")),
        ("uk only", Classifier(terms, forms=ukrainian_forms)),
        ("no fuzzy", Classifier(terms, forms=word_forms, fuzzy="off")),
        ("fuzzy unmatched", Classifier(terms, forms=word_forms, fuzzy="unmatched")),
        ("shipped", shipped),
    ):
        variants.append((name, classifier.classify, classifier))

    # The first pass over the messages fills the word caches: time it on its own (a bot that
    # just started), then the steady state.
    word_forms.cache_clear()
    started = time.perf_counter()
    for example in examples:
        shipped.classify(example.text)
    cold = (time.perf_counter() - started) / len(examples) * 1e6

    results: dict[tuple[str, str], Result] = {}
    columns = " | ".join(f"{split} top-1 | {split} top-2" for split in SPLITS)
    print(f"\n| variant | {columns} | µs/message (warm) |")
    print("| --- " * (2 * len(SPLITS) + 2) + "|")
    for name, rank, maybe in variants:
        for split, half in halves.items():
            results[(name, split)] = evaluate(name, rank, half)
        warm = timed(maybe, examples, args.repeat) if maybe is not None else 0.0
        cells = " | ".join(
            f"{results[(name, split)].top1:.1%} | {results[(name, split)].top2:.1%}"
            for split in SPLITS
        )
        print(f"| {name} | {cells} | {warm:.0f} |")
    print(f"\nshipped, first pass (cold caches): {cold:.0f} µs/message")
    base = results[("frequent", "test")].top1
    print(f"shipped / frequent (test top-1): {results[('shipped', 'test')].top1 / base:.2f}×")
    plain = results[("plain", "test")].top1
    print(f"shipped / plain (test top-1): {results[('shipped', 'test')].top1 / plain:.2f}×")

    longest = max(examples, key=lambda e: len(e.text))
    huge = (longest.text + " ") * (4096 // len(longest.text))
    started = time.perf_counter()
    for _ in range(args.repeat):
        shipped.classify(huge)
    print(
        f"a {len(huge)}-character message: "
        f"{(time.perf_counter() - started) / args.repeat * 1000:.2f} ms"
    )

    for split in SPLITS:
        print(f"\nconfusion, shipped, {split}:")
        print_confusion(results[("shipped", split)])

    asyncio.run(through_the_database(examples, args.repeat))

    if args.errors:
        print(f"\nmisses on {args.errors}:")
        for example, suggestion in results[("shipped", args.errors)].misses:
            top = suggestion.top(2) if suggestion else []
            print(f"- [{example.category} -> {','.join(top)}] {example.text[:150]}")
            if suggestion is not None and suggestion.matched:
                print("    " + suggestion.explain().replace("\n", " | "))


if __name__ == "__main__":
    main()
