"""Which incident a new resident report belongs to: the automatic suggestion (issue 17).

Pure code (no database): the incident core gathers the facts and calls :func:`best_match` for a
new ticket, or :func:`rank_tickets` to list the tickets suggested for an incident.

Two ways to match, both explainable to staff:

- **rule** (the issue's): the report's category is the incident's, its district is one of the
  incident's (or the incident covers the whole city), it came within the incident's time
  window (from ``opened_at`` − 2 h until ``resolved_at``, or until now while the incident is
  open), and, where both sides have locations, it is within 1.5 km (haversine) of one of the
  incident's. A rule hit is always a match; its score says how much its text agrees.
- **text**: within the same time window, the report's words are close to the incident's texts
  (title, description, linked reports): lemmatised Ukrainian/Russian content words weighted by
  TF-IDF against a shipped background corpus (``storage.incident_text``), cosine similarity with
  the centroid of the incident's texts or the mean with its few nearest texts, whichever is
  higher. A category that differs (both known), a district outside the incident's (both known)
  or a location too far multiply the similarity by fixed factors.

Score (0..1): ``2 × similarity`` for a text match (none below ``TEXT_THRESHOLD``), ``0.2 + 2 ×
similarity`` for a rule match, at most 1. :attr:`Match.confident` (score ≥ ``CONFIDENT``) is what
may be told to the resident at once ("we already know about it"); a match below it is a
suggestion for staff only. The rule alone is not precise enough for residents: a city-wide
incident that stays open would claim every report of its category; measured in
``bench/incident_match.py``, recorded in ``BENCHMARKS.md`` ("Incident suggestion (issue 17)"):
precision 0.93 at recall 0.88 at ``CONFIDENT`` on the held-out half (the rule alone: 0.67 / 0.53).

The best incident wins; ties go to a rule match, then to the lower incident id. Every match
carries the words the report shares with the incident (``terms``), shown to staff as the reason.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage import incident_text

# A report up to this long before the incident was opened belongs to its window (residents
# write before staff open the incident).
LEAD = timedelta(hours=2)
# Both sides located: farther than this is another place.
NEAR_KM = 1.5
EARTH_RADIUS_KM = 6371.0088
# A match's score: the text similarity (0..1, cosine) times TEXT_SCALE, plus RULE_BASE for a
# rule match, at most 1. A text match scores at least TEXT_THRESHOLD or is no match; a rule
# match is one whatever its score (the rule is the issue's: same category, district and window).
RULE_BASE = 0.2
TEXT_SCALE = 2.0
TEXT_THRESHOLD = 0.2
# A match scoring at least this is confident enough to tell the resident at once ("we already
# know about it"); below it, it is a suggestion for staff. Chosen on the tuning half of the
# labelled set for precision >= 0.9 (``bench/incident_match.py``).
CONFIDENT = 0.4
# Factors on the text score when the facts disagree (both sides known).
CATEGORY_MISMATCH = 0.8
DISTRICT_MISMATCH = 0.6
LOCATION_MISMATCH = 0.5
# The incident's texts closest to the report, averaged (a resident's words are often closer to
# a few linked reports than to the whole).
NEAREST = 5
# Texts of an incident read (the caller passes the most recent first).
TEXTS_LIMIT = 60
# Shared words named in a match's explanation.
TERMS_SHOWN = 5


@dataclass(frozen=True)
class ReportFacts:
    text: str
    category: str | None
    district: str | None
    at: datetime
    location: tuple[float, float] | None = None  # (latitude, longitude)


@dataclass(frozen=True)
class IncidentFacts:
    incident_id: int
    category: str | None
    districts: frozenset[str]  # empty = the whole city
    opened_at: datetime
    resolved_at: datetime | None  # None = still open
    # Title, description, linked reports' texts (most recent first, at most ~50).
    texts: tuple[str, ...]
    locations: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Match:
    incident_id: int
    score: float  # 0..1
    reason: str  # "rule" or "text"
    # The report's words (lemmas) the incident's texts share, most telling first.
    terms: tuple[str, ...] = ()

    @property
    def confident(self) -> bool:
        """Sure enough to tell the resident at once; else a suggestion for staff."""
        return self.score >= CONFIDENT


def haversine_km(one: tuple[float, float], other: tuple[float, float]) -> float:
    lat1, lon1 = map(math.radians, one)
    lat2, lon2 = map(math.radians, other)
    a = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def in_window(report: ReportFacts, incident: IncidentFacts) -> bool:
    if report.at < incident.opened_at - LEAD:
        return False
    return incident.resolved_at is None or report.at <= incident.resolved_at


def _near(report: ReportFacts, incident: IncidentFacts) -> bool | None:
    """Whether the report is near one of the incident's places; None when a side has none."""
    if report.location is None or not incident.locations:
        return None
    return any(haversine_km(report.location, place) <= NEAR_KM for place in incident.locations)


