"""Settings read once at start-up from the environment (and an optional ``.env``).

The variable names are the public interface of the product (see README.md). Settings are built
once by the CLI and passed down; nothing reads the environment anywhere else.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from broadcasts.digest import parse_daily_at, parse_weekly_at
from broadcasts.quiet import QuietHours, parse_window

ENV_PREFIX = "CITYBOT_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///citybot.db"
TELEGRAM_API_URL = "https://api.telegram.org"
VIBER_API_URL = "https://chatapi.viber.com/pa"
# Viber rejects a sender name longer than 28 characters.
VIBER_NAME_MAX = 28
# What aiogram and the Bot API accept: "<digits>:<secret>" with no whitespace.
_TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
# setWebhook's secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
# In webhook mode: 16 characters of a 64-letter alphabet are 96 bits, beyond guessing.
WEBHOOK_SECRET_MIN = 16
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# The bearer token of GET /metrics: long enough not to be guessed, sendable in a header.
METRICS_TOKEN_MIN = 16
_METRICS_TOKEN = re.compile(rf"^[!-~]{{{METRICS_TOKEN_MIN},512}}$")


def is_local_host(host: str) -> bool:
    """Whether ``host`` names this machine only (loopback): where plain http and an open
    sandbox are acceptable."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class StaffDesk(StrEnum):
    WEB = "web"
    TELEGRAM = "telegram"


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class LogFormat(StrEnum):
    TEXT = "text"
    # One JSON object a line, for a log collector (bot.logs).
    JSON = "json"


class SettingsError(Exception):
    """A configuration problem, reported to the operator as one line."""


