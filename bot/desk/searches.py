"""What staff typed in the queue's search box, kept on the server behind an opaque key.

The issue demands no personal data in URLs or logs, and a search is often a resident's name. A
GET form would put the typed text in the address, the browser's history and the access log. So
the search form posts (the body is never logged), the text is kept here under a random key
bound to the staff member's session, and the page redirects to ``?q=<key>``: the address stays
shareable within the session, bookmarkable filters and paging keep working, and the text itself
never travels in a URL.

Kept in the process's memory, not the database: a search is worth keeping for an hour of work,
not across restarts, and storing typed names in a table would need its own erasure. A key that
is unknown (expired, another session's, the server restarted) is answered with a clear "search
again" notice, never with someone else's query.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

# A search is kept this long after its last use.
IDLE = timedelta(hours=1)
# At most this many searches in memory (the oldest go first): bounded whatever staff do.
MAX_KEPT = 5_000
# What the search box accepts (longer text is cut; nothing longer is worth searching).
MAX_QUERY = 200


@dataclass(slots=True)
class _Kept:
    owner: str
    query: str
    used_at: datetime


class SearchStore:
    """Opaque key → (session, typed query), in memory, least recently used first out."""

    def __init__(self, *, idle: timedelta = IDLE, limit: int = MAX_KEPT) -> None:
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._idle = idle
        self._limit = limit

    def put(self, owner: str, query: str, *, now: datetime) -> str:
        """A new key for ``query`` typed by the session ``owner`` (a session's token hash)."""
        self._prune(now)
        key = secrets.token_urlsafe(12)
        self._kept[key] = _Kept(owner=owner, query=query[:MAX_QUERY], used_at=now)
        while len(self._kept) > self._limit:
            self._kept.popitem(last=False)
        return key

    def get(self, owner: str, key: str, *, now: datetime) -> str | None:
        """The query behind ``key`` if ``owner`` made it and it has not expired."""
        kept = self._kept.get(key)
        if kept is None or kept.owner != owner or now - kept.used_at > self._idle:
            return None
        kept.used_at = now
        self._kept.move_to_end(key)
        return kept.query

    def _prune(self, now: datetime) -> None:
        while self._kept:
            key, kept = next(iter(self._kept.items()))
            if now - kept.used_at <= self._idle:
                return
            del self._kept[key]

    def __len__(self) -> int:
        return len(self._kept)


SEARCHES = web.AppKey("desk_searches", SearchStore)
