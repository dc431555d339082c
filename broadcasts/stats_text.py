"""Staff-facing texts of the analytics: ``/stats``, and the labels the summaries share.

Catalog texts live in ``locales/stats.*.json``; codes (kinds, categories, districts, …) are shown
with the labels the rest of the staff side uses, or as the code when there is none.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from messaging import labels
from messaging.i18n import Catalog, Markup
from storage.stats import (
    NONE,
    BroadcastReach,
    ResidentRow,
    Resolutions,
    StatsReport,
    TicketRow,
)

LISTED = 15  # rows per breakdown (the biggest ones)
EXCERPT = 60

# Any HTML tag (a news text is stored as Telegram HTML: <b>, <a href=…>, <tg-spoiler>, …).
_TAG = re.compile(r"<[^<>]*>")
# Markdown emphasis pairs (**bold**, __bold__, ~~struck~~, `code`) typed into a title or a feed.
_MARKDOWN = re.compile(r"(\*\*|__|~~|`)(?=\S)(.+?)(?<=\S)\1")


def plain_title(markup: str) -> str:
    """A news title or text as plain words on one line: tags and Markdown emphasis dropped,
    entities decoded (the catalog escapes the result again, so ``<`` typed as text stays
    ``<``)."""
    text = html.unescape(_TAG.sub("", markup))
    text = _MARKDOWN.sub(r"\2", text)
    return " ".join(text.split())


class StatsTexts:
    def __init__(self, catalog: Catalog, *, zone: ZoneInfo, language: str | None = None) -> None:
        self.catalog = catalog
        self.zone = zone
        self.language = language or catalog.default
        self._keys = catalog.keys(self.language)

    def t(self, key: str, /, **params: object) -> Markup:
        return self.catalog.text(self.language, key, **params)

    def label(self, table: Mapping[str, str], code: str) -> str:
        """The catalog label of ``code`` in ``table`` (``messaging.labels``), else the code."""
        if code == NONE:
            return self.t("stats.none")
        key = table.get(code)
        return self.catalog.text(self.language, key) if key in self._keys else code

    def channel(self, code: str) -> str:
        return self.label(labels.STAFF_CHANNEL, code)

    def district(self, code: str) -> str:
        return self.label(labels.DISTRICT, code)

    def category(self, code: str) -> str:
        return self.label(labels.STAFF_CATEGORY, code)

    def duration(self, seconds: float | None) -> Markup:
        if seconds is None:
            return self.t("stats.duration.none")
        minutes = max(0, round(seconds / 60))
        days, rest = divmod(minutes, 24 * 60)
        hours, mins = divmod(rest, 60)
        if days:
            return self.t("stats.duration.days", count=days, hours=hours)
        if hours:
            return self.t("stats.duration.hours", hours=hours, minutes=mins)
        return self.t("stats.duration.minutes", minutes=mins)

    def when(self, value: object) -> str:
        if not isinstance(value, datetime):
            return "—"
        return value.astimezone(self.zone).strftime("%d.%m.%Y %H:%M")

    # -- /stats ---------------------------------------------------------------------------

    def _resident_block(
        self, title_key: str, rows: Sequence[ResidentRow], table: Mapping[str, str]
    ) -> str:
        lines = [self.t(title_key)]
        for r in rows[:LISTED]:
            lines.append(
                self.t(
                    "stats.residents.line",
                    name=self.label(table, r.key),
                    total=r.total,
                    new_7=r.new_7,
                    new_30=r.new_30,
                    left_7=r.left_7,
                    left_30=r.left_30,
                )
            )
        return "\n".join(lines)

    def _ticket_block(
        self,
        title_key: str,
        rows: Sequence[TicketRow],
        name: Mapping[str, str],
        *,
        translate: bool = True,
    ) -> str:
        """``name``: a table of msgids (``messaging.labels``), or names as they are."""
        lines = [self.t(title_key)]
        for r in rows[:LISTED]:
            label = self.label(name, r.key) if translate else name.get(r.key, r.key)
            if r.key == NONE:
                label = self.t("stats.none")
            lines.append(
                self.t("stats.tickets.line", name=label, total=r.total, open=r.open, new_7=r.new_7)
            )
        if len(rows) > LISTED:
            lines.append(self.t("stats.more", count=len(rows) - LISTED))
        return "\n".join(lines)

    def broadcast_line(self, reach: BroadcastReach) -> Markup:
        title = plain_title(reach.title or reach.text)
        if len(title) > EXCERPT:
            title = title[: EXCERPT - 1] + "…"
        states = reach.states
        return self.t(
            "stats.broadcast.line",
            id=reach.broadcast_id,
            title=title,
            started=self.when(reach.started_at),
            count=reach.total,
            sent=states.get("sent", 0),
            blocked=states.get("blocked", 0),
            failed=states.get("failed", 0),
            pending=states.get("pending", 0) + states.get("sending", 0),
        )

    def resolutions(self, found: Resolutions) -> Markup:
        """The share of closings the residents confirmed resolved, said were not, or left
        unanswered (whole percents of the closings)."""
        if found.asked == 0:
            return self.t("closure.stats.none")

        def share(count: int) -> str:
            return f"{round(100 * count / found.asked)}%"

        return self.t(
            "closure.stats",
            closed=found.asked,
            resolved=found.resolved,
            resolved_share=share(found.resolved),
            unresolved=found.not_resolved,
            unresolved_share=share(found.not_resolved),
            silent=found.silent,
            silent_share=share(found.silent),
            reopened=found.reopened,
        )

    def report(self, report: StatsReport) -> Markup:
        r = report.residents
        parts = [
            self.t("stats.title", now=self.when(report.now)),
            self.t(
                "stats.residents.total",
                total=r.total,
                new_7=r.new_7,
                new_30=r.new_30,
                left_7=r.left_7,
                left_30=r.left_30,
            ),
            self._resident_block(
                "stats.residents.by_channel", report.residents_by_channel, labels.STAFF_CHANNEL
            ),
            self._resident_block(
                "stats.residents.by_district", report.residents_by_district, labels.DISTRICT
            ),
            self._resident_block(
                "stats.residents.by_topic", report.residents_by_topic, labels.TOPIC
            ),
            self.t("stats.tickets.title"),
            self._ticket_block("stats.tickets.by_kind", report.tickets_by_kind, labels.STAFF_KIND),
            self._ticket_block(
                "stats.tickets.by_status", report.tickets_by_status, labels.STAFF_STATUS
            ),
            self._ticket_block(
                "stats.tickets.by_category", report.tickets_by_category, labels.STAFF_CATEGORY
            ),
            self._ticket_block(
                "stats.tickets.by_queue",
                report.tickets_by_queue,
                report.queue_names,
                translate=False,
            ),
            self.t("stats.overdue", count=report.overdue),
            self.t(
                "stats.medians",
                first=self.duration(report.median_first_answer),
                close=self.duration(report.median_close),
            ),
        ]
        ratings = report.ratings
        if ratings.count:
            scores = ", ".join(f"{score}★ {count}" for score, count in ratings.by_score.items())
            parts.append(
                self.t(
                    "stats.ratings",
                    average=self.catalog.decimal(self.language, ratings.average or 0),
                    count=ratings.count,
                    scores=scores,
                )
            )
        else:
            parts.append(self.t("stats.ratings.none"))
        if report.resolutions is not None:
            parts.append(self.resolutions(report.resolutions))
        parts.append(self.t("stats.broadcasts.title"))
        if report.broadcasts:
            parts.extend(self.broadcast_line(b) for b in report.broadcasts)
        else:
            parts.append(self.t("stats.broadcasts.none"))
        return Markup("\n\n".join(p for p in parts if p))
