"""What residents read about consultations, in their language: the announcement (with its
"take part" button), the invitation of an organisation, the outcome at the close. The staff
core plans them through the delivery engine with these texts; the resident flow shows the same
consultation the same way.

Values typed by people (titles, summaries, organisation names) are escaped by the catalog.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers import actions as act
from messaging.contract import Button
from messaging.i18n import Catalog, Markup
from messaging.text import local_time, markup_to_plain
from storage.models import Consultation
from storage.planning import ButtonsJson


def open_action(consultation_id: int) -> str:
    return act.with_arg(act.CONSULT_OPEN, str(consultation_id))


class ConsultationTexts:
    def __init__(self, catalog: Catalog, zone: ZoneInfo) -> None:
        self.catalog = catalog
        self.zone = zone

    def closes(self, consultation: Consultation) -> str:
        return local_time(consultation.closes_at, self.zone)

    def announce(self, lang: str, consultation: Consultation) -> Markup:
        return self.catalog.text(
            lang,
            "consult.announce",
            title=consultation.title,
            about=consultation.summary,
            closes=self.closes(consultation),
        )

    def announce_buttons(self, lang: str, consultation: Consultation) -> ButtonsJson:
        label = self.catalog.text(lang, "consult.btn.take_part")
        return [[[str(label), open_action(consultation.id)]]]

    def outcome(
        self, lang: str, consultation: Consultation, outcome: str, link: str | None
    ) -> Markup:
        text = self.catalog.text(lang, "consult.outcome", title=consultation.title, outcome=outcome)
        if link is None:
            return text
        return Markup(text + "\n\n" + self.catalog.text(lang, "consult.outcome.link", url=link))

    def invitation(
        self,
        lang: str,
        organisation: str,
        *,
        consultation: Consultation | None,
        meeting: str | None,
        meeting_at: str | None,
    ) -> Markup:
        if consultation is not None:
            return self.catalog.text(
                lang,
                "consult.invite.consultation",
                organisation=organisation,
                title=consultation.title,
                closes=self.closes(consultation),
            )
        return self.catalog.text(
            lang,
            "consult.invite.meeting",
            organisation=organisation,
            meeting=meeting or "",
            when=meeting_at or "—",
        )

    def invitation_buttons(
        self, lang: str, invitation_id: int, consultation_id: int | None
    ) -> ButtonsJson:
        yes = act.with_arg(act.CONSULT_INVITE, f"{invitation_id}:yes")
        no = act.with_arg(act.CONSULT_INVITE, f"{invitation_id}:no")
        rows = [
            [
                [str(self.catalog.text(lang, "consult.btn.invite_yes")), yes],
                [str(self.catalog.text(lang, "consult.btn.invite_no")), no],
            ]
        ]
        if consultation_id is not None:
            label = str(self.catalog.text(lang, "consult.btn.take_part"))
            rows.append([[label, open_action(consultation_id)]])
        return rows

    def open_button(self, lang: str, consultation: Consultation) -> Button:
        # A title is a person's text: plain on a button (buttons show no markup).
        label = self.catalog.text(lang, "consult.btn.open", title=consultation.title[:40])
        return Button(
            markup_to_plain(label),
            open_action(consultation.id),
        )
