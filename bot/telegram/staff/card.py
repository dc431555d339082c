"""The ticket card staff see in their chat, its buttons, and the small formatting helpers the
staff side shares. Pure functions: no database, no network.

Every value that came from a person goes through the catalog's escaping (``Catalog.text``) or
``html.escape``: residents and staff type ``<`` and ``&``, and Telegram must never answer
"can't parse entities".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.staff import callbacks as cb
from messaging import labels
from messaging.i18n import N_, Catalog, Markup
from messaging.text import format_when, markup_to_plain, utf16_len
from storage.deadlines import AppealTerm, TicketKind
from storage.models import Department, Resident, Ticket, TicketMessage
from storage.recategorize import can_change_category
from storage.ticket_rules import REFUSAL_GROUNDS, can_change_term, can_extend
from storage.tickets import is_open
from storage.vocabulary import CATEGORY_QUEUES, TicketStatus

# Telegram's limits (characters after entity parsing, UTF-16 units).
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
TOPIC_NAME_LIMIT = 128
# The card keeps some room below the limit for what the markup adds when parsed.
CARD_BUDGET = 3900
# A long text shows its beginning on the card; the whole text follows in the thread.
CARD_BODY_LIMIT = 2500
# Other free-text fields are short by nature; a very long one is cut on the card.
FIELD_LIMIT = 300
# How many attachments the card lists by name.
ATTACHMENTS_LISTED = 10

STATUS_ICONS = {
    TicketStatus.NEW: "🆕",
    TicketStatus.IN_PROGRESS: "🛠",
    TicketStatus.ANSWERED: "💬",
    TicketStatus.REFUSED: "⛔",
    TicketStatus.CLOSED: "✅",
}


def shorten(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` UTF-16 units with an ellipsis; and whether it was cut."""
    if utf16_len(text) <= limit:
        return text, False
    units = 0
    cut = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit - 1:
            break
        cut = index + 1
    return text[:cut].rstrip() + "…", True


def label(catalog: Catalog, language: str, table: Mapping[str, str], code: str | None) -> str:
    """A catalog label for a code, or the code itself when the catalog has none (categories are
    data the resident side may extend)."""
    if not code:
        return "—"
    key = table.get(code)
    return catalog.text(language, key) if key in catalog.keys(language) else code


@dataclass(frozen=True, slots=True)
class CardData:
    ticket: Ticket
    resident: Resident | None
    queue: Department | None
    assignee: str | None
    attachments: Sequence[TicketMessage] = ()
    # The first ticket of a repeated appeal or a complaint (``tickets.parent_id``).
    parent_number: str | None = None
    # The person's messengers when linked in both (storage/linking.py), the preferred one
    # (where answers go) first; empty otherwise.
    linked_channels: Sequence[str] = ()


