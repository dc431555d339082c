"""The ticket card's buttons in the staff chats: one aiogram handler per verb of
``CardCallback``. Each calls one operation of the staff core (or shows a choice) and says how
it went in the button's answer; the edge (``edge.py``) has claimed the update, loaded the staff
member and locked the ticket, and answers the button after the commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.telegram.staff import callbacks as cb
from bot.telegram.staff import refusals
from bot.telegram.staff.callbacks import CardCallback, Verb
from bot.telegram.staff.edge import FLAG, Work, answer_query
from bot.telegram.staff.service import ACTION_EXTEND, ACTION_REFUSE, StaffService
from handlers.staff.core import Refused
from handlers.staff.tickets import assigning, terms
from messaging import labels
from messaging.i18n import N_
from storage.models import Ticket
from storage.tickets import list_queues


def _refused(staff: StaffService, work: Work, refused: Refused) -> None:
    work.answer(refusals.on_card(staff.t, refused), alert=True)


def _where(query: CallbackQuery) -> tuple[int, int]:
    assert query.message is not None  # the edge keeps to presses of messages in staff chats
    return query.message.chat.id, query.message.message_id


async def _show_choice(
    query: CallbackQuery,
    callback_data: CardCallback,
    work: Work,
    staff: StaffService,
    keyboard: Callable[[Ticket], Awaitable[InlineKeyboardMarkup]],
) -> None:
    """Swap the card's buttons for a choice (queues, categories, grounds, closing) while the
    ticket is open; the choice itself is the next press."""
    found = await assigning.check_open(
        staff.tickets, work.actor, callback_data.id, within=work.within
    )
    if isinstance(found, Refused):
        return _refused(staff, work, found)
    work.later(staff.desk.set_buttons, *_where(query), await keyboard(found.value))


async def card(query: CallbackQuery, work: Work, ticket: Ticket, staff: StaffService) -> None:
    """Back to the card's own buttons."""
    work.later(staff.desk.set_buttons, *_where(query), staff.cards.card_buttons(ticket))


async def take(
    _query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    taken = await assigning.take(staff.tickets, work.actor, callback_data.id, within=work.within)
    if isinstance(taken, Refused):
        return _refused(staff, work, taken)
    work.answer(staff.t("staff.cb.taken"))


async def show_queues(
    query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    async def keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
        return staff.cards.queue_buttons(ticket, await list_queues(work.session, active_only=True))

    await _show_choice(query, callback_data, work, staff, keyboard)


async def hand_over(
    query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    mark = work.mark()
    moved = await assigning.hand_over(
        staff.tickets, work.actor, callback_data.id, callback_data.arg, within=work.within
    )
    if isinstance(moved, Refused):
        return _refused(staff, work, moved)
    handed = moved.value
    work.answer(staff.t("staff.cb.handed_over", queue=handed.queue_name))
    text = staff.t(
        "staff.handed_over",
        number=handed.number,
        queue=handed.queue_name,
        who=work.staff.name or "",
    )
    # The old card says where the ticket went before the new queue's card is posted.
    work.before(mark, staff.desk.edit_text, *_where(query), text, None)


async def extend(
    _query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    allowed = await terms.check_extend(
        staff.tickets, work.actor, callback_data.id, within=work.within
    )
    if isinstance(allowed, Refused):
        return _refused(staff, work, allowed)
    work.answer(staff.t("staff.cb.prompted"))
    work.later(staff.prompt, allowed.value, work.staff, ACTION_EXTEND, N_("staff.prompt.extend"))


async def show_grounds(
    query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    async def keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
        return staff.cards.ground_buttons(ticket)

    await _show_choice(query, callback_data, work, staff, keyboard)


async def ground(
    query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    chosen = await terms.check_ground(
        staff.tickets, work.actor, callback_data.id, callback_data.arg, within=work.within
    )
    if isinstance(chosen, Refused):
        return _refused(staff, work, chosen)
    ticket = chosen.value
    work.answer(staff.t("staff.cb.prompted"))
    work.later(staff.desk.set_buttons, *_where(query), staff.cards.card_buttons(ticket))
    work.later(
        staff.prompt,
        ticket,
        work.staff,
        ACTION_REFUSE,
        N_("staff.prompt.refuse"),
        ground=callback_data.arg,
    )


async def ask_close(
    query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    async def keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
        return staff.cards.close_buttons(ticket)

    await _show_choice(query, callback_data, work, staff, keyboard)


async def close(
    _query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    closed = await terms.close(staff.tickets, work.actor, callback_data.id, within=work.within)
    if isinstance(closed, Refused):
        return _refused(staff, work, closed)
    work.answer(staff.t("staff.cb.closed"))


async def term(
    _query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    changed = await terms.set_term(
        staff.tickets, work.actor, callback_data.id, callback_data.arg, within=work.within
    )
    if isinstance(changed, Refused):
        return _refused(staff, work, changed)
    work.answer(staff.t("staff.cb.term", date=staff.cards.when(changed.value)))


async def show_categories(
    query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    async def keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
        return staff.cards.category_buttons(ticket)

    await _show_choice(query, callback_data, work, staff, keyboard)


async def category(
    query: CallbackQuery, callback_data: CardCallback, work: Work, staff: StaffService
) -> None:
    mark = work.mark()
    changed = await assigning.change_category(
        staff.tickets, work.actor, callback_data.id, callback_data.arg, within=work.within
    )
    if isinstance(changed, Refused):
        return _refused(staff, work, changed)
    result, label = changed.value, staff.cards.label
    work.answer(
        staff.t("staff.cb.category", category=label(labels.STAFF_CATEGORY, result.change.new))
    )
    if result.queue_name is None:
        return
    text = staff.t(
        "staff.category_moved",
        number=result.number,
        old=label(labels.STAFF_CATEGORY, result.change.old),
        new=label(labels.STAFF_CATEGORY, result.change.new),
        queue=result.queue_name,
        who=work.staff.name or "",
    )
    work.before(mark, staff.desk.edit_text, *_where(query), text, None)


async def unknown(query: CallbackQuery) -> None:
    """Not a card button, or malformed (callback data comes from the client): the spinner
    stops, nothing else happens."""
    await answer_query(query, None)


HANDLERS: dict[Verb, Callable[..., Awaitable[None]]] = {
    Verb.CARD: card,
    Verb.TAKE: take,
    Verb.HAND: show_queues,
    Verb.HAND_TO: hand_over,
    Verb.EXTEND: extend,
    Verb.REFUSE: show_grounds,
    Verb.GROUND: ground,
    Verb.CLOSE: ask_close,
    Verb.CLOSE_OK: close,
    Verb.TERM: term,
    Verb.CATEGORY: show_categories,
    Verb.CATEGORY_TO: category,
}


def register(router: Router) -> None:
    for verb, handler in HANDLERS.items():
        router.callback_query.register(
            handler, CardCallback.filter(F.verb == verb), flags={FLAG: "button"}
        )
    router.callback_query.register(unknown, F.data.startswith(cb.PREFIX + ":"))
