"""What every screen of the resident's ticket flows says with: the catalog's texts, the main
menu under a message, the Back/Cancel row, a deadline in the council's time zone."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from handlers import actions as act
from handlers import screens
from handlers.turn import Turn
from messaging.contract import Button, Reply
from messaging.i18n import Catalog, Markup


class TicketScreens:
    """The small helpers the filing flow, "my tickets" and the personal-data commands share."""

    def __init__(self, catalog: Catalog, zone: ZoneInfo) -> None:
        self.catalog = catalog
        self.zone = zone

    def _t(self, turn: Turn, key: str, **params: Any) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    def _menu(self, turn: Turn, key: str, **params: Any) -> Reply:
        return screens.main_menu(self.catalog, turn.resident, self._t(turn, key, **params))

    def _nav(self, turn: Turn, *, back: bool = True) -> tuple[Button, ...]:
        cancel = Button(self._t(turn, "btn.cancel"), act.FORM_CANCEL)
        return (Button(self._t(turn, "btn.back"), act.FORM_BACK), cancel) if back else (cancel,)

    def _with_menu(self, turn: Turn, reply: Reply) -> Reply:
        return screens.main_menu(self.catalog, turn.resident, Markup(reply.text))
