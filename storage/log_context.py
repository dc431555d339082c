"""What a log line is about: the update being handled and the ticket it concerns.

Set with one call where they become known (``update_key.set(...)``) and read by the log
formatters of ``bot.logs``; a context variable follows the task that set it (and the tasks it
starts), so concurrent updates each log their own.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Final

# "<channel>:<update key>", e.g. "telegram:100000017".
update_key: Final[ContextVar[str | None]] = ContextVar("citybot_update_key", default=None)
# The ticket's public number (e.g. "ЗІ-2026-000123").
ticket_number: Final[ContextVar[str | None]] = ContextVar("citybot_ticket_number", default=None)
