"""The way back to the main menu, on every keyboard a resident sees.

A resident must never be stuck on a keyboard that only leads to other screens (Viber's "my
tickets" list and a ticket's page once pointed only at each other). Every keyboard therefore
carries a button that leads straight to the main menu: its own (cancel, back from settings) or
the "🏠 Головне меню" button added here. Telegram's main menu is a persistent reply keyboard
under every message once the resident finished onboarding, so there the button is added only
during onboarding; Viber shows only the keyboard of the last message, so there it is added
everywhere. Before the consent step is answered there is no menu to go back to.
"""

from __future__ import annotations

import dataclasses

from handlers import actions as act
from messaging.contract import Button, Keyboard, KeyboardKind, Reply
from messaging.i18n import Catalog
from storage.models import Resident
from storage.vocabulary import Channel

# Actions whose press always ends on the main menu.
HOME_ACTIONS = frozenset({act.MENU, act.SETTINGS_BACK, act.FORM_CANCEL})

# Messengers whose main menu stays under every message once it was sent (a reply keyboard).
PERSISTENT_MENU_CHANNELS = frozenset({Channel.TELEGRAM.value})


def leads_home(keyboard: Keyboard) -> bool:
    return any(button.action in HOME_ACTIONS for row in keyboard for button in row)


def needs_button(resident: Resident, channel: str, *, onboarding_after_consent: bool) -> bool:
    """Whether this resident's keyboards need the home button added (see the module's doc)."""
    if resident.onboarded_at is None:
        return onboarding_after_consent
    return channel not in PERSISTENT_MENU_CHANNELS


def with_home(catalog: Catalog, lang: str, keyboard: Keyboard, *, menu: Keyboard) -> Keyboard:
    """``keyboard`` with the home button as its last row, unless it already leads home or ends
    with the main menu (``menu``: its buttons; a poll's options carry it in Viber)."""
    if not keyboard or leads_home(keyboard) or (menu and keyboard[-len(menu) :] == menu):
        return keyboard
    return (*keyboard, (Button(catalog.text(lang, "btn.home"), act.MENU),))


def reply_with_home(catalog: Catalog, lang: str, reply: Reply, *, menu: Keyboard) -> Reply:
    """A screen's reply with the home button (the main menu itself needs none)."""
    if not reply.buttons or reply.keyboard is KeyboardKind.MENU:
        return reply
    keyboard = with_home(catalog, lang, reply.buttons, menu=menu)
    if keyboard is reply.buttons:
        return reply
    return dataclasses.replace(reply, buttons=keyboard)
