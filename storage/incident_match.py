"""Which open incident a new report is about (issue 17): the interface the incidents core
uses, with the rule every implementation keeps.

The rule: the same category, a district among the incident's (or the incident is city-wide),
and a report time within ``[opened_at - 2 h, resolved_at or the report's own time]``. This
module is pure (no database): the caller loads the facts (``storage.incidents.open_facts``).
The text-similarity matcher replaces this implementation behind the same interface and keeps
matching every case the rule matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# Reports may come a little before staff open the incident (the spike that made them open it).
BEFORE_OPENING = timedelta(hours=2)
RULE = "rule"
TEXT = "text"


@dataclass(frozen=True)
class ReportFacts:
    text: str
    category: str | None
    district: str | None
    at: datetime
    location: tuple[float, float] | None = None


@dataclass(frozen=True)
class IncidentFacts:
    incident_id: int
    category: str | None
    districts: frozenset[str]  # empty = the whole city
    opened_at: datetime
    resolved_at: datetime | None  # None = still open
    # title, description, linked reports' texts (most recent first, at most ~50)
    texts: tuple[str, ...]
    locations: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Match:
    incident_id: int
    score: float  # 0..1
    reason: str  # "rule" or "text"


def rule_matches(report: ReportFacts, incident: IncidentFacts) -> bool:
    """Same category, in the incident's districts (or it is city-wide), within its window."""
    if report.category is None or report.category != incident.category:
        return False
    if incident.districts and report.district not in incident.districts:
        return False
    until = incident.resolved_at if incident.resolved_at is not None else report.at
    return incident.opened_at - BEFORE_OPENING <= report.at <= until


def best_match(report: ReportFacts, incidents: Sequence[IncidentFacts]) -> Match | None:
    """The incident ``report`` is about, or None. Among several rule matches, the one with
    districts named (more specific) and then the most recently opened wins."""
    found = [incident for incident in incidents if rule_matches(report, incident)]
    if not found:
        return None
    best = max(found, key=lambda i: (bool(i.districts), i.opened_at, i.incident_id))
    return Match(best.incident_id, 1.0, RULE)
