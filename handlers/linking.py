"""The resident's side of linking Telegram and Viber into one resident (storage/linking.py):
``/link`` and the settings button, the code typed in the other messenger, the preferred
messenger, unlinking, and the linked accounts in ``/mydata``.

Texts never name a slash command: Viber residents reach all of it through Settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import actions as act
from handlers import screens
from handlers.notify import DeliveryFailed, Notifier
from handlers.turn import FLOW_IDLE, Turn
from messaging import labels
from messaging.contract import AccountsLinked, Button, Effect, EventKind, Reply
from messaging.i18n import N_, Catalog, Markup
from storage import linking
from storage.models import Resident
from storage.vocabulary import Channel

# The conversation's settings flow (handlers/conversation.py imports this module, not back).
FLOW_SETTINGS = "settings"
STEP_MENU = "menu"

CHANNELS = tuple(channel.value for channel in Channel)

# How a refusal is told (catalog keys).
_REFUSALS = {
    linking.UNKNOWN: N_("link.refused.unknown"),
    linking.EXPIRED: N_("link.refused.expired"),
    linking.SAME_CHANNEL: N_("link.refused.same_channel"),
    linking.ALREADY_LINKED: N_("link.refused.already_linked"),
    linking.THROTTLED: N_("link.refused.throttled"),
    linking.THROTTLED_GLOBAL: N_("link.refused.throttled_global"),
}

TextThenScreen = Callable[[Turn, Markup], Reply]


class ResidentLinking:
    def __init__(self, catalog: Catalog, text_then_screen: TextThenScreen) -> None:
        self.catalog = catalog
        # The conversation's "this text, then the buttons of where the resident is".
        self._text_then_screen = text_then_screen

    def _t(self, turn: Turn, key: str, **params: Any) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    def _name(self, turn: Turn, channel: str) -> Markup:
        return self._t(turn, labels.LINK_CHANNEL[channel])

    def _other(self, channel: str) -> str:
        return next(other for other in CHANNELS if other != channel)

    # -- the code typed in the other messenger -------------------------------------------------

    async def typed_code(self, turn: Turn) -> list[Reply] | None:
        """A message of six digits: link, or say clearly why not. None for anything else."""
        if turn.event.kind is not EventKind.TEXT:
            return None
        code = linking.looks_like_code(turn.event.text)
        if code is None:
            return None
        if turn.via is not None or await linking.alias_of(turn.session, turn.resident):
            return self._refused(turn, linking.ALREADY_LINKED)
        try:
            linked = await linking.redeem(
                turn.session, code=code, identity=turn.resident, now=turn.now
            )
        except linking.LinkRefused as refused:
            return self._refused(turn, refused.reason)
        # From here on this event is the person's: their language, menu and settings.
        turn.resident, turn.via = linked.primary, linked.alias
        turn.go(FLOW_IDLE)
        turn.effects.append(AccountsLinked(linked.primary.id, linked.alias.channel))
        primary = linked.primary
        text = self._t(
            turn,
            "link.done",
            first=self._name(turn, primary.channel),
            second=self._name(turn, linked.alias.channel),
            preferred=self._name(turn, linking.preferred(primary)),
            tickets=linked.merged.tickets,
        )
        return [
            screens.main_menu(
                self.catalog,
                primary,
                Markup(text + "\n\n" + screens.summary(self.catalog, primary)),
            )
        ]

    def _refused(self, turn: Turn, reason: str) -> list[Reply]:
        other = self._name(turn, self._other(turn.account.channel))
        text = self._t(turn, _REFUSALS[reason], other=other, count=_minutes())
        return [self._text_then_screen(turn, text)]

    # -- /link, the settings button and the linked screen --------------------------------------

    async def command(self, turn: Turn) -> list[Reply]:
        return await self._link(turn)

    async def action(self, turn: Turn, action: str) -> list[Reply] | None:
        """Our buttons; None for anyone else's."""
        verb, arg = act.split(action)
        if action == act.LINK:
            return await self._link(turn)
        if verb == act.LINK_PREFER and arg in CHANNELS:
            return await self._prefer(turn, arg)
        if action == act.LINK_UNLINK:
            return await self._confirm_unlink(turn)
        if action == act.LINK_UNLINK_YES:
            return await self._unlink(turn)
        return None

    async def _link(self, turn: Turn) -> list[Reply]:
        resident = turn.resident
        if resident.onboarded_at is None:
            return [self._text_then_screen(turn, self._t(turn, "link.finish_onboarding_first"))]
        alias = await linking.alias_of(turn.session, resident)
        if alias is not None:
            return [await self._linked_screen(turn)]
        try:
            issued = await linking.issue_code(turn.session, resident=resident, now=turn.now)
        except linking.TooManyCodes:
            return [self._text_then_screen(turn, self._t(turn, "link.too_many_codes"))]
        turn.go(FLOW_SETTINGS, STEP_MENU)
        other = self._name(turn, self._other(turn.account.channel))
        return [
            Reply(
                text=self._t(turn, "link.code", code=issued.code, other=other, count=_minutes()),
                buttons=((Button(self._t(turn, "btn.back"), act.MENU_SETTINGS),),),
            )
        ]

    async def _linked_screen(self, turn: Turn, head: Markup | None = None) -> Reply:
        turn.go(FLOW_SETTINGS, STEP_MENU)
        accounts = await linking.identities(turn.session, turn.resident)
        chosen = linking.preferred(turn.resident)
        text = self._t(
            turn,
            "link.status",
            first=self._name(turn, accounts[0].channel),
            second=self._name(turn, accounts[-1].channel),
            preferred=self._name(turn, chosen),
        )
        if head is not None:
            text = Markup(head + "\n\n" + text)
        rows: list[tuple[Button, ...]] = [
            (
                Button(
                    self._t(turn, "link.prefer", channel=self._name(turn, account.channel)),
                    act.with_arg(act.LINK_PREFER, account.channel),
                ),
            )
            for account in accounts
            if account.channel != chosen
        ]
        rows.append((Button(self._t(turn, "link.unlink"), act.LINK_UNLINK),))
        rows.append((Button(self._t(turn, "btn.back"), act.MENU_SETTINGS),))
        return Reply(text=text, buttons=tuple(rows))

    async def _prefer(self, turn: Turn, channel: str) -> list[Reply]:
        if not await linking.set_preferred(
            turn.session, primary=turn.resident, channel=channel, now=turn.now
        ):
            # Not linked (any more): a stale button.
            return [self._text_then_screen(turn, self._t(turn, "link.not_linked"))]
        head = self._t(turn, "link.preferred", channel=self._name(turn, channel))
        return [await self._linked_screen(turn, head)]

    async def _confirm_unlink(self, turn: Turn) -> list[Reply]:
        alias = await linking.alias_of(turn.session, turn.resident)
        if alias is None:
            return [self._text_then_screen(turn, self._t(turn, "link.not_linked"))]
        turn.go(FLOW_SETTINGS, STEP_MENU)
        return [
            Reply(
                text=self._t(
                    turn,
                    "link.unlink_confirm",
                    first=self._name(turn, turn.resident.channel),
                    second=self._name(turn, alias.channel),
                ),
                buttons=(
                    (Button(self._t(turn, "link.unlink_yes"), act.LINK_UNLINK_YES),),
                    (Button(self._t(turn, "btn.cancel"), act.MENU_SETTINGS),),
                ),
            )
        ]

    async def _unlink(self, turn: Turn) -> list[Reply]:
        primary = turn.resident
        alias = await linking.unlink(turn.session, primary=primary, now=turn.now)
        if alias is None:
            return [self._text_then_screen(turn, self._t(turn, "link.not_linked"))]
        text = self._t(
            turn,
            "link.unlinked",
            first=self._name(turn, primary.channel),
            second=self._name(turn, alias.channel),
        )
        if turn.via is not None:
            # Pressed in the former alias's messenger: that account starts afresh.
            turn.resident, turn.via = alias, None
            turn.go(FLOW_IDLE)
            return [Reply(text=text)]
        turn.go(FLOW_IDLE)
        return [screens.main_menu(self.catalog, primary, text)]