class CardRenderer:
    """Renders cards and buttons in the staff language (the council's default language)."""

    def __init__(self, catalog: Catalog, *, zone: ZoneInfo) -> None:
        self.catalog = catalog
        self.language = catalog.default
        self.zone = zone

    def t(self, key: str, /, **params: object) -> Markup:
        return self.catalog.text(self.language, key, **params)

    def label(self, table: Mapping[str, str], code: str | None) -> str:
        return label(self.catalog, self.language, table, code)

    def when(self, moment: datetime | None, *, exact: bool = False) -> str:
        return format_when(moment, self.zone, exact=exact)

    def resident_name(self, ticket: Ticket, resident: Resident | None) -> str:
        return self.author_name(ticket, resident.name if resident else None)

    def author_name(self, ticket: Ticket, stored_name: str | None) -> str:
        """How staff see the author: anonymous, the name given in the ticket, or the
        resident's messenger name (``stored_name``)."""
        if ticket.anonymous:
            return self.t("staff.anonymous")
        return ticket.full_name or stored_name or self.t("staff.unknown_resident")

    # -- text -------------------------------------------------------------------------------

    def topic_name(self, ticket: Ticket) -> str:
        topic = self.label(labels.STAFF_CATEGORY, ticket.category)
        if topic == "—":
            topic = self.label(labels.STAFF_KIND, ticket.kind)
        name, _cut = shorten(f"{ticket.number} · {topic}", TOPIC_NAME_LIMIT)
        return name

    def card_text(self, data: CardData) -> tuple[Markup, bool]:
        """The card, and whether the text was too long for it (the thread then gets it whole)."""
        lines, body_at = self._lines(data)
        body = data.ticket.body or ""
        if not body:
            return Markup("\n".join(lines)), False
        used = utf16_len(markup_to_plain("\n".join(lines)))
        # Every other field is bounded, so the budget never drops below a useful beginning.
        budget = max(200, min(CARD_BODY_LIMIT, CARD_BUDGET - used - 100))
        short, cut = shorten(body, budget)
        block = self.t("staff.card.body", text=short)
        if cut:
            block = Markup(block + "\n" + self.t("staff.card.body_cut"))
        lines.insert(body_at, block)
        return Markup("\n".join(lines)), cut

    def _lines(self, data: CardData) -> tuple[list[str], int]:
        """The card's lines without the text, and the position the text goes to."""
        ticket = data.ticket
        t = self.t
        status = TicketStatus(ticket.status)
        lines: list[str] = [
            t(
                "staff.card.title",
                icon=STATUS_ICONS[status],
                number=ticket.number,
                kind=self.label(labels.STAFF_KIND, ticket.kind),
            )
        ]
        if ticket.urgent:
            reason, _ = shorten(ticket.urgent_reason or "—", FIELD_LIMIT)
            lines.append(t("staff.card.urgent", reason=reason))
        if ticket.category:
            lines.append(
                t("staff.card.category", value=self.label(labels.STAFF_CATEGORY, ticket.category))
            )
        if ticket.appeal_type:
            value = self.label(labels.STAFF_APPEAL_TYPE, ticket.appeal_type)
            lines.append(t("staff.card.appeal_type", value=value))
        queue_name = data.queue.name if data.queue else ticket.queue_code
        lines.append(t("staff.card.queue", value=queue_name))
        channel = self.label(labels.STAFF_CHANNEL, ticket.channel)
        name, _ = shorten(self.resident_name(ticket, data.resident), FIELD_LIMIT)
        lines.append(t("staff.card.resident", name=name, channel=channel))
        if len(data.linked_channels) > 1:
            shown = [self.label(labels.STAFF_CHANNEL, code) for code in data.linked_channels]
            lines.append(t("staff.card.linked", channels=", ".join(shown), preferred=shown[0]))
        if data.resident is not None and data.resident.banned_at is not None:
            lines.append(t("staff.card.banned"))
        for key, field in (
            (N_("staff.card.address"), ticket.address),
            (N_("staff.card.contact"), ticket.contact),
            (N_("staff.card.subject"), ticket.subject),
        ):
            if field:
                lines.append(t(key, value=shorten(field, FIELD_LIMIT)[0]))
        body_at = len(lines)
        lines.extend(self._term_lines(data))
        lines.extend(self._closure_lines(data))
        return lines, body_at

    def _term_lines(self, data: CardData) -> list[str]:
        """Below the text: attachments, dates and term, status, assignee, refusal, rating."""
        ticket, t = data.ticket, self.t
        lines: list[str] = []
        if data.attachments:
            lines.append(t("staff.card.attachments", items=self._attachments(data.attachments)))
        lines.append(t("staff.card.received", date=self.when(ticket.received_at, exact=True)))
        deadline = self.when(ticket.deadline_at, exact=ticket.urgent)
        if ticket.extended_at is not None:
            reason, _ = shorten(ticket.extension_reason or "—", FIELD_LIMIT)
            lines.append(t("staff.card.deadline_extended", date=deadline, reason=reason))
        else:
            lines.append(t("staff.card.deadline", date=deadline))
        if ticket.kind == TicketKind.APPEAL:
            term = AppealTerm(ticket.appeal_term or AppealTerm.STANDARD)
            lines.append(t("staff.card.term", value=self.label(labels.STAFF_TERM, term.value)))
        lines.append(t("staff.card.status", value=self.label(labels.STAFF_STATUS, ticket.status)))
        if data.assignee:
            lines.append(t("staff.card.assignee", name=data.assignee))
        else:
            lines.append(t("staff.card.unassigned"))
        if ticket.status == TicketStatus.REFUSED:
            ground = self.label(labels.STAFF_GROUND, ticket.refusal_ground)
            comment, _ = shorten(ticket.refusal_comment or "—", FIELD_LIMIT)
            lines.append(t("staff.card.refusal", ground=ground, comment=comment))
        if ticket.rating is not None:
            lines.append(t("staff.card.rating", stars="⭐" * ticket.rating, n=ticket.rating))
        return lines

    def _closure_lines(self, data: CardData) -> list[str]:
        """The resident's "resolved?" answer, and the ticket this one follows."""
        ticket, t = data.ticket, self.t
        lines: list[str] = []
        if ticket.resolution:
            date = self.when(ticket.resolution_at, exact=True)
            lines.append(t(labels.CLOSURE_CARD_RESOLUTION[ticket.resolution], date=date))
        elif ticket.status == TicketStatus.CLOSED:
            lines.append(t("closure.card.resolution.waiting"))
        if data.parent_number and ticket.parent_link:
            link = t(labels.CLOSURE_LINK[ticket.parent_link])
            lines.append(t("closure.card.parent", link=link, number=data.parent_number))
        return lines

    def _attachments(self, attachments: Sequence[TicketMessage]) -> Markup:
        items: list[str] = []
        for message in attachments[:ATTACHMENTS_LISTED]:
            kind = self.label(labels.STAFF_ATTACHMENT, message.attachment_kind)
            if message.attachment_name:
                name, _ = shorten(message.attachment_name, 60)
                items.append(self.t("staff.card.attachment_named", kind=kind, name=name))
            else:
                items.append(self.t("staff.card.attachment", kind=kind))
        if len(attachments) > ATTACHMENTS_LISTED:
            items.append("…")
        return Markup(", ".join(items))

    # -- buttons ----------------------------------------------------------------------------

    def _button(
        self, key: str, verb: cb.Verb, ticket_id: int, argument: str = ""
    ) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=markup_to_plain(self.t(key)), callback_data=cb.pack(verb, ticket_id, argument)
        )

    def card_buttons(self, ticket: Ticket) -> InlineKeyboardMarkup | None:
        if not is_open(ticket):
            return None
        b = self._button
        rows = [
            [
                b("staff.btn.take", cb.Verb.TAKE, ticket.id),
                b("staff.btn.hand", cb.Verb.HAND, ticket.id),
            ]
        ]
        middle: list[InlineKeyboardButton] = []
        if can_extend(ticket):
            middle.append(b("staff.btn.extend", cb.Verb.EXTEND, ticket.id))
        if can_change_term(ticket):
            if (ticket.appeal_term or AppealTerm.STANDARD) == AppealTerm.STANDARD:
                middle.append(
                    b("staff.btn.term_simple", cb.Verb.TERM, ticket.id, AppealTerm.SIMPLE)
                )
            else:
                middle.append(
                    b("staff.btn.term_standard", cb.Verb.TERM, ticket.id, AppealTerm.STANDARD)
                )
        if can_change_category(ticket):
            middle.append(b("staff.btn.category", cb.Verb.CATEGORY, ticket.id))
        if middle:
            rows.append(middle)
        rows.append(
            [
                b("staff.btn.refuse", cb.Verb.REFUSE, ticket.id),
                b("staff.btn.close", cb.Verb.CLOSE, ticket.id),
            ]
        )
        return InlineKeyboardMarkup(inline_keyboard=rows)

    def queue_buttons(self, ticket: Ticket, queues: Sequence[Department]) -> InlineKeyboardMarkup:
        buttons = [
            InlineKeyboardButton(
                text=shorten(queue.name, 60)[0],
                callback_data=cb.pack(cb.Verb.HAND_TO, ticket.id, queue.code),
            )
            for queue in queues
            if queue.code != ticket.queue_code
        ]
        rows = [buttons[index : index + 2] for index in range(0, len(buttons), 2)]
        rows.append([self._button("staff.btn.back", cb.Verb.CARD, ticket.id)])
        return InlineKeyboardMarkup(inline_keyboard=rows)

    def category_buttons(self, ticket: Ticket) -> InlineKeyboardMarkup:
        """The categories to move the ticket to (its own left out), two to a row."""
        buttons = [
            InlineKeyboardButton(
                text=self.label(labels.STAFF_CATEGORY, category),
                callback_data=cb.pack(cb.Verb.CATEGORY_TO, ticket.id, category),
            )
            for category in CATEGORY_QUEUES
            if category != ticket.category
        ]
        rows = [buttons[index : index + 2] for index in range(0, len(buttons), 2)]
        rows.append([self._button("staff.btn.back", cb.Verb.CARD, ticket.id)])
        return InlineKeyboardMarkup(inline_keyboard=rows)

    def ground_buttons(self, ticket: Ticket) -> InlineKeyboardMarkup:
        rows = [
            [self._button(labels.STAFF_GROUND[ground], cb.Verb.GROUND, ticket.id, ground)]
            for ground in REFUSAL_GROUNDS.get(ticket.kind, ())
        ]
        rows.append([self._button("staff.btn.back", cb.Verb.CARD, ticket.id)])
        return InlineKeyboardMarkup(inline_keyboard=rows)

    def close_buttons(self, ticket: Ticket) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    self._button("staff.btn.close_confirm", cb.Verb.CLOSE_OK, ticket.id),
                    self._button("staff.btn.back", cb.Verb.CARD, ticket.id),
                ]
            ]
        )