def _district_fits(report: ReportFacts, incident: IncidentFacts) -> bool | None:
    if not incident.districts:
        return True
    if report.district is None:
        return None
    return report.district in incident.districts


def rule_applies(report: ReportFacts, incident: IncidentFacts) -> bool:
    """Same category, district within the incident's (or a city-wide incident), in the time
    window, and not too far where both sides are located."""
    return (
        report.category is not None
        and report.category == incident.category
        and _district_fits(report, incident) is True
        and in_window(report, incident)
        and _near(report, incident) is not False
    )


@dataclass(frozen=True)
class _Profile:
    centroid: incident_text.Vector
    texts: tuple[incident_text.Vector, ...]


@functools.lru_cache(maxsize=512)
def _profile(texts: tuple[str, ...]) -> _Profile:
    """An incident's texts as vectors (remembered: the same incident is asked again and again)."""
    vectors = tuple(v for v in (incident_text.vector(t) for t in texts[:TEXTS_LIMIT]) if v)
    return _Profile(incident_text.centroid((v, 1.0) for v in vectors), vectors)


def text_similarity(report: incident_text.Vector, texts: tuple[str, ...]) -> float:
    """0..1: cosine with the incident texts' centroid, or the mean cosine with its nearest few
    texts, whichever is higher."""
    if not report:
        return 0.0
    profile = _profile(texts)
    if not profile.texts:
        return 0.0
    # Of an incident with few texts yet (its title and description), the closest one.
    count = min(NEAREST, max(1, len(profile.texts) // 2))
    nearest = heapq.nlargest(count, (incident_text.cosine(report, text) for text in profile.texts))
    near = sum(nearest) / len(nearest)
    return max(0.0, min(1.0, max(incident_text.cosine(report, profile.centroid), near)))


def _shared(report: incident_text.Vector, texts: tuple[str, ...]) -> tuple[str, ...]:
    centroid = _profile(texts).centroid
    shared = sorted(
        (term for term in report if term in centroid),
        key=lambda term: (-report[term] * centroid[term], term),
    )
    return tuple(shared[:TERMS_SHOWN])


def match_one(
    report: ReportFacts,
    vector: incident_text.Vector,
    incident: IncidentFacts,
    *,
    rule: bool = True,
) -> Match | None:
    """The report (``vector`` is its text's: :func:`storage.incident_text.vector`) against one
    incident; ``rule=False`` scores by text alone (measured in ``bench/incident_match.py``)."""
    if not in_window(report, incident):
        return None
    similarity = text_similarity(vector, incident.texts)
    if rule and rule_applies(report, incident):
        score = min(1.0, RULE_BASE + TEXT_SCALE * similarity)
        terms = _shared(vector, incident.texts) if similarity > 0 else ()
        return Match(incident.incident_id, round(score, 4), "rule", terms)
    if report.category is not None and incident.category is not None:
        similarity *= 1.0 if report.category == incident.category else CATEGORY_MISMATCH
    if _district_fits(report, incident) is False:
        similarity *= DISTRICT_MISMATCH
    if _near(report, incident) is False:
        similarity *= LOCATION_MISMATCH
    score = min(1.0, TEXT_SCALE * similarity)
    if score < TEXT_THRESHOLD:
        return None
    return Match(incident.incident_id, round(score, 4), "text", _shared(vector, incident.texts))


def _order(match: Match) -> tuple[float, int, int]:
    return (-match.score, 0 if match.reason == "rule" else 1, match.incident_id)


def matches(report: ReportFacts, incidents: Sequence[IncidentFacts]) -> list[Match]:
    """Every incident the report matches, best first."""
    vector = incident_text.vector(report.text)
    found = [m for incident in incidents if (m := match_one(report, vector, incident)) is not None]
    return sorted(found, key=_order)


def best_match(report: ReportFacts, incidents: Sequence[IncidentFacts]) -> Match | None:
    """The incident the report most likely belongs to, or None."""
    found = matches(report, incidents)
    return found[0] if found else None


def rank_tickets(
    incident: IncidentFacts, reports: Sequence[tuple[int, ReportFacts]]
) -> list[tuple[int, Match]]:
    """The tickets (id, facts) suggested for an incident, best first (ties: lower id first)."""
    found = []
    for ticket_id, report in reports:
        match = match_one(report, incident_text.vector(report.text), incident)
        if match is not None:
            found.append((ticket_id, match))
    return sorted(found, key=lambda item: (*_order(item[1]), item[0]))
