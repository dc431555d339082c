"""The process's logging: plain text for a console, or one JSON object a line for a log
collector (``CITYBOT_LOG_FORMAT=json``), each with the update and the ticket it concerns where
there is one (``storage.log_context``).

Nothing a resident or a token owns is written at INFO or above: the messages themselves avoid
it (tests/test_log_secrets.py), and the loggers of the libraries that would are kept quieter
here.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.config import LogFormat
from storage import log_context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"
# Library loggers that say at INFO what only a developer needs: Alembic narrates every
# connection (our own line says what was migrated).
QUIETER = {"alembic": logging.WARNING}


class ContextFilter(logging.Filter):
    """Adds the update key and ticket number of the running task to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        update = log_context.update_key.get()
        ticket = log_context.ticket_number.get()
        parts = []
        if update is not None:
            parts.append(f"update={update}")
        if ticket is not None:
            parts.append(f"ticket={ticket}")
        context = f" [{' '.join(parts)}]" if parts else ""
        record.__dict__.update(update_key=update, ticket_number=ticket, context=context)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, update, ticket, and
    the traceback as one string (``exc``) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, field in (("update", "update_key"), ("ticket", "ticket_number")):
            value = getattr(record, field, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: int, log_format: LogFormat = LogFormat.TEXT) -> None:
    """Configure the root logger (again, replacing its handlers: the format is known only once
    the settings are read)."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    quiet_libraries()


def quiet_libraries() -> None:
    for name, quieter in QUIETER.items():
        logging.getLogger(name).setLevel(quieter)
