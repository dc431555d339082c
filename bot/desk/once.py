"""Each action form carries a one-time key (``once``): a form submitted twice (a double click,
the browser's "resend") acts once; the second submit is sent where the first one went.

Kept in this process's memory, bounded (the oldest go first): with several ``citybot run``
processes behind one proxy a repeat could reach another process, which then does not know the
key — the core's own rules still refuse most repeats (a closed ticket, a taken one); an answer
sent twice in that case is the remaining risk.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Any, Final

KEPT: Final = 10_000
PENDING: Final = ""


class OnceKeys:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._seen: OrderedDict[tuple[str, str], str] = OrderedDict()

    @staticmethod
    def new() -> str:
        return secrets.token_urlsafe(16)

    def claim(self, session: str, key: str) -> str | None:
        """None: the first submit of this form (go ahead); else where the first one went
        (``PENDING`` while it is still running)."""
        if not key:
            return None
        found = self._seen.get((session, key))
        if found is not None:
            return found
        self._seen[(session, key)] = PENDING
        while len(self._seen) > self._kept:
            self._seen.popitem(last=False)
        return None

    def repeated(self, session: str, key: str, page: str) -> str | None:
        """``claim``: None for the first submit, else where to send the repeat (the first
        one's outcome, or ``page`` while it still runs)."""
        earlier = self.claim(session, key)
        if earlier is None:
            return None
        return earlier if earlier != PENDING else page

    def done(self, session: str, key: str, location: str) -> None:
        if key:
            self._seen[(session, key)] = location

    def release(self, session: str, key: str) -> None:
        """The action was refused: the same form, corrected, may be sent again."""
        self._seen.pop((session, key), None)


KEYS = OnceKeys()


def key_of(form: Any) -> str:
    """The form's one-time key ("" when it carries none)."""
    value = form.get("once", "")
    return value if isinstance(value, str) else ""
