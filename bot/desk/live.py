"""The desk's live feed: one per process, polling the database about once a second for what
changed (``storage.desk.live``: one query for all subscribers), and fanning small events out
to every open desk tab, each filtered by the departments its staff member works in.

Reading the database, not hooking the code that writes, is what makes a change show whatever
made it: the residents' pipeline, the Telegram chat desk, another ``citybot run`` process.

Ids are read past a cursor per source. On PostgreSQL a transaction may commit a row with a lower
id after a higher one was read; such holes below the highest id seen are read again for
``GAP_WAIT`` seconds (rows already sent are skipped), so a late commit is not lost.

Each subscriber has a bounded queue: one that does not keep up (a stalled connection) is sent
"reload" and dropped instead of holding events without limit. The feed keeps the last
``BUFFER`` events, so a tab that reconnects with ``Last-Event-ID`` gets what it missed; an id
from before that (or from another process or a restart: the epoch differs) gets "reload".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from messaging import labels
from messaging.i18n import LANGUAGES, Catalog
from storage.desk import live as changes
from storage.desk.live import Change, Source

log = logging.getLogger(__name__)

INTERVAL = 1.0
BUFFER = 2048
QUEUE_SIZE = 256
GAP_WAIT = 5.0
# A tracked hole wider than this is a jump of the sequence, not transactions in flight.
GAP_MAX = 1000
# How many tickets' departments the feed remembers (then it starts over).
QUEUES_KEPT = 100_000
# The polling stops this long after the last tab closed (and starts again with the next).
IDLE_STOP = 300.0


@dataclass(frozen=True, slots=True)
class LiveEvent:
    seq: int
    name: str
    data: str
    queues: frozenset[str]
    # Who caused it: a typing ping is not sent back to the one typing.
    staff_id: int | None = None


# What a subscriber's queue carries besides events: the end of the feed, or "reload".
CLOSED: Final = "closed"
RELOAD: Final = "reload"
Item = LiveEvent | str


@dataclass(eq=False)
class Subscriber:
    staff_id: int
    departments: frozenset[str] | None
    queue: asyncio.Queue[Item] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False

    def wants(self, event: LiveEvent) -> bool:
        if event.name == Source.PRESENCE and event.staff_id == self.staff_id:
            return False
        return self.departments is None or not self.departments.isdisjoint(event.queues)


@dataclass
class _Cursor:
    """Where a source is read from (``low``), what was read past it, and the holes below the
    highest id read (with when they were first seen)."""

    low: int
    seen: set[int] = field(default_factory=set)
    gaps: dict[int, float] = field(default_factory=dict)

    def take(self, row_id: int) -> bool:
        """Whether a row is new (not sent before)."""
        if row_id <= self.low or row_id in self.seen:
            return False
        self.seen.add(row_id)
        self.gaps.pop(row_id, None)
        return True

    def settle(self, now: float) -> None:
        top = max(self.seen, default=self.low)
        holes = {i for i in range(self.low + 1, top) if i not in self.seen}
        if len(holes) > GAP_MAX:
            holes = set()
        self.gaps = {
            i: self.gaps.get(i, now) for i in holes if now - self.gaps.get(i, now) < GAP_WAIT
        }
        self.low = min(self.gaps) - 1 if self.gaps else top
        self.seen = {i for i in self.seen if i > self.low}


class LiveFeed:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        *,
        interval: float = INTERVAL,
        buffer: int = BUFFER,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._catalog = catalog
        self.interval = interval
        # How often a stream sends a comment to keep proxies from closing it, and re-checks
        # its session (attributes so tests can shorten them).
        self.keepalive = 15.0
        self.recheck = 30.0
        self.epoch = secrets.token_hex(4)
        self._subscribers: set[Subscriber] = set()
        self._recent: deque[LiveEvent] = deque(maxlen=buffer)
        self._cursors: dict[Source, _Cursor] = {}
        self._seq = 0
        # The department each ticket was last seen in: a ticket handed over is news to the
        # department it left, too (its event names only the new one).
        self._queues: dict[int, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._pinged: dict[tuple[int, int], float] = {}
        self._idle_since = time.monotonic()
        self._closed = False
        self.ticks = 0

    # -- subscribers ------------------------------------------------------------------------

    async def subscribe(
        self, *, staff_id: int, departments: frozenset[str] | None, last_event_id: str = ""
    ) -> Subscriber:
        subscriber = Subscriber(staff_id=staff_id, departments=departments)
        if self._closed:
            subscriber.queue.put_nowait(CLOSED)
            return subscriber
        async with self._starting:
            # Two tabs connecting at once start one loop.
            if self._task is None or self._task.done():
                await self._start()
        if last_event_id:
            self._replay(subscriber, last_event_id)
        if not subscriber.dropped:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        if not self._subscribers:
            self._idle_since = time.monotonic()

    def event_id(self, event: LiveEvent) -> str:
        return f"{self.epoch}-{event.seq}"

    def _replay(self, subscriber: Subscriber, last_event_id: str) -> None:
        epoch, _, number = last_event_id.partition("-")
        seq = int(number) if number.isdigit() else -1
        first = self._recent[0].seq if self._recent else self._seq + 1
        if epoch != self.epoch or seq < first - 1 or seq > self._seq:
            self._deliver(subscriber, RELOAD)
            return
        for event in self._recent:
            if event.seq > seq and subscriber.wants(event):
                self._deliver(subscriber, event)

    def _deliver(self, subscriber: Subscriber, item: Item) -> None:
        if subscriber.dropped:
            return
        try:
            subscriber.queue.put_nowait(item)
        except asyncio.QueueFull:
            # It does not keep up: what it holds is dropped, it is told to reload, and it leaves.
            subscriber.dropped = True
            while not subscriber.queue.empty():
                subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(RELOAD)
            self.unsubscribe(subscriber)

    def ping_due(self, ticket_id: int, staff_id: int, *, every: float) -> bool:
        """Whether a typing ping is worth writing: not when the same person pinged the same
        ticket through this process within ``every`` seconds."""
        key, now = (ticket_id, staff_id), time.monotonic()
        if now - self._pinged.get(key, -every) < every:
            return False
        if len(self._pinged) > 10_000:
            self._pinged.clear()
        self._pinged[key] = now
        return True

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    # -- polling ----------------------------------------------------------------------------

    async def _start(self) -> None:
        async with self._sessionmaker() as session:
            heads = await changes.heads(session)
        if self._cursors:
            # Started again after idling: what happened meanwhile was not read, so ids given
            # before cannot be resumed (a new epoch answers them with "reload").
            self.epoch = secrets.token_hex(4)
        self._cursors = {source: _Cursor(low=head) for source, head in heads.items()}
        self._recent.clear()
        self._idle_since = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="desk-live-feed")

    async def _run(self) -> None:
        failing = False
        while not self._closed:
            if not self._subscribers and time.monotonic() - self._idle_since > IDLE_STOP:
                return
            try:
                await self.tick()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                # Logged once while the database stays unreachable, not every second.
                if not failing:
                    log.exception("desk live feed: reading the changes failed; trying again")
                failing = True
            await asyncio.sleep(self.interval)

    async def tick(self) -> int:
        """One poll: read past the cursors, send what is new. Returns how many events."""
        self.ticks += 1
        async with self._sessionmaker() as session:
            found = await changes.changes_after(
                session, {source: cursor.low for source, cursor in self._cursors.items()}
            )
        sent = 0
        for change in found:
            if not self._cursors[change.source].take(change.row_id):
                continue
            self._seq += 1
            left = self._queues.get(change.ticket_id)
            if len(self._queues) >= QUEUES_KEPT:
                self._queues.clear()
            self._queues[change.ticket_id] = change.queue_code
            event = self._event(self._seq, change, left)
            self._recent.append(event)
            sent += 1
            for subscriber in list(self._subscribers):
                if subscriber.wants(event):
                    self._deliver(subscriber, event)
        now = time.monotonic()
        for cursor in self._cursors.values():
            cursor.settle(now)
        return sent

    def _event(self, seq: int, change: Change, left: str | None) -> LiveEvent:
        status_key = labels.STAFF_STATUS.get(change.status)
        data = {
            "ticket": change.ticket_id,
            "number": change.number,
            "status": change.status,
            "status_text": {
                language: str(self._catalog.text(language, status_key)) if status_key else ""
                for language in LANGUAGES
            },
            "queue": change.queue_code,
            "kind": change.ticket_kind,
            "what": change.detail,
            "row": change.row_id,
            "actor": change.actor,
            "assignee": change.assignee,
            "deadline": None if change.deadline_at is None else change.deadline_at.isoformat(),
        }
        queues = {change.queue_code}
        queues.update(queue for queue in (change.other_queue, left) if queue)
        return LiveEvent(
            seq=seq,
            name=change.source.value,
            data=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            queues=frozenset(queues),
            staff_id=change.staff_id,
        )

    # -- shutdown ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Every stream ends (the app's on_shutdown) and the polling stops."""
        self._closed = True
        for subscriber in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                while not subscriber.queue.empty():
                    subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(CLOSED)
        self._subscribers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
