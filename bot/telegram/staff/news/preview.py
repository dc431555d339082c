"""The preview's inline keyboards (targets, actions) and the texts about a news item."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.telegram.staff import confirm, targeting
from bot.telegram.staff.news import callbacks as cb
from bot.telegram.staff.targeting import Keyboard
from messaging import labels
from messaging.contract import Button
from messaging.i18n import Catalog, Markup
from messaging.text import local_time
from storage.broadcasts import BroadcastStatus
from storage.models import Broadcast

SOURCE_RSS = "rss"


class Previews:
    def __init__(self, catalog: Catalog, *, zone: ZoneInfo) -> None:
        self.catalog = catalog
        self.zone = zone

    def t(self, key: str, /, **params: object) -> Markup:
        return self.catalog.text(self.catalog.default, key, **params)

    def status(self, broadcast: Broadcast) -> str:
        return self.t(labels.NEWS_STATUS[broadcast.status])

    def head(self, broadcast: Broadcast) -> Markup:
        """The preview's own line: the item's number and state ("✅ Надіслано 04.12 18:02, №17")."""
        status, bid = broadcast.status, broadcast.id
        if status == BroadcastStatus.DRAFT.value:
            return self.t("news.head.draft", id=bid)
        if status in (BroadcastStatus.PENDING_APPROVAL.value, BroadcastStatus.SCHEDULED.value):
            if broadcast.scheduled_at is None:
                return self.t("news.head.pending_approval", id=bid)
            when = local_time(broadcast.scheduled_at, self.zone)
            scheduled = status == BroadcastStatus.SCHEDULED.value
            key = "news.head.scheduled" if scheduled else "news.head.pending_approval_at"
            return self.t(key, id=bid, when=when)
        if status == BroadcastStatus.SENDING.value:
            return self.t("news.head.sending", id=bid)
        if status == BroadcastStatus.FINISHED.value:
            moment = broadcast.finished_at or broadcast.started_at
            when = moment.astimezone(self.zone).strftime("%d.%m %H:%M") if moment else ""
            return self.t("news.head.finished", id=bid, when=when)
        if status == BroadcastStatus.CANCELLED.value:
            return self.t("news.head.cancelled", id=bid)
        return self.t("news.head.other", id=bid, status=self.status(broadcast))

    def keyboard(
        self, broadcast: Broadcast, page: str, audience: int, when: datetime | None = None
    ) -> Keyboard:
        """The buttons under a preview; none once the news is sent or cancelled. ``when``: the
        time to confirm on the confirmation page (None: send now)."""
        status = broadcast.status
        bid = broadcast.id
        info = (Button(self.t("news.btn.audience", count=audience), cb.pack(cb.AUDIENCE, bid)),)
        if status == BroadcastStatus.PENDING_APPROVAL.value:
            rows: list[tuple[Button, ...]] = [info]
            if broadcast.scheduled_at is not None:
                at = local_time(broadcast.scheduled_at, self.zone)
                rows.append((Button(self.t("news.btn.when", when=at), cb.pack(cb.AUDIENCE, bid)),))
            rows.append(
                (
                    Button(self.t("news.btn.approve"), cb.pack(cb.APPROVE, bid)),
                    Button(self.t("news.btn.edit"), cb.pack(cb.EDIT, bid)),
                )
            )
            rows.append((Button(self.t("news.btn.cancel"), cb.pack(cb.CANCEL, bid)),))
            return tuple(rows)
        if status == BroadcastStatus.SCHEDULED.value:
            assert broadcast.scheduled_at is not None
            at = local_time(broadcast.scheduled_at, self.zone)
            return (
                info,
                (Button(self.t("news.btn.when", when=at), cb.pack(cb.AUDIENCE, bid)),),
                (
                    Button(self.t("news.btn.edit"), cb.pack(cb.EDIT, bid)),
                    Button(self.t("news.btn.cancel"), cb.pack(cb.CANCEL, bid)),
                ),
            )
        if status != BroadcastStatus.DRAFT.value:
            return ()
        if page == cb.PAGE_CONFIRM:
            return self.confirm_keyboard(
                audience,
                when,
                cb.pack(cb.AUDIENCE, bid),
                cb.pack(cb.CONFIRM, bid, confirm.pack(audience, when)),
                cb.pack(cb.DECLINE, bid),
            )
        if page == cb.PAGE_TOPICS:
            return self._topics(broadcast)
        if page == cb.PAGE_DISTRICTS:
            return self._districts(broadcast)
        if page == cb.PAGE_COMPACT:
            if broadcast.source == SOURCE_RSS:
                return (
                    info,
                    (
                        Button(self.t("news.btn.publish"), cb.pack(cb.SEND, bid)),
                        Button(self.t("news.btn.edit"), cb.pack(cb.PAGE, bid, cb.PAGE_MAIN)),
                    ),
                    (Button(self.t("news.btn.discard"), cb.pack(cb.CANCEL, bid)),),
                )
            return (
                (Button(self.t("news.btn.open", id=bid), cb.pack(cb.PAGE, bid, cb.PAGE_MAIN)),),
            )
        return self._main(broadcast, info)

    def confirm_keyboard(
        self, audience: int, when: datetime | None, recount: str, yes: str, no: str
    ) -> Keyboard:
        """ "Send to N residents? Yes / No" (news and polls)."""
        local = local_time(when, self.zone) if when is not None else None
        return (
            (Button(confirm.question(self.catalog, audience, local), recount),),
            (Button(self.t("news.btn.yes"), yes), Button(self.t("news.btn.no"), no)),
        )

    def _main(self, broadcast: Broadcast, info: tuple[Button, ...]) -> Keyboard:
        bid = broadcast.id
        topics, districts = targeting.summary(broadcast, self.t)
        channels = targeting.channels_row(
            broadcast, self.t, lambda code: cb.pack(cb.CHANNEL, bid, code)
        )
        urgent = self.t("news.btn.urgent_on" if broadcast.urgent else "news.btn.urgent_off")
        return (
            info,
            (
                Button(
                    self.t("news.btn.topics", value=targeting.cut(topics)),
                    cb.pack(cb.PAGE, bid, cb.PAGE_TOPICS),
                ),
            ),
            (
                Button(
                    self.t("news.btn.districts", value=targeting.cut(districts)),
                    cb.pack(cb.PAGE, bid, cb.PAGE_DISTRICTS),
                ),
            ),
            channels,
            (
                Button(urgent, cb.pack(cb.URGENT, bid)),
                Button(self.t("news.btn.text"), cb.pack(cb.TEXT, bid)),
            ),
            (
                Button(self.t("news.btn.send"), cb.pack(cb.SEND, bid)),
                Button(self.t("news.btn.schedule"), cb.pack(cb.SCHEDULE, bid)),
            ),
            (
                Button(self.t("news.btn.save"), cb.pack(cb.SAVE, bid)),
                Button(self.t("news.btn.cancel"), cb.pack(cb.CANCEL, bid)),
            ),
        )

    def _back(self, broadcast: Broadcast) -> Button:
        return Button(self.t("news.btn.back"), cb.pack(cb.PAGE, broadcast.id, cb.PAGE_MAIN))

    def _topics(self, broadcast: Broadcast) -> Keyboard:
        bid = broadcast.id
        return targeting.topics_page(
            broadcast, self.t, lambda code: cb.pack(cb.TOPIC, bid, code), self._back(broadcast)
        )

    def _districts(self, broadcast: Broadcast) -> Keyboard:
        bid = broadcast.id
        return targeting.districts_page(
            broadcast, self.t, lambda code: cb.pack(cb.DISTRICT, bid, code), self._back(broadcast)
        )
