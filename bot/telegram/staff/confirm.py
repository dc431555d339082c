"""The confirmation asked before a broadcast to many residents is sent or scheduled (news and
polls): "Send to 3 412 residents? Yes / No" under the preview.

The "Yes" button carries the count the editor saw and, for a schedule, the time
(``<count>[@<unix seconds>]``): if the audience changed meanwhile, the editor is asked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from messaging.i18n import Catalog, Markup

# At most this many digits in a count or a time (callback data is short and not trusted).
_DIGITS: Final = 12


@dataclass(frozen=True, slots=True)
class Confirmed:
    count: int
    when: datetime | None


def needed(count: int, threshold: int) -> bool:
    """Whether sending to ``count`` residents asks first (more than ``threshold``)."""
    return count > threshold


def pack(count: int, when: datetime | None) -> str:
    return str(count) if when is None else f"{count}@{int(when.timestamp())}"


def unpack(argument: str) -> Confirmed | None:
    count, at, when = argument.partition("@")
    if not count.isdigit() or len(count) > _DIGITS:
        return None
    if not at:
        return Confirmed(int(count), None)
    if not when.isdigit() or len(when) > _DIGITS:
        return None
    return Confirmed(int(count), datetime.fromtimestamp(int(when), UTC))


def question(catalog: Catalog, count: int, when: str | None) -> Markup:
    """ "Надіслати 3 412 мешканцям?" or "Запланувати на 05.12 10:00 для 3 412 мешканців?"."""
    language = catalog.default
    if when is None:
        return catalog.plural(language, "news.confirm.send", count)
    return catalog.plural(language, "news.confirm.schedule", count, when=when)
