"""Help: everything a resident can do, as one screen with a button for each thing.

Telegram residents can also tap commands, so their help lists the commands as well; Viber
residents cannot (a typed ``/command`` is all Viber offers), so their help names the buttons
only (``help.viber``) and the buttons do everything the commands do.
"""

from __future__ import annotations

from handlers import actions as act
from messaging.contract import Button, Keyboard, Reply
from messaging.i18n import N_, Catalog, Markup
from storage.models import Resident
from storage.vocabulary import Channel

# The help text of each messenger; a messenger not listed gets the buttons-only text.
TEXT_KEYS = {Channel.TELEGRAM.value: N_("help.telegram"), Channel.VIBER.value: N_("help.viber")}
DEFAULT_TEXT_KEY = N_("help.viber")


def text_key(channel: str) -> str:
    return TEXT_KEYS.get(channel, DEFAULT_TEXT_KEY)


def buttons(catalog: Catalog, resident: Resident) -> Keyboard:
    """A button for every thing a resident can do."""
    lang = resident.language

    def button(key: str, action: str) -> Button:
        return Button(catalog.text(lang, key), action)

    toggle = (
        button("menu.stop", act.MENU_STOP)
        if resident.subscribed
        else button("menu.subscribe", act.MENU_SUBSCRIBE)
    )
    return (
        (button("menu.file", act.FILE), button("menu.mytickets", act.MY_LIST)),
        (button("menu.news", act.MENU_NEWS), button("menu.settings", act.MENU_SETTINGS)),
        (button("btn.mydata", act.MY_DATA), button("btn.forget", act.FORGET_ASK)),
        (button("menu.policy", act.MENU_POLICY), toggle),
        (button("consult.btn.list", act.CONSULT_LIST), button("settings.link", act.LINK)),
        (button("btn.home", act.MENU),),
    )


def screen(
    catalog: Catalog, resident: Resident, channel: str, *, prefix: Markup | None = None
) -> Reply:
    """The help screen (``prefix``: a line to put above it, e.g. "no such command")."""
    text = catalog.text(resident.language, text_key(channel))
    if prefix:
        text = Markup(prefix + "\n\n" + text)
    return Reply(text=text, buttons=buttons(catalog, resident))
