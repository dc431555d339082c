"""What residents are told when staff act on their ticket: taken, answered, extended, refused,
closed, banned. In the resident's own language and messenger, with dates in the council's zone.

Texts come from the ``notice.*`` catalog keys; values typed by people (answers, reasons,
comments) are escaped by the catalog.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers.notify import DeliveryFailed, Notifier
from handlers.staff.media import MediaLinks
from handlers.tickets.closure import question_buttons
from messaging import labels
from messaging.contract import Media, Reply
from messaging.i18n import Catalog, Markup
from messaging.text import format_when
from storage.models import Resident, Ticket
from storage.ticket_rules import closure_round
from storage.vocabulary import Channel


class Notices:
    def __init__(
        self,
        *,
        notifier: Notifier,
        catalog: Catalog,
        zone: ZoneInfo,
        media: MediaLinks | None,
    ) -> None:
        self._notifier = notifier
        self._catalog = catalog
        self._zone = zone
        self._media = media

    def t(self, resident: Resident, key: str, /, **params: object) -> Markup:
        return self._catalog.text(resident.language, key, **params)

    def _about(self, resident: Resident, ticket: Ticket) -> dict[str, object]:
        return {
            "subject": self.t(resident, labels.NOTICE_SUBJECT[ticket.kind]),
            "number": ticket.number,
        }

    def deadline(self, ticket: Ticket) -> str:
        return format_when(ticket.deadline_at, self._zone, exact=ticket.urgent)

    async def deliver(self, resident: Resident, reply: Reply) -> str | None:
        """Send; None when delivered, else the reason to show staff."""
        reason, _sent = await self.deliver_tracked(resident, reply)
        return reason

    async def deliver_tracked(
        self, resident: Resident, reply: Reply
    ) -> tuple[str | None, list[str]]:
        """As ``deliver``, and the ids of the messages it went out as (none when it failed)."""
        try:
            sent = await self._notifier.send_all(resident, reply)
        except DeliveryFailed as error:
            return error.reason, []
        return None, [item.message_id for item in sent]

    # -- files ------------------------------------------------------------------------------

    def can_send_files(self, resident: Resident, *, channel: str | None = None) -> bool:
        """Telegram file_ids work for Telegram residents; Viber needs our signed links.
        ``channel``: where the resident is reached when not their own (a linked person's
        preferred messenger, ``storage.linking``)."""
        return (channel or resident.channel) != Channel.VIBER or self._media is not None

    def _media_for(self, channel: str, kind: str, file_id: str, name: str | None) -> Media:
        if channel == Channel.VIBER:
            assert self._media is not None, "check can_send_files first"
            return Media(kind=kind, ref=self._media.url(file_id), file_name=name)
        return Media(kind=kind, ref=file_id, file_name=name)

    # -- the notices ------------------------------------------------------------------------

    def taken(self, resident: Resident, ticket: Ticket) -> Reply:
        return Reply(
            text=self.t(
                resident,
                "notice.taken",
                deadline=self.deadline(ticket),
                **self._about(resident, ticket),
            )
        )

    def answer(
        self,
        resident: Resident,
        ticket: Ticket,
        *,
        text: str,
        attachment: tuple[str, str, str | None] | None,
        first: bool,
        channel: str | None = None,
    ) -> Reply:
        key = "notice.answer_first" if first else "notice.answer"
        head = self.t(resident, key, **self._about(resident, ticket))
        body = Markup(head + "\n\n" + self.t(resident, "notice.text", text=text)) if text else head
        media = None
        if attachment is not None:
            kind, file_id, name = attachment
            media = self._media_for(channel or resident.channel, kind, file_id, name)
        return Reply(text=body, media=media)

    def extended(self, resident: Resident, ticket: Ticket) -> Reply:
        return Reply(
            text=self.t(
                resident,
                labels.NOTICE_EXTENDED[ticket.kind],
                deadline=self.deadline(ticket),
                reason=ticket.extension_reason or "—",
                **self._about(resident, ticket),
            )
        )

    def term_changed(self, resident: Resident, ticket: Ticket) -> Reply:
        """Staff chose the appeal's term: the deadline the resident was given has moved."""
        return Reply(
            text=self.t(
                resident,
                labels.NOTICE_TERM[ticket.appeal_term or ""],
                deadline=self.deadline(ticket),
                **self._about(resident, ticket),
            )
        )

    def refused(self, resident: Resident, ticket: Ticket) -> Reply:
        parts = [
            self.t(resident, "notice.refused", **self._about(resident, ticket)),
            self.t(resident, labels.NOTICE_GROUND[ticket.kind, ticket.refusal_ground or ""]),
        ]
        if ticket.refusal_comment:
            parts.append(self.t(resident, "notice.refused_comment", comment=ticket.refusal_comment))
        parts.append(self.t(resident, labels.NOTICE_APPEAL_HOW[ticket.kind]))
        return Reply(text=Markup("\n\n".join(parts)))

    def closed(self, resident: Resident, ticket: Ticket) -> Reply:
        """The closing notice asks "Питання вирішено?" first; the rating follows a "yes"
        (``handlers.tickets.closure``)."""
        round_ = closure_round(ticket)
        assert round_ is not None, "asked right after closing"
        return Reply(
            text=self.t(resident, "closure.notice.closed", **self._about(resident, ticket)),
            buttons=(question_buttons(self._catalog, resident.language, ticket.id, round_),),
        )

    def banned(self, resident: Resident) -> Reply:
        return Reply(text=self.t(resident, "notice.banned"))

    def unbanned(self, resident: Resident) -> Reply:
        return Reply(text=self.t(resident, "notice.unbanned"))
