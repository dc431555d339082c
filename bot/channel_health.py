"""Which messengers refuse the bot's own token right now.

A token revoked in @BotFather or in the Viber admin panel while citybot runs turns every call
to that messenger into a 401 (Viber: status 2). Nothing retried can fix it, yet nothing should be
dropped either: the channel errors are ``CredentialsRefused`` (transient for generic handlers, so
replies stay owed and deliveries pending), the poller and the delivery engine pause, and this
registry tells the operator once, naming the setting to fix, and makes ``/healthz`` answer 503
until a call to that messenger succeeds again (a valid token set and the process restarted).

It is fed by the metrics of outgoing calls (``bot.metrics.core.Metrics``), which see every call
this process makes, whichever client made it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from storage.vocabulary import Channel

log = logging.getLogger("citybot")

# The setting an administrator fixes when a messenger refuses the token.
TOKEN_SETTINGS: Final[Mapping[str, str]] = {
    Channel.TELEGRAM: "CITYBOT_TELEGRAM_TOKEN",
    Channel.VIBER: "CITYBOT_VIBER_TOKEN",
}


class ChannelHealth:
    def __init__(self) -> None:
        self._refused: dict[str, str] = {}
        # Until the channels are registered a refused token ends start-up with its own one
        # line (bot.startup.channel_problem): said here only once the bot is serving.
        self._serving = False

    def serving(self) -> None:
        """The channels are registered: a refusal from now on is a token revoked meanwhile."""
        self._serving = True

    def refused(self, channel: str) -> None:
        """A call to ``channel`` was refused for the token: said once, until it is accepted."""
        if channel in self._refused:
            return
        setting = TOKEN_SETTINGS.get(channel, "the channel's token")
        self._refused[channel] = setting
        if not self._serving:
            return
        log.error(
            "%s: %s refuses the bot's token (revoked or changed); nothing is sent or received "
            "there until a valid token is set and citybot is restarted",
            setting,
            channel,
        )

    @property
    def refusing(self) -> bool:
        """Whether any messenger refuses its token (cheap: asked after every successful call)."""
        return bool(self._refused)

    def accepted(self, channel: str) -> None:
        """A call to ``channel`` succeeded: its token works (again)."""
        if self._refused.pop(channel, None) is not None:
            log.info("%s accepts the bot's token again", channel)

    def problems(self) -> dict[str, str]:
        """Channel → the setting to fix, for every channel refusing its token now."""
        return dict(self._refused)