async def linked_data(turn: Turn) -> dict[str, Any]:
    """The person's messenger accounts, for ``/mydata`` (empty when not linked)."""
    accounts = await linking.identities(turn.session, turn.resident)
    if len(accounts) < 2:
        return {}
    return {
        "messengers": [
            {"messenger": account.channel, "messenger_id": account.external_id}
            for account in accounts
        ],
        "news_and_answers_via": linking.preferred(turn.resident),
    }


async def messengers_shown(catalog: Catalog, turn: Turn) -> Markup:
    """ "Telegram", "Viber", or both for a linked person (the preferred one first)."""
    accounts = await linking.identities(turn.session, turn.resident)
    chosen = linking.preferred(turn.resident)
    ordered = sorted(accounts, key=lambda account: account.channel != chosen)
    return Markup(
        ", ".join(catalog.text(turn.lang, labels.LINK_CHANNEL[a.channel]) for a in ordered)
    )


def _minutes() -> int:
    return int(linking.CODE_TTL.total_seconds() // 60)


class LinkNotices:
    """Tells the person who asked for a code, in that messenger, that the link was made (an
    ``EffectSink`` for ``AccountsLinked``): a link made by someone who guessed or saw the code
    does not go unnoticed, and the screen with the code is replaced by the menu."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        notifier: Notifier,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self._catalog = catalog
        self._notifier = notifier
        self._sessionmaker = sessionmaker

    async def apply(self, effect: Effect) -> None:
        if not isinstance(effect, AccountsLinked):
            return
        async with self._sessionmaker() as session:
            resident = await session.get(Resident, effect.resident_id)
        if resident is None:
            return
        lang = resident.language
        text = self._catalog.text(
            lang,
            "link.notice",
            first=self._catalog.text(lang, labels.LINK_CHANNEL[resident.channel]),
            second=self._catalog.text(lang, labels.LINK_CHANNEL[effect.other_channel]),
        )
        try:
            # Plain text: in Viber the notifier adds the keyboard of where the resident is.
            await self._notifier.send(resident, Reply(text=text))
        except DeliveryFailed:
            # Told in the other messenger already; this one cannot be reached now.
            return