def _http_url(value: str, *, allow_local_http: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    if parts.scheme == "http" and not (allow_local_http and is_local_host(parts.hostname)):
        raise ValueError(f"must use https (http is allowed only for 127.0.0.1), got {value!r}")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = DEFAULT_DATABASE_URL

    telegram_token: str | None = Field(default=None, repr=False)
    telegram_api_url: str = TELEGRAM_API_URL
    telegram_mode: TelegramMode = TelegramMode.POLLING

    viber_token: str | None = Field(default=None, repr=False)
    viber_api_url: str = VIBER_API_URL
    viber_name: str = "Криворізька міська рада"
    viber_avatar: str | None = None

    public_url: str | None = None
    webhook_secret: str | None = Field(default=None, repr=False)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    # GET /metrics (Prometheus) answers only "Authorization: Bearer <this token>"; unset, it
    # answers 404 (the route shares the public port).
    metrics_token: str | None = Field(default=None, repr=False)
    log_format: LogFormat = LogFormat.TEXT
    # SO_REUSEPORT: several `citybot run` processes listen on one port, the kernel shares the
    # connections among them (Linux; PostgreSQL only, as for any second process).
    http_reuse_port: bool = False

    operator_chat_id: int | None = None
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    timezone: str = "Europe/Kyiv"
    language: str = "uk"

    # Flood limits: new tickets per resident.
    tickets_per_hour: int = Field(default=3, ge=1, le=1000)
    tickets_per_day: int = Field(default=10, ge=1, le=10000)
    # Service targets where the law sets no deadline (calendar days / working days).
    feedback_target_days: int = Field(default=10, ge=1, le=365)
    legal_aid_target_days: int = Field(default=10, ge=1, le=365)

    # Broadcast delivery: Telegram's overall rate (messages/s; about 30 is the free limit),
    # paid broadcasts (allow_paid_broadcast, up to 1,000/s, charged in Stars), and whether the
    # Viber account may use broadcast_message (otherwise one send_message per resident).
    telegram_rate: float = Field(default=30.0, gt=0, le=1000)
    telegram_paid_broadcast: bool = False
    # Messages to one Telegram chat (a resident's answers): Telegram asks for about one a second
    # and tolerates a short burst. 0: no pacing (scripted tests, whose residents act faster
    # than any person).
    telegram_chat_rate: float = Field(default=1.0, ge=0, le=100)
    telegram_chat_burst: int = Field(default=3, ge=1, le=100)
    viber_broadcast: bool = True

    # The news composer: the two-person rule (a second editor approves before anything is
    # sent), the chat RSS drafts are posted to (default: the operator chat), and RSS/Atom feeds
    # (comma-separated; an ``auto:`` prefix publishes a feed's new items without a person).
    news_two_person: bool = False
    # Sending or scheduling news or a poll to more residents than this asks the editor to
    # confirm the number first ("Send to 3 412 residents? Yes / No").
    confirm_above: int = Field(default=1000, ge=0)
    editors_chat_id: int | None = None
    rss_feeds: Annotated[tuple[str, ...], NoDecode] = ()
    rss_interval_minutes: int = Field(default=15, ge=1, le=1440)

    # Digests (council time): the daily one at HH:MM, the weekly one at "DAY HH:MM".
    digest_daily_at: str = "09:00"
    digest_weekly_at: str = "mon 09:00"
    # Non-urgent pushes wait outside this window (council time, HH:MM-HH:MM; empty: never).
    quiet_hours: str = "22:00-08:00"

    # Analytics: the officials' summary (weekly at "DAY HH:MM", daily at HH:MM or empty for
    # none; council time) goes to this chat (default: the operator chat); a spike alert when a
    # category or district gets more than ``spike_multiple`` times its usual hourly rate in the
    # last hour, and at least ``spike_min_count`` tickets.
    officials_chat_id: int | None = None
    summary_weekly_at: str = "mon 08:00"
    summary_daily_at: str = ""
    spike_multiple: float = Field(default=3.0, gt=1, le=100)
    spike_min_count: int = Field(default=5, ge=2, le=10000)

    # Media monitoring (feeds and watch terms: ``citybot media``): feeds are fetched every
    # this many minutes (within the hour: 1-60), each within this many seconds and up to this
    # many KiB (a bigger feed is cut: its newest items come first); the digest goes to the
    # officials' chat every morning at HH:MM (council time; empty: no digest).
    media_interval_minutes: int = Field(default=30, ge=1, le=60)
    media_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    media_max_kb: int = Field(default=2048, ge=16, le=65536)
    media_digest_at: str = "08:15"

    # Where staff work (comma-separated): ``web`` (the desk under /desk/) and ``telegram`` (the
    # operator chat). Unset: the web desk, plus the chat when CITYBOT_OPERATOR_CHAT_ID (or
    # CITYBOT_EDITORS_CHAT_ID) is set.
    staff_desks: Annotated[tuple[StaffDesk, ...], NoDecode] = ()
    # Web desk sessions end after this long without a request, and this long after sign-in
    # whatever happens.
    desk_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    desk_session_hours: int = Field(default=12, ge=1, le=24 * 30)
    # The reverse proxies (comma-separated addresses) whose X-Forwarded-For the desk believes:
    # behind Caddy on the same machine, 127.0.0.1. Unset: the peer's address is the client's
    # (a header anyone can send is never trusted by default).
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    # The personal data of tickets closed (or refused) longer ago than this many years is erased
    # every night, the way /forget erases it; 0 keeps everything (erasure by hand only).
    retention_years: int = Field(default=5, ge=0, le=100)

    @property
    def desks(self) -> frozenset[StaffDesk]:
        """The staff desks this process serves."""
        if self.staff_desks:
            return frozenset(self.staff_desks)
        # The chat desk also holds the news composer of an editors' chat.
        chats = (self.operator_chat_id, self.editors_chat_id)
        chat = {StaffDesk.TELEGRAM} if any(c is not None for c in chats) else set()
        return frozenset({StaffDesk.WEB, *chat})

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over https when the public address is https (behind the proxy)."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            items = [item.strip() for item in value.split(",") if item.strip()]
            for item in items:
                try:
                    ipaddress.ip_address(item)
                except ValueError:
                    message = f"must be comma-separated IP addresses, got {item!r}"
                    raise ValueError(message) from None
            return tuple(items)
        return value

    @field_validator("staff_desks", mode="before")
    @classmethod
    def _staff_desks(cls, value: Any) -> Any:
        if isinstance(value, str):
            items = [item.strip().lower() for item in value.split(",") if item.strip()]
            known = {desk.value for desk in StaffDesk}
            for item in items:
                if item not in known:
                    raise ValueError(f"must be comma-separated web, telegram; got {item!r}")
            return tuple(StaffDesk(item) for item in dict.fromkeys(items))
        return value

    @field_validator(
        "telegram_token",
        "viber_token",
        "public_url",
        "webhook_secret",
        "viber_avatar",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # An empty variable (``CITYBOT_VIBER_TOKEN=``) means "not configured", as in most tools.
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("operator_chat_id", "editors_chat_id", "officials_chat_id", mode="before")
    @classmethod
    def _empty_chat(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg://, "
                f"got {value.split('://')[0]!r}"
            )
        return value

    @field_validator("telegram_token")
    @classmethod
    def _telegram_token(cls, value: str | None) -> str | None:
        if value is not None and not _TELEGRAM_TOKEN.match(value):
            raise ValueError("is not a Telegram bot token (expected 123456:ABC… from @BotFather)")
        return value

    @field_validator("viber_token")
    @classmethod
    def _viber_token(cls, value: str | None) -> str | None:
        if value is not None and (len(value) < 8 or any(ch.isspace() for ch in value)):
            raise ValueError("is not a Viber auth token")
        return value

    @field_validator("telegram_api_url", "viber_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _http_url(value, allow_local_http=True)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _http_url(value, allow_local_http=True)

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and not _WEBHOOK_SECRET.match(value):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: str | None) -> str | None:
        if value is not None and not _METRICS_TOKEN.match(value):
            raise ValueError(
                f"must be at least {METRICS_TOKEN_MIN} printable ASCII characters without spaces "
                "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @field_validator("viber_name")
    @classmethod
    def _viber_name(cls, value: str) -> str:
        value = value.strip()
        if not value or len(value) > VIBER_NAME_MAX:
            raise ValueError(f"must be 1-{VIBER_NAME_MAX} characters (Viber's limit)")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            items = [item.strip() for item in value.split(",") if item.strip()]
            for item in items:
                if not item.isdigit():
                    raise ValueError(f"must be comma-separated Telegram user ids, got {item!r}")
            return tuple(int(item) for item in items)
        return value

    @field_validator("rss_feeds", mode="before")
    @classmethod
    def _rss_feeds(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        feeds: list[str] = []
        for item in value:
            url = str(item).strip()
            auto = url.lower().startswith("auto:")
            plain = url[len("auto:") :].strip() if auto else url
            feeds.append(("auto:" if auto else "") + _http_url(plain, allow_local_http=True))
        return tuple(feeds)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"is not a known time zone, got {value!r}") from None
        return value

    @field_validator("digest_daily_at")
    @classmethod
    def _digest_daily_at(cls, value: str) -> str:
        parse_daily_at(value)
        return value.strip()

    @field_validator("digest_weekly_at", "summary_weekly_at")
    @classmethod
    def _weekly_at(cls, value: str) -> str:
        parse_weekly_at(value)
        return value.strip()

    @field_validator("summary_daily_at", "media_digest_at")
    @classmethod
    def _summary_daily_at(cls, value: str) -> str:
        if value.strip():
            parse_daily_at(value)
        return value.strip()

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        parse_window(value)
        return value.strip()

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in ("uk", "en"):
            raise ValueError(f"must be uk or en, got {value!r}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def quiet(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours, self.zone)

    @property
    def viber_enabled(self) -> bool:
        return self.viber_token is not None


class _ExplicitSettings(Settings):
    """Settings from the given values only: neither the process environment nor a .env file."""

    # pydantic-settings' hook passes every source by keyword; only the given values are kept.
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],  # noqa: ARG003
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _describe(error: ValidationError) -> str:
    """Turn pydantic's report into one line naming each variable and what is wrong."""
    parts: list[str] = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["loc"]:
            variable = ENV_PREFIX + str(item["loc"][0]).upper()
            parts.append(f"{variable}: {message}")
        else:
            parts.append(message)
    return "; ".join(parts)


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: str | None = ".env"
) -> Settings:
    """Build the settings from ``environ`` (default: the environment) or raise SettingsError.

    Passing ``environ`` makes tests independent of the real environment and of any ``.env``.
    """
    try:
        if environ is None:
            return Settings(_env_file=env_file)  # type: ignore[call-arg]
        values: dict[str, Any] = {
            key.removeprefix(ENV_PREFIX).lower(): value
            for key, value in environ.items()
            if key.startswith(ENV_PREFIX)
        }
        return _ExplicitSettings(**values)
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


def require_channels(settings: Settings) -> None:
    """What ``citybot run`` needs beyond valid values (``migrate`` and ``staff`` need only the
    database)."""
    if not settings.telegram_token and not settings.viber_token:
        raise SettingsError(
            "CITYBOT_TELEGRAM_TOKEN or CITYBOT_VIBER_TOKEN: at least one channel must be configured"
        )
    if (
        settings.telegram_token
        and settings.telegram_mode is TelegramMode.WEBHOOK
        and not settings.public_url
    ):
        raise SettingsError("CITYBOT_PUBLIC_URL: required when CITYBOT_TELEGRAM_MODE=webhook")
    require_webhook_secret(settings)
    if settings.viber_token and not settings.public_url:
        raise SettingsError(
            "CITYBOT_PUBLIC_URL: required with CITYBOT_VIBER_TOKEN (Viber calls back a public "
            "https address)"
        )


def require_webhook_secret(settings: Settings) -> None:
    """Telegram's webhook proves an update comes from Telegram only by the secret it was given
    at ``setWebhook``: without one, anyone could post an update "from" an administrator."""
    if (
        settings.telegram_token
        and settings.telegram_mode is TelegramMode.WEBHOOK
        and not settings.webhook_secret
    ):
        raise SettingsError(
            "CITYBOT_WEBHOOK_SECRET: required when CITYBOT_TELEGRAM_MODE=webhook (Telegram "
            "signs each update with it; without it anyone could post updates)"
        )
    if (
        settings.telegram_token
        and settings.telegram_mode is TelegramMode.WEBHOOK
        and settings.webhook_secret
        and len(settings.webhook_secret) < WEBHOOK_SECRET_MIN
    ):
        # A short secret is guessed by trying: as good as none.
        raise SettingsError(
            f"CITYBOT_WEBHOOK_SECRET: at least {WEBHOOK_SECRET_MIN} characters in webhook mode "
            "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
