"""The texts of a poll's results: the resident's short form and the operator chat's full one
with the breakdowns by district and channel.

Shown by the closing job (``broadcasts.polls``), by a resident's vote (``handlers.polls``) and
by ``/pollresults``; kept in broadcasts, which the handlers may import, so that the closing job
needs nothing of the handlers above it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from messaging import labels
from messaging.i18n import Catalog, Markup
from messaging.text import local_time
from storage import polls
from storage.vocabulary import District


def resident_results(catalog: Catalog, lang: str, found: polls.Results) -> Markup:
    percents = found.total.percents()
    lines = [
        catalog.text(
            lang,
            "poll.results.option",
            label=label,
            count=found.total.votes[index],
            percent=percents[index],
        )
        for index, label in enumerate(found.options)
    ]
    return catalog.text(
        lang,
        "poll.results.resident",
        voters=found.total.voters,
        lines=Markup("\n".join(lines)),
    )


def _district_name(catalog: Catalog, lang: str, code: str) -> str:
    if code in {d.value for d in District}:
        return catalog.text(lang, labels.DISTRICT[code])
    return catalog.text(lang, "poll.results.no_district")


def staff_results(catalog: Catalog, found: polls.Results, zone: ZoneInfo) -> Markup:
    """The full results for the operator chat: totals and shares, reach, and the breakdowns."""
    lang = catalog.default
    t = catalog.text

    def lines(tally: polls.Tally) -> str:
        percents = tally.percents()
        return "\n".join(
            t(
                lang,
                "poll.results.option",
                label=label,
                count=tally.votes[index],
                percent=percents[index],
            )
            for index, label in enumerate(found.options)
        )

    def group(title: Markup, tally: polls.Tally) -> str:
        return t(lang, "poll.results.group", name=title, voters=tally.voters) + "\n" + lines(tally)

    districts = [
        group(
            Markup(t(lang, "poll.results.district", name=_district_name(catalog, lang, code))),
            tally,
        )
        for code, tally in sorted(found.by_district.items())
    ]
    channels = [
        group(
            Markup(t(lang, "poll.results.channel", name=t(lang, labels.NEWS_CHANNEL[code]))), tally
        )
        for code, tally in sorted(found.by_channel.items())
    ]
    status = t(
        lang,
        "poll.results.closed"
        if found.status == polls.PollStatus.CLOSED.value
        else "poll.results.open",
        when=local_time(found.closes_at, zone),
    )
    return t(
        lang,
        "poll.results.staff",
        id=found.poll_id,
        question=found.question,
        status=status,
        reached=found.reached,
        voters=found.total.voters,
        kind=t(lang, "poll.kind.multiple" if found.multiple else "poll.kind.single"),
        totals=Markup(lines(found.total)),
        districts=Markup("\n\n".join(districts) or t(lang, "poll.results.none")),
        channels=Markup("\n\n".join(channels) or t(lang, "poll.results.none")),
    )
