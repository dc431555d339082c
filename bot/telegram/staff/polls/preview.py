"""The poll preview's keyboards and its state line."""

from __future__ import annotations

from datetime import datetime

from bot.telegram.staff import confirm, targeting
from bot.telegram.staff.news.preview import Previews
from bot.telegram.staff.polls import callbacks as cb
from bot.telegram.staff.polls.callbacks import Verb
from bot.telegram.staff.targeting import Keyboard
from messaging import labels
from messaging.contract import Button
from messaging.i18n import N_, Markup
from messaging.text import local_time
from storage import broadcast_lifecycle as lifecycle
from storage.models import Broadcast, Poll

DRAFT = lifecycle.DRAFT
SCHEDULED = lifecycle.SCHEDULED


class PollKeyboards:
    """The news previews' texts and confirmation, with the poll's own buttons."""

    def __init__(self, previews: Previews) -> None:
        self.previews = previews
        self.t = previews.t
        self.zone = previews.zone

    def _yes_no(self, on: bool) -> Markup:
        return self.t("poll.yes" if on else "poll.no")

    def keyboard(
        self,
        poll: Poll,
        broadcast: Broadcast,
        page: str,
        audience: int,
        when: datetime | None = None,
    ) -> Keyboard:
        pid = poll.id
        status = broadcast.status
        if status == SCHEDULED:
            assert broadcast.scheduled_at is not None
            at = local_time(broadcast.scheduled_at, self.zone)
            return (
                (Button(self.t("news.btn.when", when=at), cb.pack(Verb.AUDIENCE, pid)),),
                (Button(self.t("news.btn.cancel"), cb.pack(Verb.CANCEL, pid)),),
            )
        if status != DRAFT:
            return ()
        if page == cb.PAGE_CONFIRM:
            return self.previews.confirm_keyboard(
                audience,
                when,
                cb.pack(Verb.AUDIENCE, pid),
                cb.pack(Verb.CONFIRM, pid, confirm.pack(audience, when)),
                cb.pack(Verb.DECLINE, pid),
            )
        back = Button(self.t("news.btn.back"), cb.pack(Verb.PAGE, pid, cb.PAGE_MAIN))
        if page == cb.PAGE_TOPICS:
            return targeting.topics_page(
                broadcast, self.t, lambda code: cb.pack(Verb.TOPIC, pid, code), back
            )
        if page == cb.PAGE_DISTRICTS:
            return targeting.districts_page(
                broadcast, self.t, lambda code: cb.pack(Verb.DISTRICT, pid, code), back
            )
        return self._main_keyboard(poll, broadcast, audience)

    def _main_keyboard(self, poll: Poll, broadcast: Broadcast, audience: int) -> Keyboard:
        pid = poll.id
        topics, districts = targeting.summary(broadcast, self.t)
        channels = targeting.channels_row(
            broadcast, self.t, lambda code: cb.pack(Verb.CHANNEL, pid, code)
        )
        closes = local_time(poll.closes_at, self.zone)

        def row(label: Markup, verb: Verb, argument: str = "") -> tuple[Button, ...]:
            return (Button(label, cb.pack(verb, pid, argument)),)

        def setting(key: str, on: bool, verb: Verb) -> tuple[Button, ...]:
            return row(self.t(key, value=self._yes_no(on)), verb)

        return (
            row(self.t("news.btn.audience", count=audience), Verb.AUDIENCE),
            row(self.t("news.btn.topics", value=targeting.cut(topics)), Verb.PAGE, cb.PAGE_TOPICS),
            row(
                self.t("news.btn.districts", value=targeting.cut(districts)),
                Verb.PAGE,
                cb.PAGE_DISTRICTS,
            ),
            channels,
            row(self.t("poll.btn.multiple" if poll.multiple else "poll.btn.single"), Verb.MULTIPLE),
            setting(N_("poll.btn.after_vote"), poll.results_after_vote, Verb.AFTER_VOTE),
            setting(N_("poll.btn.after_close"), poll.results_after_close, Verb.AFTER_CLOSE),
            setting(N_("poll.btn.publish"), poll.publish_results, Verb.PUBLISH),
            row(self.t("poll.btn.closes", when=closes), Verb.CLOSES),
            (
                Button(self.t("news.btn.send"), cb.pack(Verb.SEND, pid)),
                Button(self.t("news.btn.schedule"), cb.pack(Verb.SCHEDULE, pid)),
            ),
            row(self.t("news.btn.cancel"), Verb.CANCEL),
        )

    def state(self, broadcast: Broadcast) -> Markup:
        """The preview's state: draft, scheduled for …, sending, sent …, cancelled."""
        status = broadcast.status
        if status == SCHEDULED and broadcast.scheduled_at is not None:
            when = local_time(broadcast.scheduled_at, self.zone)
            return self.t("poll.state.scheduled", when=when)
        if status == lifecycle.FINISHED:
            moment = broadcast.finished_at or broadcast.started_at
            when = moment.astimezone(self.zone).strftime("%d.%m %H:%M") if moment else ""
            return self.t("poll.state.finished", when=when)
        return self.t(labels.NEWS_STATUS[status])
