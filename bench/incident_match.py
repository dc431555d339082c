"""The incident suggestion (``storage.incident_match``) on a labelled set of resident reports.

    python -m bench.incident_match [--errors tune] [--markdown]

``bench/data/incidents.json``: ten incidents of one November week in Kryvyi Rih (water off in a
district, heating off, a burst main, a power outage, a fallen tree, a broken traffic light,
garbage not collected, a bus route cancelled city-wide, a gas smell, a flooded underpass).
``bench/data/incident_reports.jsonl``: resident messages around them, each labelled with its
incident (or none), its category and district as the ticket would carry them (missing where
residents don't say, sometimes wrong), its time and sometimes a location; unrelated messages
include ones in the same category, district and time as an incident (the rule fires on them).
Every message is in the ``tune`` half or the ``held`` half (alternately per label, in time
order): the constants of the matcher were chosen looking at ``tune`` only.

The replay, in time order, as the bot would live it:

- a report arrives: :func:`best_match` against the incidents opened by then (one resolved
  later is still open at that moment), each with its title, description and the texts of the
  reports linked to it so far (the earlier reports labelled with it: what staff linked, most
  recent first, at most 50);
- an incident is opened: :func:`rank_tickets` over the reports of the two hours before that
  got no suggestion on arrival (the incident's title and description only).

A report's suggestion is the first of these (at a threshold: a match scoring below it counts
as none; by default ``CONFIDENT``, what the bot tells residents at once; 0 is everything
``best_match`` returns, what staff are offered). Precision: right suggestions / suggestions;
recall: right suggestions / reports that belong to an incident. Matchers in the same run:
``rule`` (the rule alone), ``overlap`` (plain token overlap: the share of the report's distinct
lower-case words found in the incident's texts, in the window, no lemmas and no weights),
``text`` (the shipped text score without the rule), ``shipped`` (``storage.incident_match``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from storage import incident_match, incident_text
from storage.classifier import tokens
from storage.incident_match import IncidentFacts, Match, ReportFacts

DATA = Path(__file__).resolve().parent / "data"
LINKED_TEXTS = 50
SWEEP = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)
TARGET_PRECISION = 0.9
TARGET_RECALL = 0.7


@dataclass(frozen=True)
class Labelled:
    id: int
    facts: ReportFacts
    incident: int | None
    split: str


@dataclass(frozen=True)
class Incident:
    facts: IncidentFacts  # as opened: title and description only


def load_incidents(path: Path = DATA / "incidents.json") -> list[Incident]:
    found = []
    for row in json.loads(path.read_text("utf-8")):
        found.append(
            Incident(
                IncidentFacts(
                    incident_id=row["id"],
                    category=row["category"],
                    districts=frozenset(row["districts"]),
                    opened_at=datetime.fromisoformat(row["opened_at"]),
                    resolved_at=(
                        datetime.fromisoformat(row["resolved_at"]) if row["resolved_at"] else None
                    ),
                    texts=(row["title"], row["description"]),
                    locations=tuple((p[0], p[1]) for p in row["locations"]),
                )
            )
        )
    return found


def load_reports(path: Path = DATA / "incident_reports.jsonl") -> list[Labelled]:
    found = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        location = row["location"]
        facts = ReportFacts(
            text=row["text"],
            category=row["category"],
            district=row["district"],
            at=datetime.fromisoformat(row["at"]),
            location=(location[0], location[1]) if location else None,
        )
        found.append(Labelled(row["id"], facts, row["incident"], row["split"]))
    return sorted(found, key=lambda item: (item.facts.at, item.id))


Best = Callable[[ReportFacts, Sequence[IncidentFacts]], Match | None]
Rank = Callable[[IncidentFacts, Sequence[tuple[int, ReportFacts]]], list[tuple[int, Match]]]


@dataclass(frozen=True)
class Matcher:
    name: str
    best: Best
    rank: Rank


def _rank_with(best: Best) -> Rank:
    def rank(
        incident: IncidentFacts, reports: Sequence[tuple[int, ReportFacts]]
    ) -> list[tuple[int, Match]]:
        found = [(i, m) for i, r in reports if (m := best(r, [incident])) is not None]
        return sorted(found, key=lambda item: (-item[1].score, item[0]))

    return rank


def _rule_best(report: ReportFacts, incidents: Sequence[IncidentFacts]) -> Match | None:
    for incident in sorted(incidents, key=lambda i: i.incident_id):
        if incident_match.rule_applies(report, incident):
            return Match(incident.incident_id, 1.0, "rule")
    return None


def _words(text: str) -> set[str]:
    return set(tokens(text))


def _overlap_best(report: ReportFacts, incidents: Sequence[IncidentFacts]) -> Match | None:
    words = _words(report.text)
    if not words:
        return None
    found = []
    for incident in incidents:
        if not incident_match.in_window(report, incident):
            continue
        theirs = set().union(*(_words(text) for text in incident.texts))
        score = len(words & theirs) / len(words)
        if score > 0:
            found.append(Match(incident.incident_id, round(score, 4), "text"))
    return min(found, key=lambda m: (-m.score, m.incident_id)) if found else None


def _text_best(report: ReportFacts, incidents: Sequence[IncidentFacts]) -> Match | None:
    vector = incident_text.vector(report.text)
    found = [
        m
        for incident in incidents
        if (m := incident_match.match_one(report, vector, incident, rule=False)) is not None
    ]
    return min(found, key=lambda m: (-m.score, m.incident_id)) if found else None


MATCHERS = (
    Matcher("rule", _rule_best, _rank_with(_rule_best)),
    Matcher("overlap", _overlap_best, _rank_with(_overlap_best)),
    Matcher("text", _text_best, _rank_with(_text_best)),
    Matcher("shipped", incident_match.best_match, incident_match.rank_tickets),
)


def replay(
    matcher: Matcher, incidents: list[Incident], reports: list[Labelled]
) -> dict[int, Match]:
    """Each report's suggestion (the report's id → the match), as described in the docstring."""
    suggested: dict[int, Match] = {}
    linked: dict[int, list[str]] = {i.facts.incident_id: [] for i in incidents}
    events: list[tuple[datetime, int, int]] = [
        (r.facts.at, 1, index) for index, r in enumerate(reports)
    ]
    events += [(i.facts.opened_at, 0, index) for index, i in enumerate(incidents)]
    for at, kind, index in sorted(events):
        if kind == 0:
            incident = incidents[index].facts
            recent = [
                (r.id, r.facts)
                for r in reports
                if incident.opened_at - incident_match.LEAD <= r.facts.at < at
                and r.id not in suggested
            ]
            for ticket_id, match in matcher.rank(incident, recent):
                suggested.setdefault(ticket_id, match)
            continue
        report = reports[index]
        known = []
        for item in incidents:
            facts = item.facts
            if facts.opened_at > at:
                continue
            still_open = facts.resolved_at is None or facts.resolved_at > at
            texts = facts.texts + tuple(reversed(linked[facts.incident_id][-LINKED_TEXTS:]))
            known.append(
                replace(facts, texts=texts, resolved_at=None if still_open else facts.resolved_at)
            )
        best = matcher.best(report.facts, known)
        if best is not None:
            suggested[report.id] = best
        if report.incident is not None:
            linked[report.incident].append(report.facts.text)
    return suggested


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    suggested: int
    right: int
    relevant: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def meets(self) -> bool:
        return self.precision >= TARGET_PRECISION and self.recall >= TARGET_RECALL


def score(
    reports: Sequence[Labelled],
    suggested: dict[int, Match],
    threshold: float = 0.0,
    incident: int | None = None,
) -> Score:
    """Precision and recall of the suggestions scoring at least ``threshold`` (for one
    incident: its suggestions and its reports)."""
    picked = 0
    right = 0
    relevant = 0
    for report in reports:
        match = suggested.get(report.id)
        if match is not None and match.score < threshold:
            match = None
        if incident is None:
            relevant += report.incident is not None
            picked += match is not None
        else:
            relevant += report.incident == incident
            picked += match is not None and match.incident_id == incident
        if match is not None and match.incident_id == report.incident:
            right += incident is None or report.incident == incident
    return Score(
        right / picked if picked else 1.0,
        right / relevant if relevant else 1.0,
        picked,
        right,
        relevant,
    )


def split(reports: Sequence[Labelled], name: str) -> list[Labelled]:
    return [r for r in reports if name == "all" or r.split == name]


def _line(name: str, found: Score) -> str:
    return (
        f"| {name} | {found.precision:.3f} | {found.recall:.3f} | {found.f1:.3f} "
        f"| {found.right}/{found.suggested} | {found.relevant} |"
    )


def _ratio(one: float, other: float) -> str:
    return f"×{one / other:.2f}" if other else "—"


def print_tables(
    incidents: list[Incident],
    reports: list[Labelled],
    results: dict[str, dict[int, Match]],
    threshold: float,
) -> None:
    for half in ("tune", "held", "all"):
        chosen = split(reports, half)
        print(f"\n### {half} ({len(chosen)} reports), threshold {threshold}\n")
        print("| matcher | precision | recall | F1 | right/suggested | relevant |")
        print("| --- | --- | --- | --- | --- | --- |")
        for matcher in MATCHERS:
            print(_line(matcher.name, score(chosen, results[matcher.name], threshold)))
        shipped = score(chosen, results["shipped"], threshold)
        for base in ("rule", "overlap"):
            other = score(chosen, results[base], threshold)
            print(
                f"\nshipped / {base}: precision {_ratio(shipped.precision, other.precision)}, "
                f"recall {_ratio(shipped.recall, other.recall)}, F1 {_ratio(shipped.f1, other.f1)}"
            )
    for name in ("shipped", "text", "overlap"):
        print(f"\n### threshold sweep: {name} (precision / recall; * = meets P≥0.9 at R≥0.7)\n")
        print("| threshold | tune | held |")
        print("| --- | --- | --- |")
        for value in SWEEP:
            cells = []
            for half in ("tune", "held"):
                found = score(split(reports, half), results[name], value)
                mark = " *" if found.meets else ""
                cells.append(f"{found.precision:.3f} / {found.recall:.3f}{mark}")
            print(f"| {value:.2f} | {cells[0]} | {cells[1]} |")
    print(f"\n### per incident: shipped, threshold {threshold} (precision / recall, relevant)\n")
    print("| incident | tune | held |")
    print("| --- | --- | --- |")
    for item in incidents:
        number = item.facts.incident_id
        cells = []
        for half in ("tune", "held"):
            found = score(split(reports, half), results["shipped"], threshold, number)
            cells.append(f"{found.precision:.2f} / {found.recall:.2f} ({found.relevant})")
        print(f"| {number} {item.facts.texts[0]} | {cells[0]} | {cells[1]} |")


def print_errors(reports: list[Labelled], suggested: dict[int, Match], threshold: float) -> None:
    for report in reports:
        match = suggested.get(report.id)
        if match is not None and match.score < threshold:
            match = None
        got = match.incident_id if match else None
        if got == report.incident:
            continue
        facts = report.facts
        detail = f"{match.reason} {match.score:.2f} {','.join(match.terms)}" if match else ""
        print(
            f"#{report.id} want {report.incident} got {got} {detail} "
            f"[{facts.category} {facts.district} {facts.at:%d %H:%M}"
            f"{' loc' if facts.location else ''}] {facts.text}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--errors", choices=("tune", "held", "all"), help="print the misses")
    parser.add_argument(
        "--threshold",
        type=float,
        default=incident_match.CONFIDENT,
        help="a suggestion counts when its score is at least this (default: CONFIDENT)",
    )
    args = parser.parse_args()
    incidents = load_incidents()
    reports = load_reports()
    linked = sum(r.incident is not None for r in reports)
    print(f"{len(reports)} reports ({linked} about one of {len(incidents)} incidents)")
    # Dictionaries loaded and every word's features looked up once before anything is timed.
    for report in reports:
        incident_text.vector(report.facts.text)
    results: dict[str, dict[int, Match]] = {}
    for matcher in MATCHERS:
        started = time.perf_counter()
        results[matcher.name] = replay(matcher, incidents, reports)
        elapsed = time.perf_counter() - started
        each = elapsed / len(reports) * 1e3
        print(f"{matcher.name}: replay {elapsed * 1000:.0f} ms ({each:.2f} ms per report)")
    print_tables(incidents, reports, results, args.threshold)
    if args.errors:
        print(f"\n### misses of shipped on {args.errors}\n")
        print_errors(split(reports, args.errors), results["shipped"], args.threshold)


if __name__ == "__main__":
    main()
