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
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from bot.config import LogFormat, Settings
from storage import log_context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"
# Library loggers that say at INFO what only a developer needs: Alembic narrates every
# connection (our own line says what was migrated).
QUIETER = {"alembic": logging.WARNING}
REDACTED = "[REDACTED]"
MIN_SECRET = 8


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


class RedactingFormatter(logging.Formatter):
    """Another formatter's lines with the configured secrets blanked out: a safety net under
    whatever a library puts in an exception (aiohttp quotes request URLs, and the Bot API's
    carry the token)."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        # Short values would blank out ordinary words; real secrets are long.
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self._inner.format(record)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def secrets_of(settings: Settings) -> list[str]:
    """The values no log line may show: tokens (the Telegram one's secret half too), the webhook
    secret and the database password."""
    found = [settings.telegram_token, settings.viber_token, settings.webhook_secret]
    if settings.telegram_token:
        found.append(settings.telegram_token.partition(":")[2])
    found.append(make_url(settings.database_url).password)
    return [str(value) for value in found if value]


def configure(
    level: int, log_format: LogFormat = LogFormat.TEXT, secrets: Iterable[str] = ()
) -> None:
    """Configure the root logger (again, replacing its handlers: the format is known only once
    the settings are read)."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    inner = JsonFormatter() if log_format is LogFormat.JSON else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(RedactingFormatter(inner, secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    quiet_libraries()


def quiet_libraries() -> None:
    for name, quieter in QUIETER.items():
        logging.getLogger(name).setLevel(quieter)
