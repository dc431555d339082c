"""The Queues screen's filter form: what the address says (``?kind=…&status=…``), checked
against the vocabularies, and turned into the data layer's ``QueueFilters``.

Every filter is one ``<select>`` whose values are vocabulary codes, never personal data, so the
filters live in the address (bookmarkable, Back works). The typed search is not a filter here:
only its opaque key (``q``) is (``bot.desk.searches``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Literal
from urllib.parse import urlencode

import markupsafe

from messaging import labels
from storage.desk.queue import UNASSIGNED, QueueFilters
from storage.stats import OPEN

# ``status``: open tickets unless asked otherwise; "all" for every status.
ALL_STATUSES = "all"
# ``assignee``: the visitor's own, nobody's, or a staff id.
MINE = "me"
NOBODY = "none"
# ``deadline``
OVERDUE = "overdue"
DUE_SOON = "soon"
_MAX_ID = 10**12


class BadFilter(ValueError):
    """An address with a filter value no form of ours offers."""


@dataclass(frozen=True, slots=True)
class Chosen:
    """The filters as the form shows them ("" = any)."""

    department: str = ""
    kind: str = ""
    status: str = ""
    category: str = ""
    district: str = ""
    channel: str = ""
    assignee: str = ""
    deadline: str = ""

    def fields(self) -> dict[str, str]:
        """The chosen ones, for an address or hidden fields."""
        return {name: value for name, value in asdict(self).items() if value}

    def link(self, **extra: str | None) -> str:
        """``/desk/`` with these filters and ``extra`` (the search key, a page cursor)."""
        values = {**self.fields(), **{k: v for k, v in extra.items() if v}}
        return "/desk/" + ("?" + urlencode(values) if values else "")

    def narrowed(self) -> bool:
        return bool(self.fields())


FIELDS = tuple(Chosen.__dataclass_fields__)

# Codes each vocabulary filter accepts, and the catalog labels they show.
VOCABULARIES: Mapping[str, Mapping[str, str]] = {
    "kind": labels.STAFF_KIND,
    "status": labels.STAFF_STATUS,
    "category": labels.STAFF_CATEGORY,
    "district": labels.DISTRICT,
    "channel": labels.STAFF_CHANNEL,
}


def _valid(name: str, value: str, departments: Collection[str]) -> bool:
    if not value:
        return True
    if name == "department":
        return value in departments
    if name == "status":
        return value == ALL_STATUSES or value in labels.STAFF_STATUS
    if name == "assignee":
        return value in (MINE, NOBODY) or (value.isdigit() and int(value) < _MAX_ID)
    if name == "deadline":
        return value in (OVERDUE, DUE_SOON)
    return value in VOCABULARIES[name]


def parse(values: Mapping[str, str], *, departments: Collection[str]) -> Chosen:
    """The filters of an address (or of the search form's hidden fields); ``departments``: the
    ones the visitor may pick. A value no form offers raises :class:`BadFilter`."""
    found = {}
    for name in FIELDS:
        value = values.get(name, "")
        if not isinstance(value, str) or not _valid(name, value, departments):
            raise BadFilter(name)
        found[name] = value
    return Chosen(**found)


def posted(form: Mapping[str, object], *, departments: Collection[str]) -> Chosen:
    """The filters a form of the Queues page posted back in its hidden fields (the search, the
    bulk link); a value no form offers drops them all rather than being obeyed."""
    values = {name: form.get(name, "") for name in FIELDS}
    try:
        return parse(
            {k: v for k, v in values.items() if isinstance(v, str)}, departments=departments
        )
    except BadFilter:
        return Chosen()


def filters(chosen: Chosen, *, me: int, search: str | None) -> QueueFilters:
    """The data layer's filters for ``chosen``, ``me`` being the visitor's staff id."""
    statuses: frozenset[str]
    if chosen.status == ALL_STATUSES or (not chosen.status and search is not None):
        # A search looks through every status unless one is chosen: staff search for a
        # number or a name to find that ticket, closed or not.
        statuses = frozenset()
    elif chosen.status:
        statuses = frozenset({chosen.status})
    else:
        statuses = frozenset(OPEN)
    assignee: int | Literal["unassigned"] | None = None
    if chosen.assignee == MINE:
        assignee = me
    elif chosen.assignee == NOBODY:
        assignee = UNASSIGNED
    elif chosen.assignee:
        assignee = int(chosen.assignee)

    def one(value: str) -> frozenset[str]:
        return frozenset({value}) if value else frozenset()

    return QueueFilters(
        kinds=one(chosen.kind),
        statuses=statuses,
        categories=one(chosen.category),
        districts=one(chosen.district),
        channels=one(chosen.channel),
        assignee=assignee,
        overdue=chosen.deadline == OVERDUE,
        due_soon=chosen.deadline == DUE_SOON,
        search=search,
    )


def options(
    t: Callable[..., markupsafe.Markup], vocabulary: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(code, label) of a vocabulary, in the order of the labels as read."""
    return sorted(((code, str(t(key))) for code, key in vocabulary.items()), key=lambda o: o[1])
